// Camera events (PROTOCOL §2 camera, issue 6): what a camera at a touchpoint saw — the number of
// people in front of it at an instant, and a clip link as evidence. Kept per event for idempotency
// and for the `camera` misuse rule, which reads them by place and time.
import type { Kysely } from 'kysely';
import type { Migration } from 'kysely/migration';

type AnyDb = Kysely<any>; // the schema as it was then, not today's types

export const misuseCameraMigration: Migration = {
  async up(db: AnyDb) {
    await db.schema.createTable('camera_events')
      .addColumn('device_id', 'text', (c) => c.notNull())
      .addColumn('event_id', 'text', (c) => c.notNull())
      .addColumn('org_id', 'text', (c) => c.notNull())
      .addColumn('ts', 'bigint', (c) => c.notNull())
      .addColumn('device_ts', 'bigint', (c) => c.notNull())
      .addColumn('received_at', 'bigint', (c) => c.notNull())
      .addColumn('clamped', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('people', 'integer', (c) => c.notNull())
      .addColumn('clip', 'text')
      .addColumn('location_id', 'text', (c) => c.notNull())
      .addColumn('touchpoint_id', 'text')
      .addColumn('local_day', 'text', (c) => c.notNull())
      .addColumn('local_hour', 'integer', (c) => c.notNull())
      .addPrimaryKeyConstraint('camera_events_pk', ['device_id', 'event_id']).execute();
    // The camera rule reads one place's events around a press.
    await db.schema.createIndex('camera_events_loc_ts').on('camera_events').columns(['location_id', 'ts']).execute();
    // above_visitors reads a location's visitor counts and presses of one local hour.
    await db.schema.createIndex('visitor_events_loc_ts').on('visitor_events').columns(['location_id', 'ts']).execute();
    await db.schema.createIndex('votes_loc_ts').on('votes').columns(['location_id', 'ts']).execute();
  },
};
