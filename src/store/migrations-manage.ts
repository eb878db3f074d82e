// Management pages (src/orgs): locations and touchpoints are archived and employees deactivated
// instead of deleted, so every vote keeps a row to name it; each change of the org structure is
// audited (who, when, what before and after, why).
import type { Kysely } from 'kysely';
import type { Migration } from 'kysely/migration';

type AnyDb = Kysely<any>; // the schema as it was then, not today's types

export const manageMigration: Migration = {
  async up(db: AnyDb) {
    for (const table of ['locations', 'touchpoints', 'employees']) {
      await db.schema.alterTable(table).addColumn('archived_at', 'bigint').execute();
    }
    await db.schema.createTable('org_audit')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('org_id', 'text', (c) => c.notNull().references('orgs.id'))
      .addColumn('user_id', 'text')
      .addColumn('at', 'bigint', (c) => c.notNull())
      .addColumn('entity', 'text', (c) => c.notNull())
      .addColumn('entity_id', 'text', (c) => c.notNull())
      .addColumn('action', 'text', (c) => c.notNull())
      .addColumn('reason', 'text')
      .addColumn('before', 'text')
      .addColumn('after', 'text').execute();
    await db.schema.createIndex('org_audit_org').on('org_audit').columns(['org_id', 'at']).execute();
  },
};
