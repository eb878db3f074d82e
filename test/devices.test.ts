// Provisioning through a real server on both backends: devices created in bulk, claimed by code
// (once, before it expires) so that their presses count where they were placed; QR codes that
// decode to the claim URL; token rotation, revocation and retirement taking effect at once;
// per-device settings validated, stored, emitted and fetched by the device; and tenancy on every
// route this adds. Expected values come from what the test sent, never from the server's code.
import { it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { PNG } from 'pngjs';
import jsQRModule from 'jsqr';
import { Api, eachBackend, assertError, unique } from './harness.ts';
import type { DeviceSettingsEvent } from '../src/devices/events.ts';

// Crockford base32 without I, L, O, U, as two groups of five.
const CODE_RE = /^[0-9A-HJKMNP-TV-Z]{5}-[0-9A-HJKMNP-TV-Z]{5}$/;
const TZ = 'Europe/Moscow';
let seq = 0;


// jsQR is CommonJS whose exports are the function itself (also as .default); its types describe only .default.
const jsQR = jsQRModule.default;
const press = (ts: number, button: 'satisfied' | 'dissatisfied' = 'satisfied') => ({ id: `p-${++seq}`, ts, button });
const localDay = (ts: number): string => new Intl.DateTimeFormat('sv-SE', { timeZone: TZ, year: 'numeric', month: '2-digit', day: '2-digit' }).format(new Date(ts));

eachBackend('device provisioning', (ctx) => {
  let api: Api;
  before(async () => { api = await Api.start(ctx().store); });
  after(async () => { await api?.close(); });

  /** An org with one location (and a touchpoint there); ids. */
  async function org(): Promise<{ orgId: string; locationId: string; touchpointId: string }> {
    const o = await api.ok('POST', '/api/v1/orgs', { name: unique('Org') }, 201);
    const loc = await api.ok('POST', `/api/v1/orgs/${o.id}/locations`, { name: 'Hall', timezone: TZ }, 201);
    const tp = await api.ok('POST', `/api/v1/orgs/${o.id}/touchpoints`, { name: 'Desk', locationId: loc.id, channel: 'counter' }, 201);
    return { orgId: o.id, locationId: loc.id, touchpointId: tp.id };
  }
  /** A user of `orgId` with `role`, signed in; their API token. */
  async function userToken(orgId: string, role: 'org-admin' | 'manager' | 'viewer', locationIds?: string[]): Promise<string> {
    const email = `${unique(role)}@example.test`;
    await api.ok('POST', `/api/v1/orgs/${orgId}/users`, { email, name: role, role, password: 'long enough password', ...(locationIds ? { locationIds } : {}) }, 201);
    return (await api.ok('POST', '/api/v1/auth/token', { email, password: 'long enough password' })).token;
  }

  it('bulk-created devices wait unplaced; a claim by code places one in one call and its presses count there at once', async () => {
    const { orgId, locationId, touchpointId } = await org();
    const bulk = await api.ok('POST', `/api/v1/orgs/${orgId}/devices/bulk`, { kind: 'panel', count: 3, namePrefix: 'Hall panel' }, 201);
    assert.equal(bulk.devices.length, 3);
    assert.deepEqual(bulk.devices.map((d: any) => d.name), ['Hall panel 001', 'Hall panel 002', 'Hall panel 003']);
    assert.equal(bulk.batch.count, 3);
    assert.equal(new Set(bulk.devices.map((d: any) => d.token)).size, 3, 'one token each');
    assert.equal(new Set(bulk.devices.map((d: any) => d.claimCode)).size, 3, 'one code each');
    for (const d of bulk.devices) {
      assert.match(d.claimCode, CODE_RE);
      assert.equal(d.claimUrl, `${api.url}/claim/${d.claimCode}`, 'the request origin when PUBLIC_URL is not set');
      assert.ok(d.token.length >= 40);
    }
    const listed = (await api.ok('GET', `/api/v1/orgs/${orgId}/devices`, undefined)).rows;
    assert.deepEqual(listed.map((d: any) => [d.name, d.status, d.locationId]), bulk.devices.map((d: any) => [d.name, 'unclaimed', null]));
    assert.ok(!JSON.stringify(listed).includes(bulk.devices[0].token), 'tokens are shown once');

    const [dev] = bulk.devices;
    const t0 = Date.now() - 3_600_000;
    // Unplaced: refused (409), nothing stored. This also leaves "no placement" in the ingest cache.
    assertError(await api.votes(dev.token, [press(t0)]), 409, undefined, 'conflict');

    // Typed by a person: lower case, no dash, an O for a 0 and an l for a 1 would still do.
    const typed = dev.claimCode.replace('-', '').toLowerCase();
    const claimed = await api.ok('POST', `/api/v1/orgs/${orgId}/claim`, { code: typed, locationId, touchpointId });
    assert.deepEqual([claimed.id, claimed.status, claimed.locationId, claimed.touchpointId, claimed.employeeId], [dev.id, 'active', locationId, touchpointId, null]);

    // At once (no cache delay on this node), and presses it buffered before the claim count too.
    const r = await api.votes(dev.token, [press(t0, 'satisfied'), press(t0 + 60_000, 'dissatisfied'), press(Date.now() - 1000, 'satisfied')]);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(r.body, { accepted: 3, duplicates: 0 });
    const day = localDay(t0);
    const from = day < localDay(Date.now()) ? day : localDay(Date.now());
    const rows = await api.scores(orgId, { from, to: localDay(Date.now()), by: 'location' });
    assert.deepEqual(rows.map((x: any) => [x.key, x.satisfied, x.dissatisfied]), [[locationId, 2, 1]]);
    const byTp = await api.scores(orgId, { from, to: localDay(Date.now()), by: 'touchpoint' });
    assert.deepEqual(byTp.map((x: any) => [x.key, x.satisfied + x.dissatisfied]), [[touchpointId, 3]]);
    // The other two still wait.
    assertError(await api.votes(bulk.devices[1].token, [press(t0)]), 409);

    // A second batch with the same prefix continues the series.
    const more = await api.ok('POST', `/api/v1/orgs/${orgId}/devices/bulk`, { kind: 'fob', count: 2, namePrefix: 'Hall panel' }, 201);
    assert.deepEqual(more.devices.map((d: any) => d.name), ['Hall panel 004', 'Hall panel 005']);
    const batches = (await api.ok('GET', `/api/v1/orgs/${orgId}/device-batches`, undefined)).rows;
    assert.deepEqual(batches.map((b: any) => [b.id, b.count, b.claimed]), [[more.batch.id, 2, 0], [bulk.batch.id, 3, 1]]);
  });

  it('a claim code works once; wrong, malformed, foreign and expired codes are refused naming the field', async () => {
    const a = await org();
    const b = await org();
    const bulk = await api.ok('POST', `/api/v1/orgs/${a.orgId}/devices/bulk`, { kind: 'panel', count: 2 }, 201);
    assert.deepEqual(bulk.devices.map((d: any) => d.name), ['panel 001', 'panel 002'], 'the kind is the default prefix');
    const [one, two] = bulk.devices;
    await api.ok('POST', `/api/v1/orgs/${a.orgId}/claim`, { code: one.claimCode, locationId: a.locationId });
    const again = await api.call('POST', `/api/v1/orgs/${a.orgId}/claim`, { code: one.claimCode, locationId: a.locationId });
    assertError(again, 409, 'code', 'conflict');
    assert.match(again.body.error.message, /already used/);

    assertError(await api.call('POST', `/api/v1/orgs/${a.orgId}/claim`, { code: 'abc', locationId: a.locationId }), 400, 'code', 'invalid_field');
    assertError(await api.call('POST', `/api/v1/orgs/${a.orgId}/claim`, { code: 'ZZZZZ-ZZZZZ', locationId: a.locationId }), 400, 'code', 'invalid_field');
    assertError(await api.call('POST', `/api/v1/orgs/${a.orgId}/claim`, { locationId: a.locationId }), 400, 'code', 'invalid_field');
    assertError(await api.call('POST', `/api/v1/orgs/${a.orgId}/claim`, { code: two.claimCode }), 400, 'locationId', 'invalid_field');
    // Another org's code is unknown here; another org's location cannot be used either.
    assertError(await api.call('POST', `/api/v1/orgs/${b.orgId}/claim`, { code: two.claimCode, locationId: b.locationId }), 400, 'code');
    assertError(await api.call('POST', `/api/v1/orgs/${a.orgId}/claim`, { code: two.claimCode, locationId: b.locationId }), 400, 'locationId');
    assertError(await api.call('POST', `/api/v1/orgs/${a.orgId}/claim`, { code: two.claimCode, locationId: a.locationId, touchpointId: b.touchpointId }), 400, 'touchpointId');
    // None of these used it up.
    assert.equal((await api.ok('GET', `/api/v1/orgs/${a.orgId}/devices/${two.id}`, undefined)).status, 'unclaimed');

    // Expired: the code's validity ended a moment ago.
    await ctx().store.db.updateTable('device_claims').set({ expires_at: Date.now() - 1000 }).where('device_id', '=', two.id).execute();
    const expired = await api.call('POST', `/api/v1/orgs/${a.orgId}/claim`, { code: two.claimCode, locationId: a.locationId });
    assertError(expired, 400, 'code', 'invalid_field');
    assert.match(expired.body.error.message, /expired/);
    // A new code for it; the old one stays dead, the new one works once.
    const fresh = await api.ok('POST', `/api/v1/orgs/${a.orgId}/devices/${two.id}/claim-code`, { claimTtlDays: 7 }, 201);
    assert.match(fresh.code, CODE_RE);
    assert.notEqual(fresh.code, two.claimCode);
    assert.ok(Math.abs(Date.parse(fresh.expiresAt) - (Date.now() + 7 * 86_400_000)) < 60_000);
    await api.ok('POST', `/api/v1/orgs/${a.orgId}/claim`, { code: fresh.code, locationId: a.locationId, name: 'Entrance' });
    assert.equal((await api.ok('GET', `/api/v1/orgs/${a.orgId}/devices/${two.id}`, undefined)).name, 'Entrance');
    assertError(await api.call('POST', `/api/v1/orgs/${a.orgId}/devices/${two.id}/claim-code`, {}), 409, 'device');

    // Malformed bulk requests.
    assertError(await api.call('POST', `/api/v1/orgs/${a.orgId}/devices/bulk`, { kind: 'panel', count: 501 }), 400, 'count');
    assertError(await api.call('POST', `/api/v1/orgs/${a.orgId}/devices/bulk`, { kind: 'panel', count: 0 }), 400, 'count');
    assertError(await api.call('POST', `/api/v1/orgs/${a.orgId}/devices/bulk`, { kind: 'toaster', count: 2 }), 400, 'kind');
    assertError(await api.call('POST', `/api/v1/orgs/${a.orgId}/devices/bulk`, { kind: 'panel' }), 400, 'count');
    assertError(await api.call('POST', `/api/v1/orgs/${a.orgId}/devices/bulk`, { kind: 'panel', count: 2, claimTtlDays: 0 }), 400, 'claimTtlDays');
    assertError(await api.call('POST', `/api/v1/orgs/${a.orgId}/devices/bulk`, { kind: 'panel', count: 2, namePrefix: '   ' }), 400, 'namePrefix');
  });

  it('two simultaneous claims of one code: exactly one wins', async () => {
    const a = await org();
    const [dev] = (await api.ok('POST', `/api/v1/orgs/${a.orgId}/devices/bulk`, { kind: 'panel', count: 1 }, 201)).devices;
    const results = await Promise.all(Array.from({ length: 4 }, () => api.call('POST', `/api/v1/orgs/${a.orgId}/claim`, { code: dev.claimCode, locationId: a.locationId })));
    assert.deepEqual(results.map((r) => r.status).sort(), [200, 409, 409, 409]);
    const assignments = await ctx().store.db.selectFrom('device_assignments').select('id').where('device_id', '=', dev.id).execute();
    assert.equal(assignments.length, 1, 'placed once');
  });

  it('QR codes: the PNG decodes to the claim URL, the SVG carries it; the batch sheet lists every label', async () => {
    const a = await org();
    const b = await org();
    const prev = process.env['PUBLIC_URL'];
    process.env['PUBLIC_URL'] = 'https://buttons.example.test/';
    let bulk: any;
    try {
      bulk = await api.ok('POST', `/api/v1/orgs/${a.orgId}/devices/bulk`, { kind: 'fob', count: 2, namePrefix: 'Terrace <fob>' }, 201);
    } finally {
      if (prev === undefined) delete process.env['PUBLIC_URL'];
      else process.env['PUBLIC_URL'] = prev;
    }
    const dev = bulk.devices[0];
    assert.equal(dev.claimUrl, `https://buttons.example.test/claim/${dev.claimCode}`, 'PUBLIC_URL, without a doubled slash');
    const expectUrl = `${api.url}/claim/${dev.claimCode}`; // PUBLIC_URL is unset again now

    const png = await fetch(api.url + dev.qrPng, { headers: { authorization: `Bearer ${api.adminToken}` } });
    assert.equal(png.status, 200);
    assert.equal(png.headers.get('content-type'), 'image/png');
    const bytes = Buffer.from(await png.arrayBuffer());
    assert.deepEqual([...bytes.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'PNG signature');
    // Decoded by an independent reader (jsQR over pngjs's pixels, both devDependencies only for
    // this): the label a phone scans leads to the claim page of exactly this code.
    const img = PNG.sync.read(bytes);
    const decoded = jsQR(new Uint8ClampedArray(img.data.buffer, img.data.byteOffset, img.data.length), img.width, img.height);
    assert.ok(decoded, 'a QR code is found in the PNG');
    assert.equal(decoded.data, expectUrl);

    const svg = await api.call('GET', dev.qrSvg);
    assert.equal(svg.status, 200);
    assert.match(svg.headers.get('content-type') ?? '', /^image\/svg\+xml/);
    assert.match(svg.body, /^<svg[^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    assert.ok(svg.body.includes(`<title>${expectUrl}</title>`), 'the SVG carries the claim URL');
    assert.match(svg.body, /<path [^>]*d="M/);

    // The claim page the URL opens.
    const page = await fetch(expectUrl);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /Claim a device/);

    // Someone else's code, or none at all, is not found; another org's admin is refused.
    assertError(await api.call('GET', `/api/v1/orgs/${b.orgId}/claim-codes/${dev.claimCode}/qr.png`), 404);
    assertError(await api.call('GET', `/api/v1/orgs/${a.orgId}/claim-codes/not-a-code/qr.svg`), 404);
    const bAdmin = await userToken(b.orgId, 'org-admin');
    assertError(await api.call('GET', dev.qrPng, undefined, bAdmin), 403);

    // The sheet: JSON and printable HTML; a claimed device leaves the labels.
    await api.ok('POST', `/api/v1/orgs/${a.orgId}/claim`, { code: bulk.devices[1].claimCode, locationId: a.locationId });
    const sheet = await api.ok('GET', `/api/v1/orgs/${a.orgId}/device-batches/${bulk.batch.id}`, undefined);
    assert.deepEqual(sheet.devices.map((d: any) => [d.deviceId, d.claimCode, d.status, d.codeState]),
      [[dev.id, dev.claimCode, 'unclaimed', 'valid'], [bulk.devices[1].id, bulk.devices[1].claimCode, 'active', 'used']]);
    const html = await api.call('GET', `/api/v1/orgs/${a.orgId}/device-batches/${bulk.batch.id}/sheet.html`);
    assert.equal(html.status, 200);
    assert.match(html.headers.get('content-type') ?? '', /^text\/html/);
    assert.equal(html.body.split('class="label"').length - 1, 1, 'one label: the unclaimed device');
    assert.ok(html.body.includes(dev.claimCode) && html.body.includes(`<title>${expectUrl}</title>`));
    assert.ok(html.body.includes('Terrace &lt;fob&gt; 001') && !html.body.includes('<fob>'), 'names are escaped');
    assertError(await api.call('GET', `/api/v1/orgs/${b.orgId}/device-batches/${bulk.batch.id}/sheet.html`), 404);
  });

  it('token rotation: the old token is refused at once, the new one works; revoke and retire', async () => {
    const f = await api.fixture(TZ);
    const now = Date.now();
    // Presses at least 10 s apart: closer ones of the same button would be `repeat`s (src/misuse), held out of `total`.
    assert.equal((await api.votes(f.deviceToken, [press(now - 50_000)])).status, 200); // the old token is in the cache now
    const rotated = await api.ok('POST', `/api/v1/orgs/${f.orgId}/devices/${f.deviceId}/token`, undefined);
    assert.equal(rotated.id, f.deviceId);
    assert.notEqual(rotated.token, f.deviceToken);
    assertError(await api.votes(f.deviceToken, [press(now - 40_000)]), 401, undefined, 'unauthorized');
    assertError(await api.call('POST', '/api/v1/ingest/heartbeat', { battery: 50 }, f.deviceToken), 401);
    assert.deepEqual((await api.votes(rotated.token, [press(now - 30_000)])).body, { accepted: 1, duplicates: 0 });

    // Revoked: nothing works until a new token is rotated in.
    const del = await api.call('DELETE', `/api/v1/orgs/${f.orgId}/devices/${f.deviceId}/token`);
    assert.equal(del.status, 204);
    assertError(await api.votes(rotated.token, [press(now - 20_000)]), 401);
    const third = await api.ok('POST', `/api/v1/orgs/${f.orgId}/devices/${f.deviceId}/token`, undefined);
    assert.equal((await api.votes(third.token, [press(now - 20_000)])).status, 200);

    // Retired: refused for good, out of the fleet view, its presses still counted.
    const retired = await api.ok('POST', `/api/v1/orgs/${f.orgId}/devices/${f.deviceId}/retire`, undefined);
    assert.equal(retired.status, 'retired');
    assert.equal(retired.locationId, null, 'no current placement');
    assertError(await api.votes(third.token, [press(now - 10_000)]), 401);
    assertError(await api.call('POST', `/api/v1/orgs/${f.orgId}/devices/${f.deviceId}/token`), 409, 'device');
    assertError(await api.call('PUT', `/api/v1/orgs/${f.orgId}/devices/${f.deviceId}/settings`, { brightness: 10 }), 409, 'device');
    assertError(await api.call('POST', `/api/v1/orgs/${f.orgId}/devices/${f.deviceId}/assignment`, { locationId: f.locationId }), 409);
    assert.equal((await api.ok('GET', `/api/v1/orgs/${f.orgId}/fleet`, undefined)).total, 0);
    const rows = await api.scores(f.orgId, { from: localDay(now - 86_400_000), to: localDay(now), by: 'total' });
    assert.equal(rows.reduce((s: number, r: any) => s + r.total, 0), 3);
    // Events on the bus for the MQTT transport to drop sessions.
    assertError(await api.call('POST', `/api/v1/orgs/${f.orgId}/devices/dev_nope/token`), 404);
  });

  it('settings: documented defaults, validation naming the field, updates stored, emitted and fetched by the device', async () => {
    const f = await api.fixture(TZ);
    const events: DeviceSettingsEvent[] = [];
    const listener = (e: DeviceSettingsEvent) => { if (e.deviceId === f.deviceId) events.push(e); };
    api.server.ctx.bus.on('settings', listener);
    try {
      const path = `/api/v1/orgs/${f.orgId}/devices/${f.deviceId}/settings`;
      const defaults = { repeatWindowSeconds: 10, brightness: 80, sleepAfterSeconds: 60, heartbeatSeconds: 300, sound: true };
      assert.deepEqual(await api.ok('GET', path, undefined), { deviceId: f.deviceId, settings: defaults, overrides: {}, version: 0 });

      const set = await api.ok('PUT', path, { brightness: 30, repeatWindowSeconds: 5 });
      assert.deepEqual(set, { deviceId: f.deviceId, settings: { ...defaults, brightness: 30, repeatWindowSeconds: 5 }, overrides: { brightness: 30, repeatWindowSeconds: 5 }, version: 1 });
      assert.deepEqual(events, [{ deviceId: f.deviceId, orgId: f.orgId, settings: set.settings, version: 1 }]);

      for (const [body, field] of [
        [{ brightness: 101 }, 'brightness'], [{ brightness: 50.5 }, 'brightness'], [{ sleepAfterSeconds: 'soon' }, 'sleepAfterSeconds'],
        [{ repeatWindowSeconds: -1 }, 'repeatWindowSeconds'], [{ heartbeatSeconds: 10 }, 'heartbeatSeconds'], [{ sound: 'yes' }, 'sound'], [{ colour: 'red' }, 'colour'],
      ] as const) {
        assertError(await api.call('PUT', path, body), 400, field, 'invalid_field');
      }
      assertError(await api.call('PUT', path, '[1,2]'), 400);
      assert.equal(events.length, 1, 'refused changes are not pushed');

      // null resets one field to its default; the others keep their value.
      const reset = await api.ok('PUT', path, { brightness: null, sound: false });
      assert.deepEqual(reset.settings, { ...defaults, repeatWindowSeconds: 5, sound: false });
      assert.deepEqual(reset.overrides, { repeatWindowSeconds: 5, sound: false });
      assert.equal(reset.version, 2);
      assert.deepEqual(events.map((e) => e.version), [1, 2]);

      // The device fetches the same over HTTP with its own token; a user token is refused there.
      const mine = await api.ok('GET', '/api/v1/ingest/settings', undefined, 200, f.deviceToken);
      assert.deepEqual(mine, reset);
      assertError(await api.call('GET', '/api/v1/ingest/settings'), 403);
      assertError(await api.call('GET', '/api/v1/ingest/settings', undefined, null), 401);
      assertError(await api.call('GET', `/api/v1/orgs/${f.orgId}/devices/dev_nope/settings`), 404);
    } finally {
      api.server.ctx.bus.off('settings', listener);
    }
  });

  it('tenancy: another organisation\'s users get 403 or 404 on every device route; managers and viewers are limited', async () => {
    const a = await org();
    const b = await org();
    const bulkA = await api.ok('POST', `/api/v1/orgs/${a.orgId}/devices/bulk`, { kind: 'panel', count: 2 }, 201);
    const devA = await api.ok('POST', `/api/v1/orgs/${a.orgId}/devices`, { kind: 'panel', locationId: a.locationId }, 201);
    const adminB = await userToken(b.orgId, 'org-admin');
    const A = `/api/v1/orgs/${a.orgId}`;
    const code = bulkA.devices[0].claimCode;
    const routes: Array<[string, string, unknown?]> = [
      ['GET', `${A}/devices`], ['GET', `${A}/devices/${devA.id}`], ['POST', `${A}/devices`, { kind: 'panel', locationId: a.locationId }],
      ['POST', `${A}/devices/bulk`, { kind: 'panel', count: 1 }], ['GET', `${A}/device-batches`], ['GET', `${A}/device-batches/${bulkA.batch.id}`],
      ['GET', `${A}/device-batches/${bulkA.batch.id}/sheet.html`], ['GET', `${A}/claim-codes/${code}/qr.png`], ['GET', `${A}/claim-codes/${code}/qr.svg`],
      ['POST', `${A}/devices/${bulkA.devices[1].id}/claim-code`, {}], ['POST', `${A}/claim`, { code, locationId: a.locationId }],
      ['POST', `${A}/devices/${devA.id}/token`], ['DELETE', `${A}/devices/${devA.id}/token`], ['POST', `${A}/devices/${devA.id}/retire`],
      ['GET', `${A}/devices/${devA.id}/settings`], ['PUT', `${A}/devices/${devA.id}/settings`, { brightness: 1 }],
      ['POST', `${A}/devices/${devA.id}/assignment`, { locationId: a.locationId }],
      ['GET', `${A}/fleet`], ['GET', `${A}/fleet/settings`], ['PUT', `${A}/fleet/settings`, { staleAfterMinutes: 5 }], ['GET', `${A}/fleet/events`],
      ['GET', `/api/v1/claim-codes/${code}`],
    ];
    for (const [method, path, body] of routes) {
      const r = await api.call(method, path, body, adminB);
      assert.ok(r.status === 403 || r.status === 404, `${method} ${path} as another org's admin → ${r.status} ${JSON.stringify(r.body)}`);
      assert.equal(typeof r.body.error.code, 'string');
      assertError(await api.call(method, path, body, null), 401); // and strangers are asked who they are
    }
    // A's own device addressed through B's path is not found (B's admin, B's path).
    assertError(await api.call('GET', `/api/v1/orgs/${b.orgId}/devices/${devA.id}`, undefined, adminB), 404);
    assertError(await api.call('POST', `/api/v1/orgs/${b.orgId}/devices/${devA.id}/token`, undefined, adminB), 404);
    assertError(await api.call('PUT', `/api/v1/orgs/${b.orgId}/devices/${devA.id}/settings`, { brightness: 1 }, adminB), 404);
    // Nothing of A changed.
    assert.equal((await api.ok('GET', `${A}/devices/${devA.id}`, undefined)).status, 'active');
    assert.equal((await api.ok('GET', `${A}/devices/${bulkA.devices[0].id}`, undefined)).status, 'unclaimed');

    // The claim page's lookup: A's admin learns what the code is for.
    const info = await api.ok('GET', `/api/v1/claim-codes/${code.toLowerCase()}`, undefined);
    assert.deepEqual([info.code, info.state, info.orgId, info.device.id, info.device.status], [code, 'valid', a.orgId, bulkA.devices[0].id, 'unclaimed']);

    // A manager of one location claims into it, not into another; sees only devices placed there.
    const loc2 = await api.ok('POST', `${A}/locations`, { name: 'Annex', timezone: TZ }, 201);
    const manager = await userToken(a.orgId, 'manager', [loc2.id]);
    assertError(await api.call('POST', `${A}/claim`, { code, locationId: a.locationId }, manager), 403);
    assertError(await api.call('POST', `${A}/devices/bulk`, { kind: 'panel', count: 1 }, manager), 403);
    const placed = await api.ok('POST', `${A}/claim`, { code, locationId: loc2.id }, 200, manager);
    assert.equal(placed.locationId, loc2.id);
    assert.deepEqual((await api.ok('GET', `${A}/devices`, undefined, 200, manager)).rows.map((d: any) => d.id), [placed.id]);
    assertError(await api.call('GET', `${A}/devices/${devA.id}`, undefined, manager), 404);
    assertError(await api.call('GET', `${A}/devices/${devA.id}/settings`, undefined, manager), 404);
    const viewer = await userToken(a.orgId, 'viewer');
    assertError(await api.call('POST', `${A}/claim`, { code: bulkA.devices[1].claimCode, locationId: a.locationId }, viewer), 403);
    assertError(await api.call('GET', `/api/v1/claim-codes/${bulkA.devices[1].claimCode}`, undefined, viewer), 404);
    assertError(await api.call('PUT', `${A}/devices/${devA.id}/settings`, { brightness: 1 }, viewer), 403);
    // A device token is no user.
    assertError(await api.call('GET', `${A}/fleet`, undefined, bulkA.devices[1].token), 403);
  });
});
