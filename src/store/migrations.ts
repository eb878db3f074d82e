// Schema history, one entry per change, run by Kysely's Migrator on both backends.
import { sql, SqliteAdapter, type Kysely } from 'kysely';
import type { Migration, MigrationProvider } from 'kysely/migration';
import { fleet } from './migrations-fleet.ts';
import { shiftsMigration } from './migrations-shifts.ts';
import { misuseMigration } from './migrations-misuse.ts';
import { misuseCameraMigration } from './migrations-misuse-camera.ts';
import { manageMigration } from './migrations-manage.ts';
import { accountsMigration } from './migrations-accounts.ts';
import { alertsMigration } from './migrations-alerts.ts';
import { reportSchedulesMigration } from './migrations-reports.ts';
import { rollupIndexMigration } from './migrations-perf.ts';

type AnyDb = Kysely<any>; // migrations describe the schema as it was then, not today's types

const core: Migration = {
  async up(db: AnyDb) {
    const isSqlite = db.getExecutor().adapter instanceof SqliteAdapter;
    const ts = (c: any) => c.notNull();
    await db.schema.createTable('partners')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', ts).execute();
    await db.schema.createTable('orgs')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('partner_id', 'text', (c) => c.references('partners.id'))
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('settings', 'text', (c) => c.notNull().defaultTo('{}'))
      .addColumn('created_at', 'bigint', ts).execute();
    await db.schema.createTable('users')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('org_id', 'text', (c) => c.references('orgs.id'))
      .addColumn('partner_id', 'text', (c) => c.references('partners.id'))
      .addColumn('email', 'text', (c) => c.notNull().unique())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('role', 'text', (c) => c.notNull())
      .addColumn('password_hash', 'text')
      .addColumn('location_ids', 'text')
      .addColumn('created_at', 'bigint', ts).execute();
    await db.schema.createTable('api_tokens')
      .addColumn('token_hash', 'text', (c) => c.primaryKey())
      .addColumn('user_id', 'text', (c) => c.notNull().references('users.id'))
      .addColumn('label', 'text')
      .addColumn('created_at', 'bigint', ts)
      .addColumn('revoked_at', 'bigint').execute();
    await db.schema.createTable('locations')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('org_id', 'text', (c) => c.notNull().references('orgs.id'))
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('timezone', 'text', (c) => c.notNull())
      .addColumn('opening_hours', 'text')
      .addColumn('created_at', 'bigint', ts).execute();
    await db.schema.createIndex('locations_org').on('locations').column('org_id').execute();
    await db.schema.createTable('touchpoints')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('org_id', 'text', (c) => c.notNull().references('orgs.id'))
      .addColumn('location_id', 'text', (c) => c.references('locations.id'))
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('channel', 'text')
      .addColumn('created_at', 'bigint', ts).execute();
    await db.schema.createIndex('touchpoints_org').on('touchpoints').column('org_id').execute();
    await db.schema.createTable('employees')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('org_id', 'text', (c) => c.notNull().references('orgs.id'))
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', ts).execute();
    await db.schema.createIndex('employees_org').on('employees').column('org_id').execute();
    await db.schema.createTable('devices')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('org_id', 'text', (c) => c.notNull().references('orgs.id'))
      .addColumn('kind', 'text', (c) => c.notNull())
      .addColumn('name', 'text')
      .addColumn('token_hash', 'text', (c) => c.notNull().unique())
      .addColumn('created_at', 'bigint', ts)
      .addColumn('last_seen_at', 'bigint')
      .addColumn('battery', 'integer')
      .addColumn('rssi', 'integer')
      .addColumn('firmware', 'text')
      .addColumn('buffered', 'integer').execute();
    await db.schema.createIndex('devices_org').on('devices').column('org_id').execute();
    await db.schema.createTable('device_assignments')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('device_id', 'text', (c) => c.notNull().references('devices.id'))
      .addColumn('org_id', 'text', (c) => c.notNull().references('orgs.id'))
      .addColumn('location_id', 'text', (c) => c.notNull().references('locations.id'))
      .addColumn('touchpoint_id', 'text', (c) => c.references('touchpoints.id'))
      .addColumn('employee_id', 'text', (c) => c.references('employees.id'))
      .addColumn('valid_from', 'bigint', (c) => c.notNull())
      .addColumn('valid_to', 'bigint')
      .addColumn('created_at', 'bigint', ts).execute();
    await db.schema.createIndex('device_assignments_device').on('device_assignments').columns(['device_id', 'valid_from']).execute();
    // Hot tables carry no foreign keys: ingest resolves every reference itself, and the checks
    // would cost on each of millions of inserts.
    await db.schema.createTable('votes')
      .addColumn('device_id', 'text', (c) => c.notNull())
      .addColumn('event_id', 'text', (c) => c.notNull())
      .addColumn('org_id', 'text', (c) => c.notNull())
      .addColumn('ts', 'bigint', (c) => c.notNull())
      .addColumn('device_ts', 'bigint', (c) => c.notNull())
      .addColumn('received_at', 'bigint', (c) => c.notNull())
      .addColumn('clamped', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('button', 'text', (c) => c.notNull())
      .addColumn('reason', 'text')
      .addColumn('location_id', 'text', (c) => c.notNull())
      .addColumn('touchpoint_id', 'text')
      .addColumn('employee_id', 'text')
      .addColumn('local_day', 'text', (c) => c.notNull())
      .addColumn('local_hour', 'integer', (c) => c.notNull())
      .addColumn('flags', 'text')
      .addPrimaryKeyConstraint('votes_pk', ['device_id', 'event_id']).execute();
    await db.schema.createIndex('votes_org_ts').on('votes').columns(['org_id', 'ts']).execute();
    let rollups = db.schema.createTable('rollups')
      .addColumn('org_id', 'text', (c) => c.notNull())
      .addColumn('cube', 'text', (c) => c.notNull())
      .addColumn('grain', 'text', (c) => c.notNull())
      .addColumn('bucket', 'text', (c) => c.notNull())
      .addColumn('location_id', 'text', (c) => c.notNull())
      .addColumn('touchpoint_id', 'text', (c) => c.notNull())
      .addColumn('employee_id', 'text', (c) => c.notNull())
      .addColumn('device_id', 'text', (c) => c.notNull())
      .addColumn('satisfied', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('dissatisfied', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('flagged', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('visitors', 'integer', (c) => c.notNull().defaultTo(0))
      .addPrimaryKeyConstraint('rollups_pk', ['org_id', 'cube', 'grain', 'bucket', 'location_id', 'touchpoint_id', 'employee_id', 'device_id']);
    // Clustered by the key in SQLite, so a range of buckets is one contiguous read.
    if (isSqlite) rollups = rollups.modifyEnd(sql`without rowid`);
    await rollups.execute();
  },
};

// Heartbeats report battery and signal as any number (PROTOCOL §2: 0..100, dBm); integer
// columns refused 87.5 on PostgreSQL. SQLite's column affinity already kept the fraction.
const fractionalHealth: Migration = {
  async up(db: AnyDb) {
    if (db.getExecutor().adapter instanceof SqliteAdapter) return;
    await sql`alter table devices alter column battery type double precision, alter column rssi type double precision`.execute(db);
  },
};

// Visitor counters (PROTOCOL §2 visitors): kept per event for idempotency and for rebuilding the
// `visitors` column of the rollups, which ingest maintains in the same transaction.
const visitorEvents: Migration = {
  async up(db: AnyDb) {
    await db.schema.createTable('visitor_events')
      .addColumn('device_id', 'text', (c) => c.notNull())
      .addColumn('event_id', 'text', (c) => c.notNull())
      .addColumn('org_id', 'text', (c) => c.notNull())
      .addColumn('ts', 'bigint', (c) => c.notNull())
      .addColumn('device_ts', 'bigint', (c) => c.notNull())
      .addColumn('received_at', 'bigint', (c) => c.notNull())
      .addColumn('clamped', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('in_count', 'integer', (c) => c.notNull())
      .addColumn('out_count', 'integer')
      .addColumn('location_id', 'text', (c) => c.notNull())
      .addColumn('touchpoint_id', 'text')
      .addColumn('local_day', 'text', (c) => c.notNull())
      .addColumn('local_hour', 'integer', (c) => c.notNull())
      .addPrimaryKeyConstraint('visitor_events_pk', ['device_id', 'event_id']).execute();
    await db.schema.createIndex('visitor_events_org_ts').on('visitor_events').columns(['org_id', 'ts']).execute();
  },
};

export const migrations: Record<string, Migration> = {
  '2026-11-23-001-core': core,
  '2026-11-23-002-fractional-health': fractionalHealth,
  '2026-11-23-003-visitor-events': visitorEvents,
  '2026-11-23-004-fleet': fleet,
  '2026-11-23-005-shifts': shiftsMigration,
  '2026-11-23-006-misuse': misuseMigration,
  '2026-11-23-007-accounts': accountsMigration,
  '2026-11-23-008-manage': manageMigration,
  '2026-11-23-009-alerts': alertsMigration,
  '2026-11-23-010-report-schedules': reportSchedulesMigration,
  '2026-11-23-011-misuse-camera': misuseCameraMigration,
  '2026-11-23-012-rollup-index': rollupIndexMigration,
};

export const migrationProvider: MigrationProvider = { getMigrations: async () => migrations };
