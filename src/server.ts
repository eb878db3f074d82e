// Wires store, ingest and HTTP together; used by `loyalty start` and by tests.
import type { FastifyBaseLogger } from 'fastify';
import { openStore, migrateToLatest, type Store, type StoreOptions } from './store/db.ts';
import { Refs } from './store/refs.ts';
import { GroupCommitter } from './ingest/committer.ts';
import { DeviceBus } from './devices/events.ts';
import { buildApp } from './http/app.ts';
import type { App, AppContext } from './http/context.ts';

export type Server = { app: App; ctx: AppContext; url: string; close(): Promise<void> };

export async function startServer(o: {
  store?: Store; storeOptions?: StoreOptions; port?: number; host?: string; logger?: FastifyBaseLogger;
} = {}): Promise<Server> {
  const store = o.store ?? await openStore(o.storeOptions);
  if (!o.store) await migrateToLatest(store);
  const refs = new Refs(store);
  const committer = new GroupCommitter(store);
  const ctx: AppContext = { store, refs, committer, bus: new DeviceBus() };
  const app = await buildApp(ctx, { logger: o.logger });
  const address = await app.listen({ port: o.port ?? 0, host: o.host ?? '127.0.0.1' });
  return {
    app, ctx, url: address.replace('[::1]', '127.0.0.1'),
    async close() {
      await app.close();
      if (!o.store) await store.close();
    },
  };
}
