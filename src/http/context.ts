import type { FastifyInstance, FastifyBaseLogger, RawServerDefault, RawRequestDefaultExpression, RawReplyDefaultExpression } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Store } from '../store/db.ts';
import type { Refs } from '../store/refs.ts';
import type { GroupCommitter } from '../ingest/committer.ts';

/** What every route needs, built once per server. */
export type AppContext = { store: Store; refs: Refs; committer: GroupCommitter };

export type App = FastifyInstance<RawServerDefault, RawRequestDefaultExpression, RawReplyDefaultExpression, FastifyBaseLogger, TypeBoxTypeProvider>;
