// The management routes (README "Managing the organisation") on both backends: changing a
// location, touchpoint and employee; errors naming the field with nothing half-written; archiving
// instead of deleting, audited; the roles that may write; other tenants refused; and ingest seeing
// a new zone or opening hours at once.
import { it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Api, eachBackend, assertError, unique } from './harness.ts';

const HOUR = 3_600_000;


eachBackend('management routes', (ctx) => {
  let api: Api;
  before(async () => { api = await Api.start(ctx().store); });
  after(async () => { await api?.close(); });

  const newOrg = async (partnerId?: string): Promise<string> => (await api.ok('POST', '/api/v1/orgs', { name: unique('Org'), ...(partnerId ? { partnerId } : {}) }, 201)).id;
  const userOf = async (org: string, role: string, extra: object = {}): Promise<string> => {
    const email = `${unique(role)}@example.test`;
    await api.ok('POST', `/api/v1/orgs/${org}/users`, { email, name: role, role, password: 'long enough password', ...extra }, 201);
    return (await api.ok('POST', '/api/v1/auth/token', { email, password: 'long enough password' })).token;
  };
  const rows = async (path: string, token = api.adminToken): Promise<any[]> => (await api.ok('GET', path, undefined, 200, token)).rows;

  it('changes a location\'s name, zone and opening hours, and audits who did it and why', async () => {
    const org = await newOrg();
    const admin = await userOf(org, 'org-admin');
    const loc = await api.ok('POST', `/api/v1/orgs/${org}/locations`, { name: 'Old name', timezone: 'Europe/Berlin' }, 201);
    assert.equal(loc.archivedAt, null);
    const hours = { mon: [['09:00', '18:00']], sat: [['22:00', '02:00']] };
    const changed = await api.ok('PATCH', `/api/v1/orgs/${org}/locations/${loc.id}`, { name: 'New name', timezone: 'Asia/Tokyo', openingHours: hours, reason: 'moved' }, 200, admin);
    assert.deepEqual({ name: changed.name, timezone: changed.timezone, openingHours: changed.openingHours }, { name: 'New name', timezone: 'Asia/Tokyo', openingHours: hours });
    const listed = (await rows(`/api/v1/orgs/${org}/locations`)).find((l) => l.id === loc.id);
    assert.deepEqual([listed.name, listed.timezone, listed.openingHours], ['New name', 'Asia/Tokyo', hours]);
    // Only the given field changes.
    const renamed = await api.ok('PATCH', `/api/v1/orgs/${org}/locations/${loc.id}`, { name: 'Third' }, 200, admin);
    assert.deepEqual([renamed.timezone, renamed.openingHours], ['Asia/Tokyo', hours]);
    // null clears the hours.
    assert.equal((await api.ok('PATCH', `/api/v1/orgs/${org}/locations/${loc.id}`, { openingHours: null }, 200, admin)).openingHours, null);
    const audit = await rows(`/api/v1/orgs/${org}/audit`, admin);
    assert.equal(audit.length, 3);
    const first = audit.at(-1);
    assert.deepEqual([first.entity, first.entityId, first.action, first.reason], ['location', loc.id, 'update', 'moved']);
    assert.equal(first.before.timezone, 'Europe/Berlin');
    assert.equal(first.after.timezone, 'Asia/Tokyo');
    assert.equal(typeof first.userId, 'string');
  });

  it('rejects malformed changes naming the field and writes nothing', async () => {
    const org = await newOrg();
    const loc = await api.ok('POST', `/api/v1/orgs/${org}/locations`, { name: 'Keep', timezone: 'Europe/Berlin', openingHours: { mon: [['09:00', '18:00']] } }, 201);
    const path = `/api/v1/orgs/${org}/locations/${loc.id}`;
    // A valid name together with an invalid zone: neither is stored.
    assertError(await api.call('PATCH', path, { name: 'Changed', timezone: '+03:00' }), 400, 'timezone');
    assertError(await api.call('PATCH', path, { name: 'Changed', timezone: 'Mars/Olympus' }), 400, 'timezone');
    assertError(await api.call('PATCH', path, { name: 'Changed', openingHours: { mon: [['9:00', '18:00']] } }), 400, 'openingHours.mon[0]');
    assertError(await api.call('PATCH', path, { name: 'Changed', openingHours: { monday: [['09:00', '18:00']] } }), 400, 'openingHours.monday');
    assertError(await api.call('PATCH', path, { name: 'Changed', openingHours: { tue: [['10:00', '10:00']] } }), 400, 'openingHours.tue[0]');
    assertError(await api.call('PATCH', path, { name: 'Changed', openingHours: { tue: [['10:00', '25:00']] } }), 400, 'openingHours.tue[0]');
    assertError(await api.call('PATCH', path, { name: '' }), 400, 'name');
    assertError(await api.call('PATCH', path, { name: 'Changed', colour: 'red' }), 400, 'colour');
    assertError(await api.call('PATCH', path, 'not json'), 400);
    const now = (await rows(`/api/v1/orgs/${org}/locations`)).find((l) => l.id === loc.id);
    assert.deepEqual([now.name, now.timezone, now.openingHours], ['Keep', 'Europe/Berlin', { mon: [['09:00', '18:00']] }]);
    assert.equal((await rows(`/api/v1/orgs/${org}/audit`)).length, 0, 'nothing audited either');

    const tp = await api.ok('POST', `/api/v1/orgs/${org}/touchpoints`, { name: 'Desk', locationId: loc.id }, 201);
    const other = await newOrg();
    const foreign = await api.ok('POST', `/api/v1/orgs/${other}/locations`, { name: 'Theirs', timezone: 'UTC' }, 201);
    assertError(await api.call('PATCH', `/api/v1/orgs/${org}/touchpoints/${tp.id}`, { name: 'Moved', locationId: foreign.id }), 400, 'locationId');
    assertError(await api.call('PATCH', `/api/v1/orgs/${org}/touchpoints/${tp.id}`, { channel: 'x'.repeat(33) }), 400);
    assert.equal((await rows(`/api/v1/orgs/${org}/touchpoints`)).find((t) => t.id === tp.id).name, 'Desk');
    assertError(await api.call('PATCH', `/api/v1/orgs/${org}/employees/emp_nope`, { name: 'X' }), 404);
    assertError(await api.call('PATCH', `/api/v1/orgs/${org}/employees/x`, { active: 'no' }), 400);
  });

  it('edits touchpoints; archives a location or touchpoint only once no device stands there, and keeps it listed on request', async () => {
    const org = await newOrg();
    const a = await api.ok('POST', `/api/v1/orgs/${org}/locations`, { name: 'A', timezone: 'UTC' }, 201);
    const b = await api.ok('POST', `/api/v1/orgs/${org}/locations`, { name: 'B', timezone: 'UTC' }, 201);
    const tp = await api.ok('POST', `/api/v1/orgs/${org}/touchpoints`, { name: 'Desk', locationId: a.id, channel: 'counter' }, 201);
    const moved = await api.ok('PATCH', `/api/v1/orgs/${org}/touchpoints/${tp.id}`, { name: 'Front desk', locationId: b.id, channel: 'table' });
    assert.deepEqual([moved.name, moved.locationId, moved.channel], ['Front desk', b.id, 'table']);
    assert.equal((await api.ok('PATCH', `/api/v1/orgs/${org}/touchpoints/${tp.id}`, { channel: null })).channel, null);

    const dev = await api.ok('POST', `/api/v1/orgs/${org}/devices`, { kind: 'panel', locationId: b.id, touchpointId: tp.id }, 201);
    assertError(await api.call('PATCH', `/api/v1/orgs/${org}/touchpoints/${tp.id}`, { locationId: a.id }), 409, 'locationId');
    assertError(await api.call('PATCH', `/api/v1/orgs/${org}/touchpoints/${tp.id}`, { archived: true }), 409, 'archived');
    assertError(await api.call('PATCH', `/api/v1/orgs/${org}/locations/${b.id}`, { archived: true }), 409, 'archived');
    await api.ok('POST', `/api/v1/orgs/${org}/devices/${dev.id}/retire`, undefined);

    const archived = await api.ok('PATCH', `/api/v1/orgs/${org}/locations/${b.id}`, { archived: true, reason: 'closed down' });
    assert.equal(typeof archived.archivedAt, 'string');
    assert.deepEqual((await rows(`/api/v1/orgs/${org}/locations`)).map((l) => l.id), [a.id], 'hidden from the list');
    assert.deepEqual((await rows(`/api/v1/orgs/${org}/locations?archived=true`)).map((l) => l.id).sort(), [a.id, b.id].sort(), 'kept for history');
    // Nothing new is placed at an archived location.
    assertError(await api.call('POST', `/api/v1/orgs/${org}/devices`, { kind: 'panel', locationId: b.id }), 400, 'locationId');
    const audit = await rows(`/api/v1/orgs/${org}/audit`);
    assert.deepEqual([audit[0].action, audit[0].reason], ['archive', 'closed down']);
    const restored = await api.ok('PATCH', `/api/v1/orgs/${org}/locations/${b.id}`, { archived: false });
    assert.equal(restored.archivedAt, null);
    assert.equal((await rows(`/api/v1/orgs/${org}/audit`))[0].action, 'restore');
  });

  it('deactivates an employee: still listed (marked) for history, refused for new shifts', async () => {
    const org = await newOrg();
    const loc = await api.ok('POST', `/api/v1/orgs/${org}/locations`, { name: 'A', timezone: 'UTC' }, 201);
    const tp = await api.ok('POST', `/api/v1/orgs/${org}/touchpoints`, { name: 'Desk', locationId: loc.id }, 201);
    const anna = await api.ok('POST', `/api/v1/orgs/${org}/employees`, { name: 'Anna' }, 201);
    assert.equal(anna.active, true);
    const off = await api.ok('PATCH', `/api/v1/orgs/${org}/employees/${anna.id}`, { active: false, reason: 'left' });
    assert.equal(off.active, false);
    assert.deepEqual((await rows(`/api/v1/orgs/${org}/employees`)).map((e) => [e.id, e.active]), [[anna.id, false]]);
    assert.deepEqual(await rows(`/api/v1/orgs/${org}/employees?active=true`), []);
    assertError(await api.call('POST', `/api/v1/orgs/${org}/shifts`, { employeeId: anna.id, touchpointId: tp.id, start: '2026-11-20T09:00:00Z', end: '2026-11-20T17:00:00Z' }), 400, 'employeeId');
    const audit = (await rows(`/api/v1/orgs/${org}/audit`))[0];
    assert.deepEqual([audit.entity, audit.action, audit.reason, audit.before.active, audit.after.active], ['employee', 'deactivate', 'left', true, false]);
    const back = await api.ok('PATCH', `/api/v1/orgs/${org}/employees/${anna.id}`, { active: true, name: 'Anna K.' });
    assert.deepEqual([back.active, back.name], [true, 'Anna K.']);
  });

  it('lets org administrators write and managers and viewers only read', async () => {
    const org = await newOrg();
    const loc = await api.ok('POST', `/api/v1/orgs/${org}/locations`, { name: 'A', timezone: 'UTC' }, 201);
    const tp = await api.ok('POST', `/api/v1/orgs/${org}/touchpoints`, { name: 'Desk', locationId: loc.id }, 201);
    const emp = await api.ok('POST', `/api/v1/orgs/${org}/employees`, { name: 'Bo' }, 201);
    const manager = await userOf(org, 'manager', { locationIds: [loc.id] });
    const viewer = await userOf(org, 'viewer');
    for (const token of [manager, viewer]) {
      assertError(await api.call('PATCH', `/api/v1/orgs/${org}/locations/${loc.id}`, { name: 'X' }, token), 403);
      assertError(await api.call('PATCH', `/api/v1/orgs/${org}/touchpoints/${tp.id}`, { name: 'X' }, token), 403);
      assertError(await api.call('PATCH', `/api/v1/orgs/${org}/employees/${emp.id}`, { active: false }, token), 403);
      assertError(await api.call('PUT', `/api/v1/orgs/${org}/scoring`, { minSample: 5 }, token), 403);
      assertError(await api.call('GET', `/api/v1/orgs/${org}/audit`, undefined, token), 403);
      assert.equal((await rows(`/api/v1/orgs/${org}/locations`, token))[0].name, 'A', 'reading is allowed');
    }
    assert.deepEqual((await api.ok('GET', `/api/v1/orgs/${org}`, undefined, 200, manager)).you, { role: 'manager', canAdmin: false, canPlace: true });
    assert.deepEqual((await api.ok('GET', `/api/v1/orgs/${org}`, undefined, 200, viewer)).you, { role: 'viewer', canAdmin: false, canPlace: false });
    const admin = await userOf(org, 'org-admin');
    assert.deepEqual((await api.ok('GET', `/api/v1/orgs/${org}`, undefined, 200, admin)).you, { role: 'org-admin', canAdmin: true, canPlace: true });
    assert.equal((await rows(`/api/v1/orgs/${org}/locations`)).find((l) => l.id === loc.id).name, 'A', 'nothing changed');
  });

  it('refuses users of another organisation or partner, and ids from another organisation', async () => {
    const partner = await api.ok('POST', '/api/v1/partners', { name: unique('Partner') }, 201);
    const rival = await api.ok('POST', '/api/v1/partners', { name: unique('Rival') }, 201);
    const rivalEmail = `${unique('rival')}@example.test`;
    await api.ok('POST', `/api/v1/partners/${rival.id}/users`, { email: rivalEmail, name: 'Rival', password: 'long enough password' }, 201);
    const rivalToken = (await api.ok('POST', '/api/v1/auth/token', { email: rivalEmail, password: 'long enough password' })).token;
    const org = await newOrg(partner.id);
    const loc = await api.ok('POST', `/api/v1/orgs/${org}/locations`, { name: 'Ours', timezone: 'UTC' }, 201);
    const tp = await api.ok('POST', `/api/v1/orgs/${org}/touchpoints`, { name: 'Desk', locationId: loc.id }, 201);
    const emp = await api.ok('POST', `/api/v1/orgs/${org}/employees`, { name: 'Cy' }, 201);
    const otherOrg = await newOrg();
    const otherAdmin = await userOf(otherOrg, 'org-admin');
    for (const token of [otherAdmin, rivalToken]) {
      assertError(await api.call('PATCH', `/api/v1/orgs/${org}/locations/${loc.id}`, { name: 'Hijacked' }, token), 403);
      assertError(await api.call('PATCH', `/api/v1/orgs/${org}/touchpoints/${tp.id}`, { name: 'Hijacked' }, token), 403);
      assertError(await api.call('PATCH', `/api/v1/orgs/${org}/employees/${emp.id}`, { name: 'Hijacked' }, token), 403);
      assertError(await api.call('GET', `/api/v1/orgs/${org}/audit`, undefined, token), 403);
    }
    // Through their own org's path, our ids are not found.
    assertError(await api.call('PATCH', `/api/v1/orgs/${otherOrg}/locations/${loc.id}`, { name: 'Hijacked' }, otherAdmin), 404);
    assertError(await api.call('PATCH', `/api/v1/orgs/${otherOrg}/touchpoints/${tp.id}`, { name: 'Hijacked' }, otherAdmin), 404);
    assertError(await api.call('PATCH', `/api/v1/orgs/${otherOrg}/employees/${emp.id}`, { name: 'Hijacked' }, otherAdmin), 404);
    assert.equal((await rows(`/api/v1/orgs/${org}/locations`))[0].name, 'Ours');
    assert.equal((await rows(`/api/v1/orgs/${org}/touchpoints`))[0].name, 'Desk');
    assert.equal((await rows(`/api/v1/orgs/${org}/employees`))[0].name, 'Cy');
  });

  it('audits a change of the score thresholds; a refused one changes and audits nothing', async () => {
    const org = await newOrg();
    const admin = await userOf(org, 'org-admin');
    assertError(await api.call('PUT', `/api/v1/orgs/${org}/scoring`, { thresholds: [0.6, 0.5, 0.8, 0.9] }, admin), 400, 'thresholds');
    assert.deepEqual(await rows(`/api/v1/orgs/${org}/audit`, admin), []);
    const next = await api.ok('PUT', `/api/v1/orgs/${org}/scoring`, { minSample: 20, thresholds: [0.55, 0.7, 0.85, 0.95], reason: 'stricter' }, 200, admin);
    assert.deepEqual(next, { minSample: 20, thresholds: [0.55, 0.7, 0.85, 0.95] });
    const [entry] = await rows(`/api/v1/orgs/${org}/audit`, admin);
    assert.deepEqual([entry.entity, entry.entityId, entry.reason], ['scoring', org, 'stricter']);
    assert.deepEqual(entry.before, { minSample: 10, thresholds: [0.5, 0.65, 0.8, 0.9] });
    assert.deepEqual(entry.after, next);
  });

  it('documents every new route in the OpenAPI description at /docs', async () => {
    const doc = (await api.call('GET', '/docs/json', undefined, null)).body;
    const routes: Array<[string, string]> = [
      ['/api/v1/orgs/{org}/locations/{location}', 'patch'], ['/api/v1/orgs/{org}/touchpoints/{touchpoint}', 'patch'],
      ['/api/v1/orgs/{org}/employees/{employee}', 'patch'], ['/api/v1/orgs/{org}/audit', 'get'], ['/api/v1/partner/overview', 'get'],
    ];
    for (const [path, method] of routes) {
      const op = doc.paths?.[path]?.[method];
      assert.ok(op, `${method} ${path} in /docs`);
      assert.ok(op.tags?.length && op.summary && op.security?.length, `${method} ${path} has tags, summary and security`);
    }
  });

  it('ingest sees a new zone and new opening hours at once', async () => {
    const f = await api.fixture('UTC');
    // Warm every cache with a press before the change: 2 days ago at 20:30 UTC.
    const day0 = Date.UTC(2026, 10, 16, 20, 30);
    assert.equal((await api.votes(f.deviceToken, [{ id: 'm-1', ts: day0, button: 'satisfied' }])).status, 200);
    const hourRows = async (day: string) => (await api.scores(f.orgId, { from: day, to: day, by: 'hour' })).map((r) => [r.key, r.total]);
    assert.deepEqual(await hourRows('2026-11-16'), [['20', 1]]);

    await api.ok('PATCH', `/api/v1/orgs/${f.orgId}/locations/${f.locationId}`, { timezone: 'Asia/Tokyo' });
    // 20:30 UTC is 05:30 the next day in Tokyo (UTC+9).
    const day1 = day0 + 24 * HOUR;
    assert.equal((await api.votes(f.deviceToken, [{ id: 'm-2', ts: day1, button: 'satisfied' }])).status, 200);
    assert.deepEqual(await hourRows('2026-11-18'), [['05', 1]], 'the new zone applies to the next press');
    assert.deepEqual(await hourRows('2026-11-17'), [], 'not bucketed by the old zone');

    // Opening hours 09:00–18:00 every day in Tokyo: a press at 05:30 local is off-hours.
    const every = Object.fromEntries(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'].map((d) => [d, [['09:00', '18:00']]]));
    await api.ok('PATCH', `/api/v1/orgs/${f.orgId}/locations/${f.locationId}`, { openingHours: every });
    const day2 = day1 + 24 * HOUR;
    assert.equal((await api.votes(f.deviceToken, [{ id: 'm-3', ts: day2, button: 'satisfied' }])).status, 200);
    const votes = (await api.ok('GET', `/api/v1/orgs/${f.orgId}/votes?from=2026-11-16&to=2026-11-20`, undefined)).rows;
    const flags = Object.fromEntries(votes.map((v: any) => [v.id, v.flagged]));
    assert.deepEqual(flags, { 'm-1': [], 'm-2': [], 'm-3': ['off_hours'] });
  });
});
