// Fake-press defence (src/misuse): the review state of a flagged vote, the rules' verdict kept
// when a reviewer overrides it, an index for reading one device's presses by time (the rules read
// a window around each new press), and the audit log of review decisions.
import type { Kysely } from 'kysely';
import type { Migration } from 'kysely/migration';

type AnyDb = Kysely<any>; // the schema as it was then, not today's types

export const misuseMigration: Migration = {
  async up(db: AnyDb) {
    await db.schema.alterTable('votes').addColumn('review', 'text').execute();
    await db.schema.alterTable('votes').addColumn('rule_flags', 'text').execute();
    await db.schema.createIndex('votes_device_ts').on('votes').columns(['device_id', 'ts']).execute();
    await db.schema.createTable('misuse_audit')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('org_id', 'text', (c) => c.notNull().references('orgs.id'))
      .addColumn('user_id', 'text', (c) => c.notNull())
      .addColumn('at', 'bigint', (c) => c.notNull())
      .addColumn('action', 'text', (c) => c.notNull())
      .addColumn('reason', 'text', (c) => c.notNull())
      .addColumn('scope', 'text', (c) => c.notNull())
      .addColumn('device_id', 'text', (c) => c.notNull())
      .addColumn('votes', 'integer', (c) => c.notNull())
      .addColumn('before', 'text', (c) => c.notNull())
      .addColumn('after', 'text', (c) => c.notNull()).execute();
    await db.schema.createIndex('misuse_audit_org_at').on('misuse_audit').columns(['org_id', 'at']).execute();
  },
};
