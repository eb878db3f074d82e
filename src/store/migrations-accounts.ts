// Accounts (src/accounts): browser sessions, invites and setup links, revocable wall links, an
// audit of access decisions, and on existing tables a user's `disabled_at` and an API token's id
// and last use (so a user can list and revoke their own tokens). Secrets are stored as hashes only.
import { sql, type Kysely } from 'kysely';
import type { Migration } from 'kysely/migration';
import { newId } from '../domain/ids.ts';

type AnyDb = Kysely<any>; // the schema as it was then, not today's types

export const accountsMigration: Migration = {
  async up(db: AnyDb) {
    await db.schema.alterTable('users').addColumn('disabled_at', 'bigint').execute();
    await db.schema.alterTable('api_tokens').addColumn('id', 'text').execute();
    await db.schema.alterTable('api_tokens').addColumn('last_used_at', 'bigint').execute();
    // Existing tokens get an id so they can be listed and revoked like new ones.
    const old = await db.selectFrom('api_tokens').select('token_hash').where('id', 'is', null).execute();
    for (const t of old) await db.updateTable('api_tokens').set({ id: newId('tok') }).where('token_hash', '=', t.token_hash).execute();
    await db.schema.createIndex('api_tokens_id').on('api_tokens').column('id').unique().execute();
    await db.schema.createIndex('api_tokens_user').on('api_tokens').column('user_id').execute();

    await db.schema.createTable('sessions')
      .addColumn('id_hash', 'text', (c) => c.primaryKey())
      .addColumn('user_id', 'text', (c) => c.notNull().references('users.id'))
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('last_seen_at', 'bigint', (c) => c.notNull())
      .addColumn('expires_at', 'bigint', (c) => c.notNull())
      .addColumn('revoked_at', 'bigint').execute();
    await db.schema.createIndex('sessions_user').on('sessions').column('user_id').execute();

    // kind 'invite' (org_id, email, role set by the inviter) or 'setup' (the first instance admin).
    await db.schema.createTable('invites')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('secret_hash', 'text', (c) => c.notNull().unique())
      .addColumn('kind', 'text', (c) => c.notNull())
      .addColumn('org_id', 'text', (c) => c.references('orgs.id'))
      .addColumn('email', 'text')
      .addColumn('role', 'text', (c) => c.notNull())
      .addColumn('location_ids', 'text')
      .addColumn('created_by', 'text')
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('expires_at', 'bigint')
      .addColumn('accepted_at', 'bigint')
      .addColumn('accepted_by', 'text')
      .addColumn('revoked_at', 'bigint').execute();
    await db.schema.createIndex('invites_org').on('invites').columns(['org_id', 'created_at']).execute();

    await db.schema.createTable('wall_links')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('secret_hash', 'text', (c) => c.notNull().unique())
      .addColumn('org_id', 'text', (c) => c.notNull().references('orgs.id'))
      .addColumn('label', 'text', (c) => c.notNull())
      .addColumn('location_ids', 'text')
      .addColumn('created_by', 'text')
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('revoked_at', 'bigint').execute();
    await db.schema.createIndex('wall_links_org').on('wall_links').columns(['org_id', 'created_at']).execute();

    await db.schema.createTable('access_audit')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('org_id', 'text')
      .addColumn('actor_id', 'text')
      .addColumn('at', 'bigint', (c) => c.notNull())
      .addColumn('action', 'text', (c) => c.notNull())
      .addColumn('target', 'text', (c) => c.notNull())
      .addColumn('detail', 'text', (c) => c.notNull().defaultTo(sql`'{}'`)).execute();
    await db.schema.createIndex('access_audit_org').on('access_audit').columns(['org_id', 'at']).execute();
  },
};
