// Scheduled email reports (src/reports/schedules.ts): what each user wants mailed and when, and a
// log of every delivery. (schedule_id, period_from) is unique, so two nodes can never both create —
// and so send — the same period's mail; a claim lease on the schedule keeps them from racing.
import type { Kysely } from 'kysely';
import type { Migration } from 'kysely/migration';

type AnyDb = Kysely<any>; // the schema as it was then, not today's types

export const reportSchedulesMigration: Migration = {
  async up(db: AnyDb) {
    await db.schema.createTable('report_schedules')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('org_id', 'text', (c) => c.notNull().references('orgs.id'))
      .addColumn('user_id', 'text', (c) => c.notNull().references('users.id'))
      .addColumn('frequency', 'text', (c) => c.notNull())
      .addColumn('report', 'text', (c) => c.notNull())
      .addColumn('location_ids', 'text') // JSON array; null = every location the user may see
      .addColumn('lang', 'text', (c) => c.notNull())
      .addColumn('timezone', 'text', (c) => c.notNull())
      .addColumn('send_hour', 'integer', (c) => c.notNull())
      .addColumn('next_run_at', 'bigint', (c) => c.notNull())
      .addColumn('lease_until', 'bigint')
      .addColumn('lease_owner', 'text')
      .addColumn('created_at', 'bigint', (c) => c.notNull()).execute();
    await db.schema.createIndex('report_schedules_due').on('report_schedules').columns(['next_run_at']).execute();
    await db.schema.createIndex('report_schedules_org').on('report_schedules').columns(['org_id', 'user_id']).execute();
    await db.schema.createTable('report_deliveries')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('schedule_id', 'text', (c) => c.notNull().references('report_schedules.id').onDelete('cascade'))
      .addColumn('period_from', 'text', (c) => c.notNull())
      .addColumn('period_to', 'text', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull()) // pending | sent | failed (failed stays due)
      .addColumn('attempts', 'integer', (c) => c.notNull())
      .addColumn('last_error', 'text')
      .addColumn('sent_at', 'bigint')
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addUniqueConstraint('report_deliveries_once', ['schedule_id', 'period_from']).execute();
  },
};
