// Delivery of alerts (README "Alerts"): to a real HTTP receiver started here that checks the
// HMAC signature and the body, with failures retried on the documented backoff and, past the last
// attempt, a dead letter that the API re-drives; and to a real SMTP listener (smtp-server): the
// message in each recipient's language, an SMTP outage retried from the outbox. Time is injected.
// The receiver is on 127.0.0.1, which webhooks may not reach by default: the server and the delivery
// passes here allow that one address explicitly, and the default's refusal is tested too.
import { it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server as HttpServer } from 'node:http';
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { type AddressObject } from 'mailparser';
import { SmtpListener } from './smtp.ts';
import { Api, eachBackend, type Fixture } from './harness.ts';
import { evaluateAlerts } from '../src/alerts/evaluate.ts';
import { deliverDue } from '../src/alerts/delivery.ts';
import { DestinationPolicy, type Resolve } from '../src/alerts/destination.ts';
import { Mailer } from '../src/mail/mailer.ts';

const MIN = 60_000;
const S = 1000;
const NOW = Date.parse('2026-11-10T12:00:00Z');
/** The receiver's address, allowed as an operator would with WEBHOOK_ALLOWED_NETWORKS=127.0.0.1. */
const RECEIVER = { allowedNetworks: ['127.0.0.1'] };
type Hit = { headers: Record<string, string | string[] | undefined>; body: string; verified: boolean; json: any };

