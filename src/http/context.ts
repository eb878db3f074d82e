import type { FastifyInstance, FastifyBaseLogger, RawServerDefault, RawRequestDefaultExpression, RawReplyDefaultExpression } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Store } from '../store/db.ts';
import type { Refs } from '../store/refs.ts';
import type { GroupCommitter } from '../ingest/committer.ts';
import type { DeviceBus } from '../devices/events.ts';
import type { DestinationPolicy } from '../alerts/destination.ts';

/** What every route and transport needs, built once per server. */
export type AppContext = { store: Store; refs: Refs; committer: GroupCommitter; bus: DeviceBus; /** where alert webhooks may point */ webhooks: DestinationPolicy };

export type App = FastifyInstance<RawServerDefault, RawRequestDefaultExpression, RawReplyDefaultExpression, FastifyBaseLogger, TypeBoxTypeProvider>;
