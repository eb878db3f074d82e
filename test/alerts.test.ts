// Alerts (README "Alerts"): rules CRUD with malformed input naming the field and nothing
// half-written, tenancy, the lifecycle (open → acknowledged → commented → closed by a person or
// automatically on recovery), deduplication, quiet-hours deferral, and each rule kind through the
// evaluator at an explicit "now". Expected figures are computed here from the presses sent.
import { it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Api, eachBackend, type Fixture } from './harness.ts';
import { evaluateAlerts } from '../src/alerts/evaluate.ts';
import { binomialTail } from '../src/alerts/spike.ts';

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
// Noon UTC on a Tuesday, in the past so every press is accepted as it is.
const NOW = Date.parse('2026-11-10T12:00:00Z');

eachBackend('alerts', (ctx) => {
  let api: Api;
  let n = 0;
  const unique = (p: string): string => `${p}-${process.pid}-${++n}`;
  before(async () => {
    api = await Api.start(ctx().store);
    await api.server.alerts?.evaluator.stop(); // the tests drive evaluation with explicit times
    await api.server.alerts?.delivery.stop();
  });
  after(async () => { await api.close(); });

  async function userToken(org: string, role: 'org-admin' | 'viewer' | 'manager', locationIds?: string[]): Promise<{ token: string; id: string }> {
    const email = `${unique(role)}@example.test`;
    const u = await api.ok('POST', `/api/v1/orgs/${org}/users`, { email, name: role, role, password: 'alerts password', ...(locationIds ? { locationIds } : {}) }, 201);
    return { id: u.id, token: (await api.ok('POST', '/api/v1/auth/token', { email, password: 'alerts password' }, 200, null)).token };
  }
  /** A fixture with the fake-press filter off: these tests send deliberate bursts of presses. */
  async function fixture(timezone: string): Promise<Fixture> {
    const f = await api.fixture(timezone);
    await api.ok('PUT', `/api/v1/orgs/${f.orgId}/misuse/settings`, { enabled: false });
    return f;
  }
  const rules = (f: Fixture): string => `/api/v1/orgs/${f.orgId}/alert-rules`;
  const evaluate = (f: Fixture, now: number) => evaluateAlerts(ctx().store, now, { publicUrl: 'https://lb.example.test/', orgId: f.orgId });
  let seq = 0;
  async function press(f: Fixture, presses: Array<[number, 'satisfied' | 'dissatisfied']>): Promise<void> {
    for (let i = 0; i < presses.length; i += 1000) {
      const r = await api.votes(f.deviceToken, presses.slice(i, i + 1000).map(([ts, button]) => ({ id: `p-${++seq}`, ts, button })));
      assert.equal(r.status, 200, JSON.stringify(r.body));
    }
  }

  it('rules: create, read, replace, disable; viewers read, only org admins write', async () => {
    const f = await fixture('Europe/Moscow');
    const admin = await userToken(f.orgId, 'org-admin');
    const viewer = await userToken(f.orgId, 'viewer');
    const body = { name: 'Low score', kind: 'score_below', params: { threshold: 3 }, channels: { emails: [{ to: admin.id, lang: 'ru' }, { to: 'Boss@Example.test' }] }, quietHours: { start: '22:00', end: '07:00' } };
    const r = await api.ok('POST', rules(f), body, 201, admin.token);
    assert.equal(r.kind, 'score_below');
    assert.deepEqual(r.params, { threshold: 3, windowDays: 7 });
    assert.deepEqual(r.channels, { emails: [{ to: admin.id, lang: 'ru' }, { to: 'boss@example.test', lang: 'en' }], webhookIds: [] });
    assert.equal(r.enabled, true);
    assert.equal(r.critical, false);
    assert.equal(r.locationIds, null);
    assert.deepEqual((await api.ok('GET', rules(f), undefined, 200, viewer.token)).rows.map((x: any) => x.id), [r.id]);
    assert.equal((await api.call('POST', rules(f), body, viewer.token)).status, 403);
    assert.equal((await api.call('PUT', `${rules(f)}/${r.id}`, { ...body, enabled: false }, viewer.token)).status, 403);
    const off = await api.ok('PUT', `${rules(f)}/${r.id}`, { ...body, enabled: false, locationIds: [f.locationId] }, 200, admin.token);
    assert.equal(off.enabled, false);
    assert.deepEqual([off.createdBy, off.updatedBy], [admin.id, admin.id]);
    assert.deepEqual(off.locationIds, [f.locationId]);
    assert.deepEqual(await api.ok('GET', `${rules(f)}/${r.id}`, undefined, 200, viewer.token), off);
    assert.equal((await api.call('GET', `${rules(f)}/alr_nope`, undefined, viewer.token)).status, 404);
  });

  it('rules: malformed input is a 400 naming the field, and nothing is written', async () => {
    const f = await fixture('UTC');
    const other = await fixture('UTC');
    const hook = await api.ok('POST', `/api/v1/orgs/${other.orgId}/alert-webhooks`, { name: 'theirs', url: 'https://hooks.example.test/x' }, 201);
    const ok = { name: 'r', kind: 'spike' };
    const cases: Array<[unknown, string]> = [
      [{ kind: 'spike' }, 'name'],
      [{ ...ok, kind: 'earthquake' }, 'kind'],
      [{ ...ok, kind: 'score_below' }, 'params.threshold'],
      [{ ...ok, kind: 'score_below', params: { threshold: 7 } }, 'params.threshold'],
      [{ ...ok, kind: 'score_below', params: { threshold: 3, windowDays: 0 } }, 'params.windowDays'],
      [{ ...ok, locationIds: [other.locationId] }, 'locationIds[0]'],
      [{ ...ok, locationIds: [] }, 'locationIds'],
      [{ ...ok, channels: { emails: [{ to: 'not an address' }] } }, 'channels.emails[0].to'],
      [{ ...ok, channels: { emails: [{ to: 'a@b.test', lang: 'de' }] } }, 'channels.emails[0].lang'],
      [{ ...ok, channels: { webhookIds: [hook.id] } }, 'channels.webhookIds[0]'],
      [{ ...ok, quietHours: { start: '25:00', end: '07:00' } }, 'quietHours.start'],
      [{ ...ok, quietHours: { start: '07:00', end: '07:00' } }, 'quietHours.end'],
      [{ ...ok, enabled: 'yes' }, 'enabled'],
      [{ ...ok, params: { falseAlarmsPerWeek: 0 } }, 'params.falseAlarmsPerWeek'],
      [{ ...ok, params: { falseAlarmsPerWeek: 8 } }, 'params.falseAlarmsPerWeek'],
      [{ ...ok, params: { falseAlarmsPerWeek: 'many' } }, 'params.falseAlarmsPerWeek'],
    ];
    for (const [body, field] of cases) {
      const r = await api.call('POST', rules(f), body);
      assert.equal(r.status, 400, `${JSON.stringify(body)} → ${r.status} ${JSON.stringify(r.body)}`);
      assert.equal(r.body.error.field, field, `${JSON.stringify(body)} → ${JSON.stringify(r.body)}`);
    }
    assert.deepEqual((await api.ok('GET', rules(f), undefined)).rows, []);
    // The same checks on a replacement, which leaves the rule as it was.
    const rule = await api.ok('POST', rules(f), ok, 201);
    for (const [body, field] of cases) {
      const r = await api.call('PUT', `${rules(f)}/${rule.id}`, body);
      assert.equal(r.status, 400, `PUT ${JSON.stringify(body)} → ${r.status}`);
      assert.equal(r.body.error.field, field);
    }
    assert.deepEqual(await api.ok('GET', `${rules(f)}/${rule.id}`, undefined), rule);
    const w = await api.call('POST', `/api/v1/orgs/${f.orgId}/alert-webhooks`, { name: 'x', url: 'ftp://files.example.test' });
    assert.equal(w.status, 400);
    assert.equal(w.body.error.field, 'url');
    assert.deepEqual((await api.ok('GET', `/api/v1/orgs/${f.orgId}/alert-webhooks`, undefined)).rows, []);
    // The default destination policy (WEBHOOK_* unset): internal addresses, credentials in the URL.
    const internal = ['http://127.0.0.1/', 'http://169.254.169.254/latest/meta-data/', 'http://10.0.0.5:8080/x', 'http://[::1]/', 'http://[::ffff:192.168.1.1]/',
      'http://[fd00::1]/', 'http://100.64.0.1/', 'http://0x7f.1/', 'http://localhost:8080/', 'https://user:pw@hooks.example.test/'];
    for (const url of internal) {
      const r = await api.call('POST', `/api/v1/orgs/${f.orgId}/alert-webhooks`, { name: 'x', url });
      assert.equal(r.status, 400, url);
      assert.equal(r.body.error.field, 'url', url);
    }
    assert.deepEqual((await api.ok('GET', `/api/v1/orgs/${f.orgId}/alert-webhooks`, undefined)).rows, [], 'none of them saved');
    const mine = await api.ok('POST', `/api/v1/orgs/${f.orgId}/alert-webhooks`, { name: 'ops', url: 'https://hooks.example.test/ops' }, 201);
    for (const [body, field] of [[{ url: 'ftp://files.example.test' }, 'url'], [{ url: 'http://169.254.169.254/' }, 'url'], [{ url: 'http://192.168.0.10/', name: 'renamed' }, 'url'], [{ enabled: 'no' }, 'enabled'], [{ name: '' }, 'name']] as const) {
      const r = await api.call('PATCH', `/api/v1/orgs/${f.orgId}/alert-webhooks/${mine.id}`, body);
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.equal(r.body.error.field, field);
    }
    const { secret: _s, ...listed } = mine;
    assert.deepEqual((await api.ok('GET', `/api/v1/orgs/${f.orgId}/alert-webhooks`, undefined)).rows, [listed]);
    assert.equal((await api.ok('PATCH', `/api/v1/orgs/${f.orgId}/alert-webhooks/${mine.id}`, { enabled: false })).enabled, false);
    for (const [path, body, field] of [
      [`/api/v1/orgs/${f.orgId}/alerts?state=sleeping`, undefined, 'state'],
      [`/api/v1/orgs/${f.orgId}/alert-deliveries?state=lost`, undefined, 'state'],
    ] as const) {
      const r = await api.call('GET', path, body);
      assert.equal(r.status, 400);
      assert.equal(r.body.error.field, field);
    }
  });

  it('score_below: opens once, re-fires into the same alert, ack / comment / close with history, auto-closes on recovery', async () => {
    const f = await fixture('UTC');
    const admin = await userToken(f.orgId, 'org-admin');
    const rule = await api.ok('POST', rules(f), { name: 'Below 3', kind: 'score_below', params: { threshold: 3, windowDays: 2 } }, 201);
    // Recent times: people act on the alert at the real clock, and its history is in time order.
    const NOW = Date.now() - 10 * MIN;
    // 6 satisfied of 12 = 50 % → score 2 (defaults: 2 ≥ 50 %, 3 ≥ 65 %).
    await press(f, Array.from({ length: 12 }, (_, i) => [NOW - 2 * HOUR + i * MIN, i % 2 ? 'satisfied' : 'dissatisfied'] as [number, 'satisfied' | 'dissatisfied']));
    const first = await evaluate(f, NOW);
    assert.equal(first.opened.length, 1);
    // Two server nodes evaluating at the same moment still make one alert.
    const [x, y] = await Promise.all([evaluate(f, NOW + MIN / 2), evaluate(f, NOW + MIN / 2)]);
    assert.deepEqual([...x.opened, ...y.opened], []);
    assert.deepEqual([...x.updated, ...y.updated], [...first.opened, ...first.opened]);
    const again = await evaluate(f, NOW + MIN);
    assert.deepEqual(again.opened, []);
    assert.deepEqual(again.updated, first.opened, 're-firing updates the open alert');
    const list = (await api.ok('GET', `/api/v1/orgs/${f.orgId}/alerts`, undefined)).rows;
    assert.equal(list.length, 1);
    const a = list[0];
    assert.equal(a.state, 'open');
    assert.equal(a.ruleId, rule.id);
    assert.equal(a.value, 2);
    assert.equal(a.detail.share, 0.5);
    assert.equal(a.detail.total, 12);
    assert.equal(a.link, `https://lb.example.test/orgs/${f.orgId}/locations/${f.locationId}?from=${new Date(NOW - DAY).toISOString().slice(0, 10)}&to=${new Date(NOW).toISOString().slice(0, 10)}&days=7`);
    assert.equal(a.openedAt, new Date(NOW).toISOString());
    assert.equal(a.lastSeenAt, new Date(NOW + MIN).toISOString());

    const base = `/api/v1/orgs/${f.orgId}/alerts/${a.id}`;
    const acked = await api.ok('POST', `${base}/ack`, { comment: 'looking' }, 200, admin.token);
    assert.equal(acked.state, 'acknowledged');
    assert.equal(acked.acknowledgedBy, admin.id);
    assert.equal((await api.call('POST', `${base}/ack`, {}, admin.token)).status, 409);
    const noComment = await api.call('POST', `${base}/comment`, {}, admin.token);
    assert.equal(noComment.status, 400);
    assert.equal(noComment.body.error.field, 'comment');
    await api.ok('POST', `${base}/comment`, { comment: 'new barista on shift' }, 200, admin.token);

    // Recovery: 40 satisfied → 46 of 52 = 88 % → score 4.
    await press(f, Array.from({ length: 40 }, (_, i) => [NOW + 2 * MIN + i * 1000, 'satisfied'] as [number, 'satisfied']));
    const rec = await evaluate(f, Date.now() + MIN);
    assert.deepEqual(rec.closed, [a.id]);
    const done = await api.ok('GET', base, undefined);
    assert.equal(done.state, 'closed');
    assert.equal(done.closeReason, 'recovered');
    assert.equal(done.closedBy, null);
    assert.deepEqual(done.history.map((h: any) => [h.action, h.userId, h.comment]), [
      ['opened', null, null], ['acknowledged', admin.id, 'looking'], ['commented', admin.id, 'new barista on shift'], ['auto_closed', null, null],
    ]);
    assert.equal((await api.call('POST', `${base}/close`, { comment: 'x' }, admin.token)).status, 409);
  });

  it('a person closes an alert with a comment; it stays closed while the breach lasts and a new breach after recovery opens a new one', async () => {
    const f = await fixture('UTC');
    await api.ok('POST', rules(f), { name: 'Below 3', kind: 'score_below', params: { threshold: 3, windowDays: 1 } }, 201);
    await press(f, Array.from({ length: 10 }, (_, i) => [NOW - HOUR + i * MIN, 'dissatisfied'] as [number, 'dissatisfied']));
    const [id] = (await evaluate(f, NOW)).opened;
    const base = `/api/v1/orgs/${f.orgId}/alerts/${id}`;
    const bad = await api.call('POST', `${base}/close`, {});
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.field, 'comment');
    const closed = await api.ok('POST', `${base}/close`, { comment: 'spoke to the manager' });
    assert.equal(closed.state, 'closed');
    assert.equal(closed.closeReason, 'manual');
    assert.ok(closed.closedBy);
    assert.deepEqual(closed.history.at(-1).comment, 'spoke to the manager');
    assert.deepEqual((await evaluate(f, NOW + MIN)).opened, [], 'the same breach does not reopen');
    await press(f, Array.from({ length: 60 }, (_, i) => [NOW + 2 * MIN + i * 1000, 'satisfied'] as [number, 'satisfied']));
    assert.deepEqual((await evaluate(f, NOW + 4 * MIN)).opened, []);
    await press(f, Array.from({ length: 100 }, (_, i) => [NOW + 5 * MIN + i * 1000, 'dissatisfied'] as [number, 'dissatisfied']));
    const reopened = await evaluate(f, NOW + 8 * MIN);
    assert.equal(reopened.opened.length, 1);
    assert.notEqual(reopened.opened[0], id);
    const active = (await api.ok('GET', `/api/v1/orgs/${f.orgId}/alerts?state=active`, undefined)).rows;
    assert.deepEqual(active.map((a: any) => a.id), reopened.opened);
    // Open first, then closed.
    assert.deepEqual((await api.ok('GET', `/api/v1/orgs/${f.orgId}/alerts`, undefined)).rows.map((a: any) => a.state), ['open', 'closed']);
  });

  it('spike: a burst of complaints against a calm weekday × hour baseline opens an alert with its test figures; it closes itself an hour after', async () => {
    const f = await fixture('UTC');
    const rule = await api.ok('POST', rules(f), { name: 'Spike', kind: 'spike' }, 201);
    assert.deepEqual(rule.params, { falseAlarmsPerWeek: 0.25 });
    // Baseline: the 8 previous Tuesdays at 11:00–12:00 UTC, 20 presses each, 2 dissatisfied (10 %); other days 20 presses at 11:00 with 2 dissatisfied too.
    const history: Array<[number, 'satisfied' | 'dissatisfied']> = [];
    for (let d = 1; d <= 56; d++) for (let i = 0; i < 20; i++) history.push([NOW - d * DAY - HOUR + i * 3 * MIN, i < 2 ? 'dissatisfied' : 'satisfied']);
    await press(f, history);
    // A calm hour: no alert.
    await press(f, Array.from({ length: 10 }, (_, i) => [NOW - 50 * MIN + i * 3 * MIN, i === 0 ? 'dissatisfied' : 'satisfied'] as [number, 'satisfied' | 'dissatisfied']));
    assert.deepEqual((await evaluate(f, NOW - 19 * MIN)).opened, []);
    // Then 8 of 9 presses in 15 minutes are dissatisfied.
    await press(f, Array.from({ length: 9 }, (_, i) => [NOW - 15 * MIN + i * MIN, i === 4 ? 'satisfied' : 'dissatisfied'] as [number, 'satisfied' | 'dissatisfied']));
    const r = await evaluate(f, NOW);
    assert.equal(r.opened.length, 1);
    const a = await api.ok('GET', `/api/v1/orgs/${f.orgId}/alerts/${r.opened[0]}`, undefined);
    assert.equal(a.kind, 'spike');
    assert.equal(a.detail.at, new Date(NOW - 7 * MIN).toISOString());
    // Its p-value is the exact tail for the window it reports, at the reported baseline.
    assert.equal(a.detail.pValue, binomialTail(a.detail.dissatisfied, a.detail.votes, a.detail.baseline));
    assert.ok(a.detail.pValue < a.detail.alpha);
    // Baseline: 16 of 160 in this cell, 112 of 1120 overall → 10 %, shrunk and raised by its standard error.
    const m = 160 + 20, p = (16 + 20 * 0.1) / m;
    assert.ok(Math.abs(a.detail.baseline - (p + Math.sqrt(p * (1 - p) / m))) < 1e-12, String(a.detail.baseline));
    assert.equal(a.link, `https://lb.example.test/orgs/${f.orgId}/locations/${f.locationId}?from=2026-11-10&to=2026-11-10&days=7`);
    assert.deepEqual((await evaluate(f, NOW + 30 * MIN)).closed, [], 'still within the hour after the last significant window');
    assert.deepEqual((await evaluate(f, NOW - 7 * MIN + 61 * MIN)).closed, [a.id]);
    // alpha spends the rule's budget over 3 windows × 14 dissatisfied presses a week (112 in 8 weeks).
    assert.ok(Math.abs(a.detail.alpha - 0.25 / (3 * 14)) < 1e-15, String(a.detail.alpha));
    await api.ok('PUT', `${rules(f)}/${rule.id}`, { name: 'Spike', kind: 'spike', params: { falseAlarmsPerWeek: 2 } }, 200);
    const again = await evaluate(f, NOW);
    assert.equal(again.opened.length, 1);
    const b = await api.ok('GET', `/api/v1/orgs/${f.orgId}/alerts/${again.opened[0]}`, undefined);
    assert.ok(Math.abs(b.detail.alpha - 2 / (3 * 14)) < 1e-15, String(b.detail.alpha));
  });

  it('device_offline and battery_low: per device, closed when it is back / charged', async () => {
    const f = await fixture('Europe/Berlin');
    await api.ok('POST', rules(f), { name: 'Offline', kind: 'device_offline' }, 201);
    await api.ok('POST', rules(f), { name: 'Battery', kind: 'battery_low', params: { batteryPercent: 20 } }, 201);
    const now = Date.now();
    const db = ctx().store.db;
    await db.updateTable('devices').set({ claimed_at: now - 3 * DAY, last_seen_at: now - 2 * HOUR, battery: 12 }).where('id', '=', f.deviceId).execute();
    const r = await evaluateAlerts(ctx().store, now, { orgId: f.orgId });
    assert.equal(r.opened.length, 2);
    const rows = (await api.ok('GET', `/api/v1/orgs/${f.orgId}/alerts`, undefined)).rows;
    assert.deepEqual(rows.map((a: any) => a.kind).sort(), ['battery_low', 'device_offline']);
    assert.ok(rows.every((a: any) => a.deviceId === f.deviceId && a.locationId === f.locationId));
    assert.equal(rows.find((a: any) => a.kind === 'battery_low').value, 12);
    await db.updateTable('devices').set({ last_seen_at: now, battery: 90 }).where('id', '=', f.deviceId).execute();
    assert.equal((await evaluateAlerts(ctx().store, now + MIN, { orgId: f.orgId })).closed.length, 2);
  });

  it('quiet hours defer deliveries to their end in the location\'s zone; critical rules bypass them', async () => {
    const f = await fixture('Europe/Moscow'); // UTC+3 all year
    const hook = await api.ok('POST', `/api/v1/orgs/${f.orgId}/alert-webhooks`, { name: 'ops', url: 'https://hooks.example.test/a' }, 201);
    assert.match(hook.secret, /^lbw_/);
    assert.equal((await api.ok('GET', `/api/v1/orgs/${f.orgId}/alert-webhooks`, undefined)).rows[0].secret, undefined, 'the secret is shown once');
    const channels = { emails: [{ to: 'night@example.test' }], webhookIds: [hook.id] };
    await api.ok('POST', rules(f), { name: 'Quiet', kind: 'score_below', params: { threshold: 3, windowDays: 1 }, channels, quietHours: { start: '22:00', end: '07:00' } }, 201);
    await api.ok('POST', rules(f), { name: 'Loud', kind: 'score_below', critical: true, params: { threshold: 3, windowDays: 1 }, channels, quietHours: { start: '22:00', end: '07:00' } }, 201);
    const late = Date.parse('2026-11-10T20:30:00Z'); // 23:30 in Moscow
    await press(f, Array.from({ length: 10 }, (_, i) => [late - HOUR + i * MIN, 'dissatisfied'] as [number, 'dissatisfied']));
    assert.equal((await evaluate(f, late)).opened.length, 2);
    const pending = (await api.ok('GET', `/api/v1/orgs/${f.orgId}/alert-deliveries?state=pending`, undefined)).rows;
    assert.equal(pending.length, 4);
    const times = pending.map((d: any) => d.nextAt).sort();
    // Critical: now. Quiet: 07:00 Moscow the next morning = 04:00 UTC.
    assert.deepEqual(times, [new Date(late).toISOString(), new Date(late).toISOString(), '2026-11-11T04:00:00.000Z', '2026-11-11T04:00:00.000Z']);
  });

  it('tenancy: another org\'s users get 403 on every route, ids of another org are 404, managers see their locations\' alerts only, viewers cannot act', async () => {
    const A = await fixture('UTC');
    const B = await fixture('UTC');
    const locA2 = await api.ok('POST', `/api/v1/orgs/${A.orgId}/locations`, { name: 'Second', timezone: 'UTC' }, 201);
    const ruleA = await api.ok('POST', rules(A), { name: 'Below 3', kind: 'score_below', params: { threshold: 3, windowDays: 1 } }, 201);
    await press(A, Array.from({ length: 10 }, (_, i) => [NOW - HOUR + i * MIN, 'dissatisfied'] as [number, 'dissatisfied']));
    const [id] = (await evaluate(A, NOW)).opened;
    const hookA = await api.ok('POST', `/api/v1/orgs/${A.orgId}/alert-webhooks`, { name: 'a', url: 'https://hooks.example.test/a' }, 201);
    const bAdmin = await userToken(B.orgId, 'org-admin');
    const P = `/api/v1/orgs/${A.orgId}`;
    for (const [method, path, body] of [
      ['GET', `${P}/alert-rules`, undefined], ['POST', `${P}/alert-rules`, { name: 'x', kind: 'spike' }],
      ['GET', `${P}/alert-rules/${ruleA.id}`, undefined], ['PUT', `${P}/alert-rules/${ruleA.id}`, { name: 'x', kind: 'spike' }],
      ['GET', `${P}/alerts`, undefined], ['GET', `${P}/alerts/${id}`, undefined], ['POST', `${P}/alerts/${id}/ack`, {}],
      ['POST', `${P}/alerts/${id}/close`, { comment: 'mine now' }], ['GET', `${P}/alert-webhooks`, undefined],
      ['POST', `${P}/alert-webhooks`, { name: 'x', url: 'https://evil.example.test' }], ['GET', `${P}/alert-deliveries`, undefined],
      ['PATCH', `${P}/alert-webhooks/${hookA.id}`, { url: 'https://evil.example.test' }],
    ] as const) {
      const r = await api.call(method, path, body, bAdmin.token);
      assert.equal(r.status, 403, `${method} ${path} → ${r.status}`);
    }
    // A's alert through B's own org: not found.
    for (const path of [`/api/v1/orgs/${B.orgId}/alerts/${id}`, `/api/v1/orgs/${B.orgId}/alerts/${id}/ack`]) {
      const r = await api.call(path.endsWith('ack') ? 'POST' : 'GET', path, path.endsWith('ack') ? {} : undefined, bAdmin.token);
      assert.equal(r.status, 404, path);
    }
    // A's rule through B's own org: not found, and unchanged.
    assert.equal((await api.call('GET', `/api/v1/orgs/${B.orgId}/alert-rules/${ruleA.id}`, undefined, bAdmin.token)).status, 404);
    assert.equal((await api.call('PUT', `/api/v1/orgs/${B.orgId}/alert-rules/${ruleA.id}`, { name: 'mine', kind: 'spike' }, bAdmin.token)).status, 404);
    assert.deepEqual(await api.ok('GET', `${P}/alert-rules/${ruleA.id}`, undefined), ruleA);
    assert.equal((await api.call('PATCH', `/api/v1/orgs/${B.orgId}/alert-webhooks/${hookA.id}`, { url: 'https://evil.example.test' }, bAdmin.token)).status, 404);
    assert.equal((await api.ok('GET', `${P}/alert-webhooks`, undefined)).rows[0].url, 'https://hooks.example.test/a');
    assert.equal((await api.ok('GET', `${P}/alerts/${id}`, undefined)).state, 'open', 'unchanged');
    const elsewhere = await userToken(A.orgId, 'manager', [locA2.id]);
    assert.deepEqual((await api.ok('GET', `${P}/alerts`, undefined, 200, elsewhere.token)).rows, []);
    assert.equal((await api.call('GET', `${P}/alerts/${id}`, undefined, elsewhere.token)).status, 404);
    const here = await userToken(A.orgId, 'manager', [A.locationId]);
    assert.equal((await api.ok('POST', `${P}/alerts/${id}/ack`, {}, 200, here.token)).acknowledgedBy, here.id);
    const viewer = await userToken(A.orgId, 'viewer');
    assert.equal((await api.call('POST', `${P}/alerts/${id}/comment`, { comment: 'hi' }, viewer.token)).status, 403);
    assert.equal((await api.call('GET', `${P}/alerts`, undefined, viewer.token)).status, 200);
  });
});
