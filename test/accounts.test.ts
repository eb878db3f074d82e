// Accounts and access (README "Accounts and access"): cookie sessions and their CSRF rule, own API
// tokens, invites, users of an org (demote, disable), the first admin's setup link, and wall links.
import { it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe } from 'node:test';
import { Api, cookieFrom, eachBackend } from './harness.ts';
import { ABSOLUTE_MS, IDLE_MS } from '../src/accounts/sessions.ts';
import { createFirstAdmin, createSetupLink, needsFirstAdmin } from '../src/accounts/invites.ts';
import { mayGrant } from '../src/accounts/accounts.ts';
import { hashSecret } from '../src/domain/ids.ts';

const TZ = 'Asia/Kolkata'; // +05:30: "today" there differs from UTC's for 5½ hours a day

eachBackend('accounts', (ctx) => {
  let api: Api;
  let orgId: string;
  let locs: string[];
  let devTokens: string[];
  let admin: { id: string; email: string; password: string; token: string };

  before(async () => {
    api = await Api.start(ctx().store);
    orgId = (await api.ok('POST', '/api/v1/orgs', { name: 'Accounts café' }, 201)).id;
    locs = [];
    devTokens = [];
    for (const name of ['North', 'South']) {
      const l = (await api.ok('POST', `/api/v1/orgs/${orgId}/locations`, { name, timezone: TZ }, 201)).id;
      locs.push(l);
      devTokens.push((await api.ok('POST', `/api/v1/orgs/${orgId}/devices`, { kind: 'panel', locationId: l }, 201)).token);
    }
    admin = await api.orgUser(orgId, 'org-admin');
  });
  after(async () => { await api?.close(); });

  const store = () => ctx().store;

  it('signs in with a cookie: HttpOnly, SameSite=Lax, Path=/, only its hash stored; /auth/me; sign-out revokes it on the server', async () => {
    const r = await api.call('POST', '/api/v1/auth/session', { email: admin.email.toUpperCase(), password: admin.password }, null, { 'x-loyalty-csrf': '1' });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(r.body.user, { id: admin.id, email: admin.email, name: 'org-admin', role: 'org-admin', orgId, partnerId: null, locationIds: null });
    const set = r.headers.getSetCookie()[0]!;
    assert.match(set, /^lb_session=lbs_[\w-]{43}; /);
    for (const attr of ['Path=/', 'HttpOnly', 'SameSite=Lax', `Max-Age=${ABSOLUTE_MS / 1000}`]) assert.ok(set.includes(attr), `${attr} in ${set}`);
    assert.ok(!set.includes('Secure'), 'plain http: not Secure');
    const cookie = cookieFrom(r.headers);
    const id = cookie.split('=')[1]!;
    const rows = await store().db.selectFrom('sessions').select('id_hash').where('user_id', '=', admin.id).execute();
    assert.ok(rows.some((x) => x.id_hash === hashSecret(id)) && rows.every((x) => x.id_hash !== id), 'only the hash is stored');
    assert.equal((await api.asBrowser('GET', '/api/v1/auth/me', cookie)).body.email, admin.email);
    // Behind an https proxy the cookie is Secure.
    const s = await api.call('POST', '/api/v1/auth/session', { email: admin.email, password: admin.password }, null, { 'x-loyalty-csrf': '1', 'x-forwarded-proto': 'https' });
    assert.ok(s.headers.getSetCookie()[0]!.includes('; Secure'));
    // Sign-out: the same cookie, replayed, is refused.
    const out = await api.asBrowser('DELETE', '/api/v1/auth/session', cookie);
    assert.equal(out.status, 204);
    assert.match(out.headers.getSetCookie()[0]!, /^lb_session=; .*Max-Age=0/);
    const again = await api.asBrowser('GET', '/api/v1/auth/me', cookie);
    assert.equal(again.status, 401);
    assert.equal(again.body.error.code, 'unauthorized');
  });

  it('refuses malformed sign-ins naming the field, and creates no session', async () => {
    const before = (await store().db.selectFrom('sessions').select('id_hash').execute()).length;
    for (const [body, field] of [[{}, 'email'], [{ email: admin.email }, 'password'], [{ email: 'nope', password: 'x' }, 'email'], [{ email: admin.email, password: '' }, 'password'], [{ email: admin.email, password: 7 }, 'password']] as Array<[unknown, string]>) {
      const r = await api.call('POST', '/api/v1/auth/session', body, null, { 'x-loyalty-csrf': '1' });
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.equal(r.body.error.field, field, JSON.stringify(r.body));
      assert.equal(r.headers.getSetCookie().length, 0);
    }
    assert.equal((await store().db.selectFrom('sessions').select('id_hash').execute()).length, before);
    for (const path of [`/api/v1/wall/${'x'.repeat(101)}`, `/api/v1/invites/${'x'.repeat(101)}`, '/api/v1/wall/lbw_unknown', '/api/v1/setup/lbi_unknown']) {
      const r = await api.call('GET', path, undefined, null);
      assert.ok([400, 404].includes(r.status), `${path} → ${r.status}`);
      assert.equal(typeof r.body.error.code, 'string');
    }
  });

  it('ends a session after the idle time and after the absolute lifetime', async () => {
    const idle = await api.session(admin.email, admin.password);
    const absolute = await api.session(admin.email, admin.password);
    const now = Date.now();
    await store().db.updateTable('sessions').set({ last_seen_at: now - IDLE_MS - 1000 }).where('id_hash', '=', hashSecret(idle.split('=')[1]!)).execute();
    await store().db.updateTable('sessions').set({ expires_at: now - 1 }).where('id_hash', '=', hashSecret(absolute.split('=')[1]!)).execute();
    assert.equal((await api.asBrowser('GET', '/api/v1/auth/me', idle)).status, 401);
    assert.equal((await api.asBrowser('GET', '/api/v1/auth/me', absolute)).status, 401);
  });

  it('keeps the lockout: five wrong passwords lock the email for a minute, on both sign-in routes', async () => {
    const victim = await api.orgUser(orgId, 'viewer');
    for (let i = 0; i < 5; i++) {
      const r = await api.call('POST', '/api/v1/auth/session', { email: victim.email, password: `wrong ${i}` }, null, { 'x-loyalty-csrf': '1' });
      assert.equal(r.status, 401);
      assert.equal(r.body.error.code, 'invalid_credentials');
    }
    const locked = await api.call('POST', '/api/v1/auth/session', { email: victim.email, password: victim.password }, null, { 'x-loyalty-csrf': '1' });
    assert.equal(locked.status, 429);
    assert.ok(Number(locked.headers.get('retry-after')) > 0);
    assert.equal((await api.call('POST', '/api/v1/auth/token', { email: victim.email, password: victim.password }, null)).status, 429);
  });

  it('CSRF: a state-changing request signed in by cookie must be same-origin and carry X-Loyalty-CSRF; bearer requests need neither', async () => {
    const cookie = await api.session(admin.email, admin.password);
    const body = { label: 'csrf probe' };
    const before = (await api.ok('GET', '/api/v1/auth/tokens', undefined, 200, admin.token)).rows.length;
    const refused: Array<[string, Record<string, string>]> = [
      ['no CSRF header', { cookie }],
      ['another Origin', { cookie, origin: 'https://evil.example', 'x-loyalty-csrf': '1' }],
      ['Origin null', { cookie, origin: 'null', 'x-loyalty-csrf': '1' }],
      ['Sec-Fetch-Site cross-site', { cookie, 'sec-fetch-site': 'cross-site', 'x-loyalty-csrf': '1' }],
      ['Sec-Fetch-Site same-site', { cookie, 'sec-fetch-site': 'same-site', 'x-loyalty-csrf': '1' }],
    ];
    for (const [what, headers] of refused) {
      const r = await api.call('POST', '/api/v1/auth/tokens', body, null, headers);
      assert.equal(r.status, 403, `${what}: ${r.status} ${JSON.stringify(r.body)}`);
      assert.equal(r.body.error.code, 'forbidden');
    }
    // Reading needs no header (a GET changes nothing).
    assert.equal((await api.call('GET', '/api/v1/auth/tokens', undefined, null, { cookie })).status, 200);
    // Sign-in itself is same-origin only (no login CSRF).
    assert.equal((await api.call('POST', '/api/v1/auth/session', { email: admin.email, password: admin.password }, null, { origin: 'https://evil.example', 'x-loyalty-csrf': '1' })).status, 403);
    assert.equal((await api.call('POST', '/api/v1/auth/session', { email: admin.email, password: admin.password }, null)).status, 403);
    assert.equal((await api.ok('GET', '/api/v1/auth/tokens', undefined, 200, admin.token)).rows.length, before, 'nothing was created');
    // The same request from our page, and by bearer token from a script, work.
    assert.equal((await api.asBrowser('POST', '/api/v1/auth/tokens', cookie, body)).status, 201);
    assert.equal((await api.call('POST', '/api/v1/auth/tokens', body, admin.token, { origin: 'https://evil.example' })).status, 201);
    // A request with an Authorization header is judged by it alone: a bad token with a good cookie is 401.
    assert.equal((await api.call('GET', '/api/v1/auth/me', undefined, 'lbt_nope', { cookie })).status, 401);
  });

  it('API tokens: the secret once, listed by label with last use, revoked at once; only my own', async () => {
    const me = await api.orgUser(orgId, 'viewer');
    const created = await api.ok('POST', '/api/v1/auth/tokens', { label: 'nightly export' }, 201, me.token);
    assert.match(created.token, /^lbt_/);
    assert.equal(created.lastUsedAt, null);
    await api.ok('GET', `/api/v1/orgs/${orgId}`, undefined, 200, created.token);
    const list = (await api.ok('GET', '/api/v1/auth/tokens', undefined, 200, me.token)).rows;
    const row = list.find((t: any) => t.id === created.id);
    assert.equal(row.label, 'nightly export');
    assert.ok(row.lastUsedAt && Date.parse(row.lastUsedAt) >= Date.parse(created.createdAt), 'last use recorded');
    assert.ok(!JSON.stringify(list).includes(created.token), 'the secret is never listed');
    // Another user cannot revoke it (404: not theirs), nor see it.
    assert.equal((await api.call('DELETE', `/api/v1/auth/tokens/${created.id}`, undefined, admin.token)).status, 404);
    assert.ok(!(await api.ok('GET', '/api/v1/auth/tokens', undefined, 200, admin.token)).rows.some((t: any) => t.id === created.id));
    assert.equal((await api.call('DELETE', `/api/v1/auth/tokens/${created.id}`, undefined, me.token)).status, 204);
    assert.equal((await api.call('GET', `/api/v1/orgs/${orgId}`, undefined, created.token)).status, 401);
    assert.equal((await api.call('DELETE', `/api/v1/auth/tokens/${created.id}`, undefined, me.token)).status, 404);
    // Malformed input names the field.
    for (const [b, field] of [[{}, 'label'], [{ label: '' }, 'label'], [{ label: 'x'.repeat(101) }, 'label'], [{ label: 5 }, 'label']] as const) {
      const r = await api.call('POST', '/api/v1/auth/tokens', b, me.token);
      assert.equal(r.status, 400);
      assert.equal(r.body.error.field, field, JSON.stringify(r.body));
    }
  });

  it('invites: created by an admin, read and accepted through the secret (signed in by cookie), single use; managers get their locations', async () => {
    const email = `new-${Math.random().toString(36).slice(2, 8)}@example.test`;
    const inv = await api.ok('POST', `/api/v1/orgs/${orgId}/invites`, { email, role: 'manager', locationIds: [locs[1]] }, 201, admin.token);
    assert.match(inv.url, /^\/invite\/lbi_/);
    assert.equal(inv.state, 'pending');
    assert.ok(Math.abs(Date.parse(inv.expiresAt) - Date.parse(inv.createdAt) - 7 * 86_400_000) < 1000);
    const secret = inv.url.split('/')[2];
    const info = await api.ok('GET', `/api/v1/invites/${secret}`, undefined, 200, null);
    assert.deepEqual(info, { orgName: 'Accounts café', email, role: 'manager', invitedBy: 'org-admin', expiresAt: inv.expiresAt });
    // Malformed acceptance: 400 naming the field, and the invite is still good.
    for (const [b, field] of [[{ name: 'Mia' }, 'password'], [{ name: 'Mia', password: 'short' }, 'password'], [{ password: 'long enough' }, 'name'], [{ name: '', password: 'long enough' }, 'name']] as const) {
      const r = await api.call('POST', `/api/v1/invites/${secret}/accept`, b, null, { 'x-loyalty-csrf': '1' });
      assert.equal(r.status, 400, JSON.stringify(r.body));
      assert.equal(r.body.error.field, field);
    }
    const acc = await api.call('POST', `/api/v1/invites/${secret}/accept`, { name: 'Mia', password: 'mia password' }, null, { 'x-loyalty-csrf': '1' });
    assert.equal(acc.status, 200, JSON.stringify(acc.body));
    assert.equal(acc.body.user.role, 'manager');
    assert.deepEqual(acc.body.user.locationIds, [locs[1]]);
    const cookie = cookieFrom(acc.headers);
    assert.deepEqual((await api.asBrowser('GET', `/api/v1/orgs/${orgId}/locations`, cookie)).body.rows.map((l: any) => l.id), [locs[1]]);
    // Single use.
    const twice = await api.call('POST', `/api/v1/invites/${secret}/accept`, { name: 'Eve', password: 'eve password' }, null, { 'x-loyalty-csrf': '1' });
    assert.equal(twice.status, 409);
    assert.equal((await api.call('GET', `/api/v1/invites/${secret}`, undefined, null)).status, 409);
    assert.equal((await api.call('GET', '/api/v1/invites/lbi_unknown', undefined, null)).status, 404);
    const rows = (await api.ok('GET', `/api/v1/orgs/${orgId}/invites`, undefined, 200, admin.token)).rows;
    assert.equal(rows.find((r: any) => r.id === inv.id).state, 'accepted');
    // The audit says who invited and who accepted.
    const audit = (await api.ok('GET', `/api/v1/orgs/${orgId}/access-audit`, undefined, 200, admin.token)).rows;
    assert.ok(audit.some((a: any) => a.action === 'invite.create' && a.actorId === admin.id && a.target === inv.id));
    assert.ok(audit.some((a: any) => a.action === 'invite.accept' && a.target === inv.id && a.detail.email === email));
  });

  it('invites expire and can be revoked; malformed or ungrantable invites are refused naming the field, nothing written', async () => {
    const a = await api.ok('POST', `/api/v1/orgs/${orgId}/invites`, { email: `exp-${Date.now()}@example.test`, role: 'viewer' }, 201, admin.token);
    await store().db.updateTable('invites').set({ expires_at: Date.now() - 1 }).where('id', '=', a.id).execute();
    const r = await api.call('POST', `/api/v1/invites/${a.url.split('/')[2]}/accept`, { name: 'Late', password: 'late password' }, null, { 'x-loyalty-csrf': '1' });
    assert.equal(r.status, 409);
    assert.match(r.body.error.message, /expired/);
    const b = await api.ok('POST', `/api/v1/orgs/${orgId}/invites`, { email: `rev-${Date.now()}@example.test`, role: 'viewer' }, 201, admin.token);
    assert.equal((await api.ok('DELETE', `/api/v1/orgs/${orgId}/invites/${b.id}`, undefined, 200, admin.token)).state, 'revoked');
    assert.equal((await api.call('POST', `/api/v1/invites/${b.url.split('/')[2]}/accept`, { name: 'X', password: 'x password' }, null, { 'x-loyalty-csrf': '1' })).status, 409);

    const count = async (): Promise<number> => (await api.ok('GET', `/api/v1/orgs/${orgId}/invites`, undefined, 200, admin.token)).rows.length;
    const n = await count();
    const other = (await api.ok('POST', '/api/v1/orgs', { name: 'Other' }, 201)).id;
    const otherLoc = (await api.ok('POST', `/api/v1/orgs/${other}/locations`, { name: 'Elsewhere', timezone: TZ }, 201)).id;
    for (const [body, field] of [
      [{ role: 'viewer' }, 'email'], [{ email: 'not-an-email', role: 'viewer' }, 'email'], [{ email: 'a@b.c' }, 'role'],
      [{ email: 'a@b.c', role: 'admin' }, 'role'], [{ email: 'a@b.c', role: 'partner-admin' }, 'role'],
      [{ email: 'a@b.c', role: 'manager' }, 'locationIds'], [{ email: 'a@b.c', role: 'manager', locationIds: [otherLoc] }, 'locationIds[0]'],
      [{ email: 'a@b.c', role: 'manager', locationIds: 'x' }, 'locationIds'], [{ email: admin.email, role: 'viewer' }, 'email'],
    ] as Array<[unknown, string]>) {
      const x = await api.call('POST', `/api/v1/orgs/${orgId}/invites`, body, admin.token);
      assert.ok(x.status === 400 || x.status === 409, `${JSON.stringify(body)} → ${x.status}`);
      assert.equal(x.body.error.field, field, `${JSON.stringify(body)}: ${JSON.stringify(x.body)}`);
    }
    assert.equal(await count(), n, 'nothing half-written');
    // Managers and viewers cannot invite at all; another org's admin cannot see or revoke ours.
    const manager = await api.orgUser(orgId, 'manager', [locs[0]!]);
    assert.equal((await api.call('POST', `/api/v1/orgs/${orgId}/invites`, { email: 'm@b.c', role: 'viewer' }, manager.token)).status, 403);
    const stranger = await api.orgUser(other, 'org-admin');
    assert.equal((await api.call('GET', `/api/v1/orgs/${orgId}/invites`, undefined, stranger.token)).status, 403);
    assert.equal((await api.call('DELETE', `/api/v1/orgs/${other}/invites/${a.id}`, undefined, stranger.token)).status, 404);
  });

  it('users of an org: listed, demoted, re-granted; a disabled user\'s sessions and tokens stop at once', async () => {
    const u = await api.orgUser(orgId, 'org-admin');
    const cookie = await api.session(u.email, u.password);
    const list = (await api.ok('GET', `/api/v1/orgs/${orgId}/users`, undefined, 200, admin.token)).rows;
    assert.deepEqual(list.find((x: any) => x.id === u.id), { id: u.id, email: u.email, name: 'org-admin', role: 'org-admin', locationIds: null, disabled: false, createdAt: list.find((x: any) => x.id === u.id).createdAt });
    // Demote to manager of South: at once, their token sees South only and cannot administer.
    const m = await api.ok('PATCH', `/api/v1/orgs/${orgId}/users/${u.id}`, { role: 'manager', locationIds: [locs[1]] }, 200, admin.token);
    assert.deepEqual([m.role, m.locationIds], ['manager', [locs[1]]]);
    assert.deepEqual((await api.ok('GET', `/api/v1/orgs/${orgId}/locations`, undefined, 200, u.token)).rows.map((l: any) => l.id), [locs[1]]);
    assert.equal((await api.call('GET', `/api/v1/orgs/${orgId}/users`, undefined, u.token)).status, 403);
    // Disable: session and token refused on the next request.
    assert.equal((await api.ok('PATCH', `/api/v1/orgs/${orgId}/users/${u.id}`, { disabled: true }, 200, admin.token)).disabled, true);
    assert.equal((await api.call('GET', '/api/v1/auth/me', undefined, u.token)).status, 401);
    assert.equal((await api.asBrowser('GET', '/api/v1/auth/me', cookie)).status, 401);
    const signIn = await api.call('POST', '/api/v1/auth/session', { email: u.email, password: u.password }, null, { 'x-loyalty-csrf': '1' });
    assert.equal(signIn.status, 403);
    // Re-enabled: the token works again; the ended session does not come back.
    await api.ok('PATCH', `/api/v1/orgs/${orgId}/users/${u.id}`, { disabled: false }, 200, admin.token);
    assert.equal((await api.call('GET', '/api/v1/auth/me', undefined, u.token)).status, 200);
    assert.equal((await api.asBrowser('GET', '/api/v1/auth/me', cookie)).status, 401);
    const audit = (await api.ok('GET', `/api/v1/orgs/${orgId}/access-audit`, undefined, 200, admin.token)).rows.filter((a: any) => a.target === u.id);
    assert.deepEqual(audit.map((a: any) => [a.actorId, a.detail.after.role, a.detail.after.disabled]).reverse(),
      [[admin.id, 'manager', false], [admin.id, 'manager', true], [admin.id, 'manager', false]]);
  });

  it("an open live stream ends as soon as its user is disabled, signs out, or loses the token it was opened with", { timeout: 20_000 }, async () => {
    const u = await api.orgUser(orgId, 'viewer');
    const cookie = await api.session(u.email, u.password);
    const byCookie = await openSse(`${api.url}/api/v1/orgs/${orgId}/live`, { cookie });
    const byToken = await openSse(`${api.url}/api/v1/orgs/${orgId}/live`, { authorization: `Bearer ${u.token}` });
    await api.ok('PATCH', `/api/v1/orgs/${orgId}/users/${u.id}`, { disabled: true }, 200, admin.token);
    // Without the push this would take the minute of the periodic re-check: the test's 20 s timeout fails it.
    await Promise.all([byCookie.ended, byToken.ended]);
    await api.ok('PATCH', `/api/v1/orgs/${orgId}/users/${u.id}`, { disabled: false }, 200, admin.token);
    const cookie2 = await api.session(u.email, u.password);
    const s2 = await openSse(`${api.url}/api/v1/orgs/${orgId}/live`, { cookie: cookie2 });
    await api.asBrowser('DELETE', '/api/v1/auth/session', cookie2);
    await s2.ended;
    const t = await api.ok('POST', '/api/v1/auth/tokens', { label: 'stream' }, 201, u.token);
    const s3 = await openSse(`${api.url}/api/v1/orgs/${orgId}/live`, { authorization: `Bearer ${t.token}` });
    await api.ok('DELETE', `/api/v1/auth/tokens/${t.id}`, undefined, 204, u.token);
    await s3.ended;
  });

  it('nobody changes their own access, a user above them, or leaves the org without an administrator; bad patches name the field', async () => {
    const viewer = await api.orgUser(orgId, 'viewer');
    const manager = await api.orgUser(orgId, 'manager', [locs[0]!]);
    assert.equal((await api.call('PATCH', `/api/v1/orgs/${orgId}/users/${admin.id}`, { role: 'viewer' }, admin.token)).status, 403, 'not yourself');
    assert.equal((await api.call('PATCH', `/api/v1/orgs/${orgId}/users/${viewer.id}`, { role: 'org-admin' }, manager.token)).status, 403, 'a manager administers nobody');
    for (const [body, field] of [
      [{}, 'body'], [{ role: 'admin' }, 'role'], [{ role: 'manager' }, 'locationIds'], [{ disabled: 'yes' }, 'disabled'],
      [{ role: 'manager', locationIds: ['loc_nope'] }, 'locationIds[0]'],
    ] as Array<[unknown, string]>) {
      const r = await api.call('PATCH', `/api/v1/orgs/${orgId}/users/${viewer.id}`, body, admin.token);
      assert.equal(r.status, 400, `${JSON.stringify(body)} → ${r.status} ${JSON.stringify(r.body)}`);
      if (field !== 'body') assert.equal(r.body.error.field, field, JSON.stringify(r.body));
    }
    assert.equal((await api.ok('GET', `/api/v1/orgs/${orgId}/users`, undefined, 200, admin.token)).rows.find((x: any) => x.id === viewer.id).role, 'viewer', 'unchanged');
    assert.equal((await api.call('PATCH', `/api/v1/orgs/${orgId}/users/usr_unknown`, { disabled: true }, admin.token)).status, 404);
    // The last org-admin of a fresh org stays.
    const solo = (await api.ok('POST', '/api/v1/orgs', { name: 'Solo' }, 201)).id;
    const only = await api.orgUser(solo, 'org-admin');
    const r = await api.call('PATCH', `/api/v1/orgs/${solo}/users/${only.id}`, { disabled: true });
    assert.equal(r.status, 409, JSON.stringify(r.body));
  });

  it('the first admin: needed while no admin has a password; a setup link (valid until used, one at a time) creates them and signs in', async () => {
    assert.equal(await needsFirstAdmin(store()), true, 'admin@localhost has a token, not a password');
    const old = await createSetupLink(store());
    const link = await createSetupLink(store());
    assert.equal((await api.call('GET', `/api/v1${old}`, undefined, null)).status, 409, 'the older link stopped working');
    const secret = link.split('/')[2]!;
    await api.ok('GET', `/api/v1/setup/${secret}`, undefined, 200, null);
    const bad = await api.call('POST', `/api/v1/setup/${secret}`, { email: 'root@example.test', name: 'Root', password: 'short' }, null, { 'x-loyalty-csrf': '1' });
    assert.equal(bad.body.error.field, 'password');
    const r = await api.call('POST', `/api/v1/setup/${secret}`, { email: 'root@example.test', name: 'Root', password: 'root password' }, null, { 'x-loyalty-csrf': '1' });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.user.role, 'admin');
    assert.equal((await api.asBrowser('GET', '/api/v1/orgs', cookieFrom(r.headers))).status, 200);
    assert.equal(await needsFirstAdmin(store()), false);
    assert.equal((await api.call('POST', `/api/v1/setup/${secret}`, { email: 'two@example.test', name: 'Two', password: 'root password' }, null, { 'x-loyalty-csrf': '1' })).status, 409);
    // From the command line (env or prompt): a password for an existing admin, never for someone else's account.
    await createFirstAdmin(store(), 'admin@localhost', 'local password');
    await api.session('admin@localhost', 'local password');
    await assert.rejects(createFirstAdmin(store(), admin.email, 'whatever pw'), /already a org-admin/);
  });

  it("wall links: today's figures per location in its own zone through the secret only; limited locations; revocation closes the stream", async () => {
    // Votes today (Kolkata), yesterday, and one flagged-free each; expected figures counted here.
    const dayOf = (ts: number): string => new Intl.DateTimeFormat('sv-SE', { timeZone: TZ }).format(new Date(ts));
    const now = Date.now();
    const today = dayOf(now);
    // 20 s apart: more than the misuse rules' repeat window, so every press counts. 30 hours ago is another local day.
    const sent = [['satisfied', 0, 20_000], ['satisfied', 0, 40_000], ['dissatisfied', 0, 60_000], ['satisfied', 1, 20_000], ['dissatisfied', 0, 30 * 3_600_000]] as const;
    const expected: Record<string, [string, number, number, number | null]> = { North: [today, 0, 0, null], South: [today, 0, 0, null] };
    for (const [i, [button, d, ago]] of sent.entries()) {
      assert.deepEqual((await api.votes(devTokens[d]!, [{ id: `w-${i}`, ts: now - ago, button }])).body, { accepted: 1, duplicates: 0 });
      const e = expected[d === 0 ? 'North' : 'South']!;
      if (dayOf(now - ago) === today) e[button === 'satisfied' ? 1 : 2]++;
    }
    for (const e of Object.values(expected)) e[3] = e[1] + e[2] ? Math.round((e[1] / (e[1] + e[2])) * 10_000) / 10_000 : null;
    const all = await api.ok('POST', `/api/v1/orgs/${orgId}/wall-links`, { label: 'Window' }, 201, admin.token);
    const south = await api.ok('POST', `/api/v1/orgs/${orgId}/wall-links`, { label: 'South staff room', locationIds: [locs[1]] }, 201, admin.token);
    assert.match(all.url, /^\/wall\/lbw_/);
    const w = await api.ok('GET', `/api/v1/wall/${all.url.split('/')[2]}`, undefined, 200, null);
    assert.equal(w.org.name, 'Accounts café');
    const figs = Object.fromEntries(w.locations.map((l: any) => [l.name, [l.day, l.today.satisfied, l.today.dissatisfied, l.today.share]]));
    assert.deepEqual(figs, expected);
    const s = await api.ok('GET', `/api/v1/wall/${south.url.split('/')[2]}`, undefined, 200, null);
    assert.deepEqual(s.locations.map((l: any) => l.name), ['South']);
    assert.ok(!JSON.stringify(s).includes(locs[0]!), 'nothing of North');
    // The secret opens nothing else.
    const secret = all.url.split('/')[2];
    for (const path of [`/api/v1/orgs/${orgId}`, `/api/v1/orgs/${orgId}/scores?from=${today}&to=${today}`, '/api/v1/auth/me']) {
      assert.equal((await api.call('GET', path, undefined, secret)).status, 401, path);
    }
    // Malformed creation names the field; managers and strangers cannot create or list.
    for (const [body, field] of [[{}, 'label'], [{ label: '' }, 'label'], [{ label: 'x', locationIds: ['loc_nope'] }, 'locationIds[0]']] as Array<[unknown, string]>) {
      const r = await api.call('POST', `/api/v1/orgs/${orgId}/wall-links`, body, admin.token);
      assert.equal(r.status, 400);
      assert.equal(r.body.error.field, field);
    }
    const manager = await api.orgUser(orgId, 'manager', [locs[1]!]);
    assert.equal((await api.call('POST', `/api/v1/orgs/${orgId}/wall-links`, { label: 'Mine' }, manager.token)).status, 403);
    assert.equal((await api.ok('GET', `/api/v1/orgs/${orgId}/wall-links`, undefined, 200, admin.token)).rows.length, 2);

    // The live stream: a vote of South arrives; North's does not reach the South link.
    const stream = await openSse(`${api.url}/api/v1/wall/${south.url.split('/')[2]}/live`);
    await api.votes(devTokens[0]!, [{ id: 'live-n', ts: Date.now(), button: 'satisfied' }]);
    await api.votes(devTokens[1]!, [{ id: 'live-s', ts: Date.now(), button: 'dissatisfied' }]);
    await stream.waitFor((t) => t.includes('"live-s"'));
    assert.ok(!stream.text().includes('"live-n"'));
    // A public screen gets where and which button, nothing about devices or staff.
    const frame = /event: vote\ndata: (.*"live-s".*)\n/.exec(stream.text())![1]!;
    assert.deepEqual(Object.keys(JSON.parse(frame)).sort(), ['button', 'flagged', 'id', 'locationId', 'ts']);
    // Revoked: the stream ends, the next request is 404.
    assert.equal((await api.call('DELETE', `/api/v1/orgs/${orgId}/wall-links/${south.id}`, undefined, admin.token)).status, 204);
    await stream.ended;
    assert.equal((await api.call('GET', `/api/v1/wall/${south.url.split('/')[2]}`, undefined, null)).status, 404);
    assert.equal((await api.call('GET', `/api/v1/wall/${south.url.split('/')[2]}/live`, undefined, null)).status, 404);
    const listed = (await api.ok('GET', `/api/v1/orgs/${orgId}/wall-links`, undefined, 200, admin.token)).rows;
    assert.ok(listed.find((l: any) => l.id === south.id).revokedAt, 'kept, marked revoked');
  });
});

