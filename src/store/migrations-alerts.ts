// Alerts (src/alerts, README "Alerts"): rules per org, webhooks, the alerts themselves with their
// history, and the delivery outbox. `alerts.open_key` is "{rule}|{subject}" while an alert is not
// closed and null after: its unique index keeps at most one open alert per rule and subject even
// when several server nodes evaluate at once (both backends allow many nulls in a unique index).
import type { Kysely } from 'kysely';
import type { Migration } from 'kysely/migration';

type AnyDb = Kysely<any>; // the schema as it was then, not today's types

export const alertsMigration: Migration = {
  async up(db: AnyDb) {
    await db.schema.createTable('alert_rules')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('org_id', 'text', (c) => c.notNull().references('orgs.id'))
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('kind', 'text', (c) => c.notNull())
      .addColumn('enabled', 'integer', (c) => c.notNull())
      .addColumn('critical', 'integer', (c) => c.notNull())
      .addColumn('location_ids', 'text')
      .addColumn('params', 'text', (c) => c.notNull())
      .addColumn('channels', 'text', (c) => c.notNull())
      .addColumn('quiet_hours', 'text')
      .addColumn('created_by', 'text')
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('updated_by', 'text')
      .addColumn('updated_at', 'bigint', (c) => c.notNull()).execute();
    await db.schema.createIndex('alert_rules_org').on('alert_rules').column('org_id').execute();
    await db.schema.createTable('alert_webhooks')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('org_id', 'text', (c) => c.notNull().references('orgs.id'))
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('url', 'text', (c) => c.notNull())
      .addColumn('secret', 'text', (c) => c.notNull())
      .addColumn('enabled', 'integer', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull()).execute();
    await db.schema.createIndex('alert_webhooks_org').on('alert_webhooks').column('org_id').execute();
    await db.schema.createTable('alerts')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('org_id', 'text', (c) => c.notNull().references('orgs.id'))
      .addColumn('rule_id', 'text', (c) => c.notNull().references('alert_rules.id'))
      .addColumn('kind', 'text', (c) => c.notNull())
      .addColumn('location_id', 'text')
      .addColumn('device_id', 'text')
      .addColumn('open_key', 'text', (c) => c.unique())
      .addColumn('state', 'text', (c) => c.notNull())
      .addColumn('opened_at', 'bigint', (c) => c.notNull())
      .addColumn('last_seen_at', 'bigint', (c) => c.notNull())
      .addColumn('value', 'double precision')
      .addColumn('peak', 'double precision')
      .addColumn('detail', 'text', (c) => c.notNull())
      .addColumn('link', 'text', (c) => c.notNull())
      .addColumn('acked_by', 'text')
      .addColumn('acked_at', 'bigint')
      .addColumn('closed_by', 'text')
      .addColumn('closed_at', 'bigint')
      .addColumn('close_reason', 'text').execute();
    await db.schema.createIndex('alerts_org_state').on('alerts').columns(['org_id', 'state', 'opened_at']).execute();
    await db.schema.createTable('alert_events')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('alert_id', 'text', (c) => c.notNull().references('alerts.id'))
      .addColumn('org_id', 'text', (c) => c.notNull())
      .addColumn('at', 'bigint', (c) => c.notNull())
      .addColumn('user_id', 'text')
      .addColumn('action', 'text', (c) => c.notNull())
      .addColumn('comment', 'text')
      .addColumn('detail', 'text').execute();
    await db.schema.createIndex('alert_events_alert').on('alert_events').columns(['alert_id', 'at']).execute();
    await db.schema.createTable('alert_outbox')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('org_id', 'text', (c) => c.notNull())
      .addColumn('alert_id', 'text', (c) => c.notNull())
      .addColumn('event', 'text', (c) => c.notNull())
      .addColumn('channel', 'text', (c) => c.notNull())
      .addColumn('target', 'text', (c) => c.notNull())
      .addColumn('lang', 'text', (c) => c.notNull())
      .addColumn('state', 'text', (c) => c.notNull())
      .addColumn('attempts', 'integer', (c) => c.notNull())
      .addColumn('next_at', 'bigint', (c) => c.notNull())
      .addColumn('last_error', 'text')
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('delivered_at', 'bigint').execute();
    await db.schema.createIndex('alert_outbox_due').on('alert_outbox').columns(['state', 'next_at']).execute();
    await db.schema.createIndex('alert_outbox_org').on('alert_outbox').columns(['org_id', 'state']).execute();
  },
};