eachBackend('alert delivery', (ctx) => {
  let api: Api;
  let receiver: HttpServer;
  let hookUrl = '';
  let port = 0;
  const hits: Hit[] = [];
  let answer = 200;
  let secret = '';
  before(async () => {
    api = await Api.start(ctx().store, { webhooks: RECEIVER });
    await api.server.alerts?.evaluator.stop();
    await api.server.alerts?.delivery.stop();
    receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        // The receiver's own check, as the README tells integrators to do it.
        const ts = String(req.headers['x-loyalty-timestamp']);
        const want = Buffer.from(`sha256=${createHmac('sha256', secret).update(`${ts}.${body}`).digest('hex')}`);
        const got = Buffer.from(String(req.headers['x-loyalty-signature']));
        hits.push({ headers: req.headers, body, verified: want.length === got.length && timingSafeEqual(want, got), json: JSON.parse(body) });
        res.statusCode = answer;
        res.end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    port = (receiver.address() as AddressInfo).port;
    hookUrl = `http://127.0.0.1:${port}/alerts`;
  });
  after(async () => { await api.close(); receiver.closeAllConnections(); await new Promise<void>((r) => receiver.close(() => r())); });

  /** An org with a score_below rule delivering to `channels`, and a breach at NOW. */
  async function breach(channels: (f: Fixture) => Promise<unknown>): Promise<{ f: Fixture; alertId: string }> {
    const f = await api.fixture('Europe/Moscow');
    await api.ok('PUT', `/api/v1/orgs/${f.orgId}/misuse/settings`, { enabled: false });
    await api.ok('POST', `/api/v1/orgs/${f.orgId}/alert-rules`, { name: 'Низкая оценка', kind: 'score_below', params: { threshold: 3, windowDays: 1 }, channels: await channels(f) }, 201);
    const r = await api.votes(f.deviceToken, Array.from({ length: 10 }, (_, i) => ({ id: `d${i}`, ts: NOW - 30 * MIN + i * MIN, button: 'dissatisfied' })));
    assert.equal(r.status, 200);
    const ev = await evaluateAlerts(ctx().store, NOW, { orgId: f.orgId, publicUrl: 'https://lb.example.test' });
    assert.equal(ev.opened.length, 1);
    return { f, alertId: ev.opened[0]! };
  }
  const webhook = async (f: Fixture): Promise<{ webhookIds: string[] }> => {
    const h = await api.ok('POST', `/api/v1/orgs/${f.orgId}/alert-webhooks`, { name: 'ops', url: hookUrl }, 201);
    secret = h.secret;
    return { webhookIds: [h.id] };
  };
  const opts = { backoffMs: 30 * S, maxAttempts: 4, mailer: null, webhooks: new DestinationPolicy(RECEIVER) };

  it('webhook: signed JSON; failures retried with exponential backoff (30 s, 60 s) until delivered', async () => {
    hits.length = 0;
    const { f, alertId } = await breach(webhook);
    answer = 503;
    // Two nodes' delivery loops at once: the row is claimed by one of them, sent once.
    const both = await Promise.all([deliverDue(ctx().store, NOW, opts), deliverDue(ctx().store, NOW, opts)]);
    assert.equal(both[0].failed + both[1].failed, 1);
    assert.equal(hits.length, 1);
    assert.deepEqual(await deliverDue(ctx().store, NOW + 29 * S, opts), { delivered: 0, failed: 0, dead: 0 }, 'not before 30 s');
    assert.deepEqual(await deliverDue(ctx().store, NOW + 30 * S, opts), { delivered: 0, failed: 1, dead: 0 });
    const pending = (await api.ok('GET', `/api/v1/orgs/${f.orgId}/alert-deliveries?state=pending`, undefined)).rows;
    assert.equal(pending.length, 1);
    assert.equal(pending[0].attempts, 2);
    assert.equal(pending[0].nextAt, new Date(NOW + 30 * S + 60 * S).toISOString(), 'then 60 s');
    assert.equal(pending[0].lastError, 'webhook answered 503');
    answer = 200;
    assert.deepEqual(await deliverDue(ctx().store, NOW + 89 * S, opts), { delivered: 0, failed: 0, dead: 0 });
    assert.deepEqual(await deliverDue(ctx().store, NOW + 90 * S, opts), { delivered: 1, failed: 0, dead: 0 });
    assert.equal(hits.length, 3);
    assert.ok(hits.every((h) => h.verified), 'every attempt is signed with the webhook secret');
    assert.equal(new Set(hits.map((h) => h.headers['x-loyalty-delivery'])).size, 1, 'one delivery id across retries, for the receiver to deduplicate');
    assert.deepEqual(hits.map((h) => Number(h.headers['x-loyalty-timestamp'])), [NOW / 1000, NOW / 1000 + 30, NOW / 1000 + 90]);
    const body = hits[2]!.json;
    assert.equal(body.event, 'alert.opened');
    assert.equal(body.alert.id, alertId);
    assert.equal(body.alert.kind, 'score_below');
    assert.equal(body.alert.value, 1);
    assert.equal(body.alert.detail.total, 10);
    assert.equal(body.rule.name, 'Низкая оценка');
    assert.deepEqual(body.location, { id: f.locationId, name: 'Main street', timezone: 'Europe/Moscow' });
    assert.equal(body.alert.link, `https://lb.example.test/orgs/${f.orgId}/locations/${f.locationId}?from=2026-11-10&to=2026-11-10&days=7`);
    // A tampered body would not verify.
    const forged = createHmac('sha256', secret).update(`${hits[2]!.headers['x-loyalty-timestamp']}.${hits[2]!.body.replace('"value":1', '"value":5')}`).digest('hex');
    assert.notEqual(`sha256=${forged}`, hits[2]!.headers['x-loyalty-signature']);
    const delivered = (await api.ok('GET', `/api/v1/orgs/${f.orgId}/alert-deliveries?state=delivered`, undefined)).rows;
    assert.deepEqual(delivered.map((d: any) => [d.attempts, d.deliveredAt]), [[3, new Date(NOW + 90 * S).toISOString()]]);
    // Closed by a person: the webhook hears of it too.
    await api.ok('POST', `/api/v1/orgs/${f.orgId}/alerts/${alertId}/close`, { comment: 'handled' });
    assert.deepEqual(await deliverDue(ctx().store, Date.now() + S, opts), { delivered: 1, failed: 0, dead: 0 });
    assert.equal(hits.length, 4);
    assert.equal(hits[3]!.json.event, 'alert.closed');
    assert.equal(hits[3]!.json.alert.state, 'closed');
    assert.equal(hits[3]!.json.alert.closeReason, 'manual');
    assert.ok(hits[3]!.verified);
  });

  it('webhook: always failing → dead letter after the last attempt; re-drive puts it back and it is delivered', async () => {
    hits.length = 0;
    const { f, alertId } = await breach(webhook);
    answer = 500;
    let t = NOW;
    for (let i = 1; i <= 4; i++) {
      const r = await deliverDue(ctx().store, t, opts);
      assert.deepEqual(r, i < 4 ? { delivered: 0, failed: 1, dead: 0 } : { delivered: 0, failed: 0, dead: 1 }, `attempt ${i}`);
      t += 30 * S * 2 ** (i - 1);
    }
    assert.deepEqual(await deliverDue(ctx().store, t + 3_600_000, opts), { delivered: 0, failed: 0, dead: 0 }, 'a dead letter is not retried by itself');
    const dead = (await api.ok('GET', `/api/v1/orgs/${f.orgId}/alert-deliveries?state=dead`, undefined)).rows;
    assert.equal(dead.length, 1);
    assert.equal(dead[0].attempts, 4);
    assert.equal(dead[0].lastError, 'webhook answered 500');
    // Re-drive: org admins only, dead letters only.
    const viewer = `${Date.now()}-v@example.test`;
    await api.ok('POST', `/api/v1/orgs/${f.orgId}/users`, { email: viewer, name: 'V', role: 'viewer', password: 'viewer password' }, 201);
    const vt = (await api.ok('POST', '/api/v1/auth/token', { email: viewer, password: 'viewer password' }, 200, null)).token;
    assert.equal((await api.call('POST', `/api/v1/orgs/${f.orgId}/alert-deliveries/${dead[0].id}/redrive`, undefined, vt)).status, 403);
    const other = await api.fixture();
    assert.equal((await api.call('POST', `/api/v1/orgs/${other.orgId}/alert-deliveries/${dead[0].id}/redrive`, undefined)).status, 404);
    const back = await api.ok('POST', `/api/v1/orgs/${f.orgId}/alert-deliveries/${dead[0].id}/redrive`, undefined);
    assert.deepEqual([back.state, back.attempts], ['pending', 0]);
    assert.equal((await api.call('POST', `/api/v1/orgs/${f.orgId}/alert-deliveries/${dead[0].id}/redrive`, undefined)).status, 409, 'no longer dead');
    answer = 200;
    assert.deepEqual(await deliverDue(ctx().store, Date.now() + S, opts), { delivered: 1, failed: 0, dead: 0 });
    assert.equal(hits.length, 5);
    assert.ok(hits.every((h) => h.verified));
    const history = (await api.ok('GET', `/api/v1/orgs/${f.orgId}/alerts/${alertId}`, undefined)).history;
    assert.deepEqual(history.map((h: any) => h.action), ['opened', 'redriven']);
  });

  /** A webhook whose URL is a name, for a resolver that the test controls. */
  const named = (host: string) => async (f: Fixture): Promise<{ webhookIds: string[] }> => {
    const h = await api.ok('POST', `/api/v1/orgs/${f.orgId}/alert-webhooks`, { name: 'named', url: `http://${host}:${port}/alerts` }, 201);
    secret = h.secret;
    return { webhookIds: [h.id] };
  };
  const deadLetters = async (f: Fixture): Promise<any[]> => (await api.ok('GET', `/api/v1/orgs/${f.orgId}/alert-deliveries?state=dead`, undefined)).rows;

  it('webhook destination: a name resolving to a loopback address is refused at delivery by default (a dead letter at once, nothing sent); with the allowance it is delivered', async () => {
    hits.length = 0;
    answer = 200;
    const asked: string[] = [];
    // Saved as a name (no DNS then); at delivery the name resolves to the receiver's loopback address.
    const resolve: Resolve = (host, _o, cb) => { asked.push(host); cb(null, [{ address: '127.0.0.1', family: 4 }]); };
    const { f, alertId } = await breach(named('receiver.example.test'));
    assert.deepEqual(await deliverDue(ctx().store, NOW, { ...opts, webhooks: undefined, resolve }), { delivered: 0, failed: 0, dead: 1 }, 'no retries: they cannot help');
    assert.deepEqual(asked, ['receiver.example.test']);
    assert.equal(hits.length, 0, 'the receiver got nothing');
    const dead = await deadLetters(f);
    assert.equal(dead.length, 1);
    assert.equal(dead[0].attempts, 1);
    assert.match(dead[0].lastError, /^webhook address 127\.0\.0\.1 is not allowed \(loopback/);
    // The operator allows the receiver; the re-driven delivery reaches it through the same name.
    await api.ok('POST', `/api/v1/orgs/${f.orgId}/alert-deliveries/${dead[0].id}/redrive`, undefined);
    assert.deepEqual(await deliverDue(ctx().store, Date.now() + S, { ...opts, resolve }), { delivered: 1, failed: 0, dead: 0 });
    assert.equal(hits.length, 1);
    assert.ok(hits[0]!.verified);
    assert.equal(hits[0]!.headers.host, `receiver.example.test:${port}`);
    assert.equal(hits[0]!.json.alert.id, alertId);
  });

  it('webhook destination: one refused address among a name\'s addresses refuses it; a literal address saved under an allowance is refused once it is withdrawn', async () => {
    hits.length = 0;
    answer = 200;
    // A public address first and a private one after it: the connection could land on either.
    const resolve: Resolve = (_host, _o, cb) => { cb(null, [{ address: '93.184.215.14', family: 4 }, { address: '10.0.0.5', family: 4 }]); };
    const mixed = await breach(named('mixed.example.test'));
    assert.deepEqual(await deliverDue(ctx().store, NOW, { ...opts, resolve, timeoutMs: 2000 }), { delivered: 0, failed: 0, dead: 1 });
    assert.match((await deadLetters(mixed.f))[0].lastError, /^webhook address 10\.0\.0\.5 is not allowed \(private network/);
    // http://127.0.0.1:… was accepted under RECEIVER; the default policy refuses it without a lookup.
    const literal = await breach(webhook);
    assert.deepEqual(await deliverDue(ctx().store, NOW, { ...opts, webhooks: new DestinationPolicy() }), { delivered: 0, failed: 0, dead: 1 });
    assert.match((await deadLetters(literal.f))[0].lastError, /^webhook address 127\.0\.0\.1 is not allowed \(loopback/);
    assert.equal(hits.length, 0);
  });

  it('email: each recipient in their language through a real SMTP listener; an SMTP outage is retried from the outbox', async () => {
    const smtp = new SmtpListener();
    await smtp.start();
    const port = smtp.port;
    const mailer = new Mailer({ url: `smtp://127.0.0.1:${port}`, attempts: 1 });
    try {
      const { f } = await breach(async (f) => {
        const u = await api.ok('POST', `/api/v1/orgs/${f.orgId}/users`, { email: `${Date.now()}-ru@example.test`, name: 'Ольга', role: 'manager', locationIds: [f.locationId] }, 201);
        return { emails: [{ to: u.id, lang: 'ru' }, { to: 'owner@example.test', lang: 'en' }] };
      });
      smtp.failNext = 1;
      const o = { ...opts, mailer };
      const first = await deliverDue(ctx().store, NOW, o);
      const errors = (await ctx().store.db.selectFrom('alert_outbox').select('last_error').where('org_id', '=', f.orgId).execute()).map((r) => r.last_error);
      assert.deepEqual(first, { delivered: 1, failed: 1, dead: 0 }, `one 451, one delivered: ${JSON.stringify(errors)}`);
      assert.deepEqual(await deliverDue(ctx().store, NOW + 30 * S, o), { delivered: 1, failed: 0, dead: 0 }, 'the refused one, retried');
      assert.equal(smtp.inbox.length, 2);
      const ru = smtp.inbox.find((m) => (m.to as AddressObject).text.endsWith('-ru@example.test'))!;
      const en = smtp.inbox.find((m) => (m.to as AddressObject).text === 'owner@example.test')!;
      assert.equal(ru.subject, 'Оповещение: Низкая оценка — оценка ниже порога');
      assert.equal(en.subject, 'Alert: Низкая оценка — score below threshold');
      assert.match(String(ru.html), /<html lang="ru">/);
      assert.match(ru.text ?? '', /Оценка точки «Main street» за 2026-11-10 – 2026-11-10: 1, ниже порога 3 \(довольны 0\s% из 10 голосов\)/);
      assert.match(en.text ?? '', /The score of Main street over 2026-11-10 – 2026-11-10 is 1, below 3 \(0% satisfied of 10 votes\)/);
      // Times in the location's zone, labelled: opened at 15:00 Moscow time.
      assert.match(ru.text ?? '', /15:00 GMT\+3 · Europe\/Moscow/);
      assert.match(en.text ?? '', /15:00 GMT\+3 · Europe\/Moscow/);
      assert.match(String(en.html), new RegExp(`href="https://lb.example.test/orgs/${f.orgId}/locations/${f.locationId}\\?from=2026-11-10&amp;to=2026-11-10&amp;days=7"`));
      // SMTP down: refused connections are failed attempts, kept pending, never lost.
      await smtp.stop();
      const down = await breach(async () => ({ emails: [{ to: 'later@example.test' }] }));
      const r = await deliverDue(ctx().store, NOW, o);
      assert.deepEqual(r, { delivered: 0, failed: 1, dead: 0 });
      const p = (await api.ok('GET', `/api/v1/orgs/${down.f.orgId}/alert-deliveries?state=pending`, undefined)).rows;
      assert.equal(p.length, 1);
      assert.match(p[0].lastError, /ECONNREFUSED/);
      // Back up: the next pass after the backoff delivers it.
      await smtp.start(port);
      assert.deepEqual(await deliverDue(ctx().store, NOW + 30 * S, o), { delivered: 1, failed: 0, dead: 0 });
      assert.ok(smtp.inbox.some((m) => (m.to as AddressObject).text === 'later@example.test'));
    } finally {
      mailer.close();
      await smtp.stop();
    }
  });
});
