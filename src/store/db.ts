// Opens the one store: node:sqlite under DATA_DIR by default, PostgreSQL when DATABASE_URL says so.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { Kysely, PostgresDialect, sql } from 'kysely';
import { Migrator } from 'kysely/migration';
import pg from 'pg';
import { nodeSqliteDialect } from './sqlite-dialect.ts';
import { migrationProvider } from './migrations.ts';
import type { DB } from './schema.ts';

// bigint (int8) columns hold epoch milliseconds and counts: well inside 2^53, so plain numbers.
pg.types.setTypeParser(20, (v) => Number(v));
pg.types.setTypeParser(1700, (v) => Number(v));

export type Dialect = 'sqlite' | 'postgres';
export type Store = {
  db: Kysely<DB>;
  dialect: Dialect;
  /** The SQLite file, for read-only connections of workers; null on PostgreSQL. */
  sqlitePath: string | null;
  /** The PostgreSQL schema in use when not the default one. */
  pgSchema: string | null;
  /** PostgreSQL: how to open a dedicated connection to the same database and schema, outside the pool (LISTEN needs one); null on SQLite. */
  pgConnection: pg.ClientConfig | null;
  close(): Promise<void>;
};

export type StoreOptions = {
  databaseUrl?: string | undefined;
  dataDir?: string | undefined;
  /** PostgreSQL schema to use (tests isolate themselves this way); created if missing. */
  pgSchema?: string | undefined;
  /** SQLite file name under dataDir, or ':memory:'. */
  sqliteFile?: string | undefined;
  poolSize?: number | undefined;
};

export async function openStore(opts: StoreOptions = {}): Promise<Store> {
  if (opts.databaseUrl) {
    if (opts.pgSchema) {
      const admin = new pg.Client({ connectionString: opts.databaseUrl });
      await admin.connect();
      await admin.query(`create schema if not exists "${opts.pgSchema.replace(/"/g, '')}"`);
      await admin.end();
    }
    const pgConnection: pg.ClientConfig = {
      connectionString: opts.databaseUrl,
      ...(opts.pgSchema ? { options: `-c search_path=${opts.pgSchema}` } : {}),
    };
    // ≥ 2: migrateToLatest holds its lock on one connection while migrating on another.
    const pool = new pg.Pool({ ...pgConnection, max: Math.max(2, opts.poolSize ?? 10) });
    const db = new Kysely<DB>({ dialect: new PostgresDialect({ pool }) });
    return { db, dialect: 'postgres', sqlitePath: null, pgSchema: opts.pgSchema ?? null, pgConnection, close: () => db.destroy() };
  }
  const file = opts.sqliteFile ?? 'loyalty.db';
  let path = ':memory:';
  if (file !== ':memory:') {
    const dir = opts.dataDir ?? './data';
    mkdirSync(dir, { recursive: true });
    path = join(dir, file);
  }
  const raw = new DatabaseSync(path);
  // WAL + synchronous=FULL: a committed transaction survives power loss, which is what
  // "acknowledged means durably stored" requires; WAL keeps readers off the writer's back.
  raw.exec('pragma journal_mode = wal; pragma synchronous = full; pragma busy_timeout = 5000; pragma foreign_keys = on;');
  const db = new Kysely<DB>({ dialect: nodeSqliteDialect(raw) });
  return { db, dialect: 'sqlite', sqlitePath: path === ':memory:' ? null : path, pgSchema: null, pgConnection: null, close: () => db.destroy() };
}

/**
 * Schema changes on a PostgreSQL database shared by several instances (DATABASE_SCHEMA) take this
 * session-level advisory lock: Kysely's migrator reads the catalogue of every schema before its own
 * migration lock, and fails if another instance is creating or dropping tables at that moment.
 */
export const DDL_LOCK = 0x4c42_4444; // "LBDD"

export async function migrateToLatest(store: Store): Promise<void> {
  // The migration bookkeeping lives in the same schema, or Kysely would find another schema's tables.
  const migrator = new Migrator({ db: store.db, provider: migrationProvider, ...(store.pgSchema ? { migrationTableSchema: store.pgSchema } : {}) });
  const run = async (): Promise<void> => {
    const { error, results } = await migrator.migrateToLatest();
    for (const r of results ?? []) if (r.status === 'Error') throw new Error(`migration ${r.migrationName} failed`);
    if (error) throw error instanceof Error ? error : new Error(String(error));
  };
  if (store.dialect !== 'postgres') return run();
  // The lock is held on one pooled connection while the migrator works on others.
  await store.db.connection().execute(async (conn) => {
    await sql`select pg_advisory_lock(${DDL_LOCK})`.execute(conn);
    try { await run(); } finally { await sql`select pg_advisory_unlock(${DDL_LOCK})`.execute(conn); }
  });
}

/** True when the store has no organisation yet (the demo seeds only an empty store). */
export async function isEmpty(store: Store): Promise<boolean> {
  const row = await store.db.selectFrom('orgs').select(sql<number>`count(*)`.as('n')).executeTakeFirstOrThrow();
  return Number(row.n) === 0;
}
