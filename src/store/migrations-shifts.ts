// Shifts (src/shifts): who works at a touchpoint from when to when. Ingest reads them by touchpoint
// and time to attribute a press at a panel without its own employee; the schedule pages read them
// by employee and by organisation.
import type { Kysely } from 'kysely';
import type { Migration } from 'kysely/migration';

type AnyDb = Kysely<any>; // the schema as it was then, not today's types

export const shiftsMigration: Migration = {
  async up(db: AnyDb) {
    await db.schema.createTable('shifts')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('org_id', 'text', (c) => c.notNull().references('orgs.id'))
      .addColumn('employee_id', 'text', (c) => c.notNull().references('employees.id'))
      .addColumn('touchpoint_id', 'text', (c) => c.notNull().references('touchpoints.id'))
      .addColumn('starts_at', 'bigint', (c) => c.notNull())
      .addColumn('ends_at', 'bigint', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull()).execute();
    await db.schema.createIndex('shifts_touchpoint').on('shifts').columns(['touchpoint_id', 'starts_at']).execute();
    await db.schema.createIndex('shifts_employee').on('shifts').columns(['employee_id', 'starts_at']).execute();
    await db.schema.createIndex('shifts_org').on('shifts').columns(['org_id', 'starts_at']).execute();
  },
};