/** A server-sent event stream read as text. */
function openSse(url: string, headers: Record<string, string> = {}): Promise<{ text(): string; waitFor(p: (t: string) => boolean): Promise<void>; ended: Promise<void> }> {
  return new Promise((resolve, reject) => {
    http.get(url, { headers }, (res) => {
      if (res.statusCode !== 200) return reject(new Error(`stream → ${res.statusCode}`));
      let buf = '';
      const waiters: Array<[(t: string) => boolean, () => void]> = [];
      const ended = new Promise<void>((done) => res.on('end', () => done()));
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        buf += d;
        for (const w of [...waiters]) if (w[0](buf)) { waiters.splice(waiters.indexOf(w), 1); w[1](); }
      });
      resolve({
        text: () => buf,
        waitFor: (p) => new Promise<void>((ok) => { if (p(buf)) ok(); else waiters.push([p, ok]); }),
        ended,
      });
    }).on('error', reject);
  });
}

/** `loyalty start` as a child process on a fresh SQLite directory; its output once it says it is running. */
function start(dataDir: string, env: Record<string, string>): Promise<{ out: string; url: string; stop(): Promise<void> }> {
  const child = spawn(process.execPath, [new URL('../src/cli.ts', import.meta.url).pathname, 'start'], {
    env: { ...process.env, DATA_DIR: dataDir, PORT: '0', MQTT_PORT: '0', LOG_LEVEL: 'warn', LOYALTY_ADMIN_EMAIL: '', LOYALTY_ADMIN_PASSWORD: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const stop = (): Promise<void> => new Promise((done) => { child.once('exit', () => done()); child.kill('SIGTERM'); });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`not running within 30 s:\n${out}`)); }, 30_000);
    const seen = (c: Buffer): void => {
      out += c.toString();
      const m = /running: (http:\/\/[^/\s]+)\/[\s\S]*API tokens for scripts/.exec(out);
      if (m) { clearTimeout(timer); resolve({ out, url: m[1]!, stop }); }
    };
    child.stdout!.on('data', seen);
    child.stderr!.on('data', (c: Buffer) => { out += c.toString(); });
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`exited ${code}:\n${out}`)); });
  });
}

