// Migration 2026-11-23-004-fleet: provisioning (batches of unassigned devices, claim codes,
// revocable tokens, per-device settings) and fleet health (the last derived state of each device
// and the log of its transitions). Registered in migrations.ts.
import { sql, type Kysely } from 'kysely';
import type { Migration } from 'kysely/migration';

type AnyDb = Kysely<any>; // migrations describe the schema as it was then, not today's types

export const fleet: Migration = {
  async up(db: AnyDb) {
    // One column per statement: SQLite's ALTER TABLE adds a single column at a time.
    const add = (name: string, type: 'bigint' | 'text' | 'integer', build?: (c: any) => any) =>
      db.schema.alterTable('devices').addColumn(name, type, build ?? ((c) => c)).execute();
    // Null while the device waits to be claimed (bulk-created); devices registered with a placement
    // were placed when created.
    await add('claimed_at', 'bigint');
    await add('retired_at', 'bigint');
    // Per-device setting overrides (JSON; the defaults live in the code) and a counter bumped on
    // each change, so a device can tell whether what it holds is current.
    await add('settings', 'text', (c) => c.notNull().defaultTo('{}'));
    await add('settings_version', 'integer', (c) => c.notNull().defaultTo(0));
    // The fleet monitor's last derived state and since when: what a transition is measured against.
    await add('health_state', 'text');
    await add('health_since', 'bigint');
    await sql`update devices set claimed_at = created_at`.execute(db);

    await db.schema.createTable('device_batches')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('org_id', 'text', (c) => c.notNull().references('orgs.id'))
      .addColumn('kind', 'text', (c) => c.notNull())
      .addColumn('name_prefix', 'text', (c) => c.notNull())
      .addColumn('count', 'integer', (c) => c.notNull())
      .addColumn('claim_expires_at', 'bigint', (c) => c.notNull())
      .addColumn('created_by', 'text')
      .addColumn('created_at', 'bigint', (c) => c.notNull()).execute();
    await db.schema.createIndex('device_batches_org').on('device_batches').columns(['org_id', 'created_at']).execute();

    // Claim codes: printed on the device's label, so not a secret by themselves — claiming needs an
    // API token allowed to place devices in the owning organisation. Single use, expiring.
    await db.schema.createTable('device_claims')
      .addColumn('code', 'text', (c) => c.primaryKey())
      .addColumn('device_id', 'text', (c) => c.notNull().references('devices.id'))
      .addColumn('org_id', 'text', (c) => c.notNull().references('orgs.id'))
      .addColumn('batch_id', 'text', (c) => c.references('device_batches.id'))
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('expires_at', 'bigint', (c) => c.notNull())
      .addColumn('used_at', 'bigint')
      .addColumn('used_by', 'text').execute();
    await db.schema.createIndex('device_claims_device').on('device_claims').column('device_id').execute();
    await db.schema.createIndex('device_claims_batch').on('device_claims').column('batch_id').execute();

    await db.schema.createTable('device_events')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('device_id', 'text', (c) => c.notNull().references('devices.id'))
      .addColumn('org_id', 'text', (c) => c.notNull().references('orgs.id'))
      .addColumn('state', 'text', (c) => c.notNull())
      .addColumn('previous', 'text')
      .addColumn('at', 'bigint', (c) => c.notNull())
      .addColumn('detail', 'text')
      .addColumn('created_at', 'bigint', (c) => c.notNull()).execute();
    await db.schema.createIndex('device_events_org_at').on('device_events').columns(['org_id', 'at']).execute();
    await db.schema.createIndex('device_events_device_at').on('device_events').columns(['device_id', 'at']).execute();
  },
};