describe('loyalty start and the first administrator', () => {
  it('without env or terminal prints a setup link that creates the admin; with the env vars creates them', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lb-first-admin-'));
    try {
      const a = await start(dir, {});
      assert.ok(!/lbt_/.test(a.out), 'no API token printed');
      const link = /(http:\/\/\S+\/setup\/lbi_\S+)/.exec(a.out)?.[1];
      assert.ok(link, a.out);
      const secret = link.split('/').pop()!;
      const r = await fetch(`${a.url}/api/v1/setup/${secret}`, {
        method: 'POST', headers: { 'content-type': 'application/json', 'x-loyalty-csrf': '1' },
        body: JSON.stringify({ email: 'first@example.test', name: 'First', password: 'first password' }),
      });
      assert.equal(r.status, 200);
      await a.stop();
      // Now an admin exists: no link, no prompt.
      const b = await start(dir, {});
      assert.ok(!b.out.includes('/setup/'), b.out);
      await b.stop();
    } finally { rmSync(dir, { recursive: true, force: true }); }
    const dir2 = mkdtempSync(join(tmpdir(), 'lb-first-admin-'));
    try {
      const c = await start(dir2, { LOYALTY_ADMIN_EMAIL: 'Boss@Example.test', LOYALTY_ADMIN_PASSWORD: 'boss password' });
      assert.match(c.out, /Administrator boss@example\.test created from LOYALTY_ADMIN_EMAIL/);
      assert.ok(!c.out.includes('/setup/'));
      const r = await fetch(`${c.url}/api/v1/auth/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: 'boss@example.test', password: 'boss password' }) });
      assert.equal(r.status, 200);
      await c.stop();
    } finally { rmSync(dir2, { recursive: true, force: true }); }
  });

  it('orders the roles: nobody grants above their own', () => {
    assert.equal(mayGrant('org-admin', 'org-admin'), true);
    assert.equal(mayGrant('org-admin', 'partner-admin'), false);
    assert.equal(mayGrant('manager', 'org-admin'), false);
    assert.equal(mayGrant('manager', 'viewer'), true);
    assert.equal(mayGrant('partner-admin', 'admin'), false);
  });
});
