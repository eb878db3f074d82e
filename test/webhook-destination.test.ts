// Where alert webhooks may connect (README "Alerts"): the refused ranges at their edges, their
// IPv4-mapped / NAT64 / 6to4 IPv6 forms, public addresses, the operator's allowances
// (WEBHOOK_ALLOWED_NETWORKS, WEBHOOK_ALLOW_PRIVATE), the URL check when a webhook is saved, and the
// lookup that node:http uses at delivery. No store, no network.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { LookupAddress } from 'node:dns';
import { DestinationPolicy, DestinationRefused, parseNetwork, type Resolve } from '../src/alerts/destination.ts';
import { loadConfig, webhookOptionsOf } from '../src/config.ts';
import { AppError } from '../src/domain/errors.ts';

const deny = new DestinationPolicy();

describe('webhook destination policy', () => {
  it('refuses every internal range by default, at its edges, and lets the addresses just outside them through', () => {
    const refused: Array<[string, string]> = [
      ['127.0.0.1', 'loopback'], ['127.255.255.254', 'loopback'], ['::1', 'loopback'],
      ['10.0.0.0', 'private network'], ['10.255.255.255', 'private network'],
      ['172.16.0.0', 'private network'], ['172.31.255.255', 'private network'],
      ['192.168.0.1', 'private network'], ['192.168.255.255', 'private network'],
      ['169.254.169.254', 'link-local'], ['169.254.0.1', 'link-local'], ['fe80::1', 'link-local'], ['febf::1', 'link-local'],
      ['100.64.0.0', 'shared address space (CGNAT)'], ['100.127.255.255', 'shared address space (CGNAT)'],
      ['fc00::1', 'unique-local'], ['fd12:3456::1', 'unique-local'],
      ['0.0.0.0', 'unspecified'], ['::', 'unspecified'],
      ['224.0.0.1', 'multicast'], ['239.255.255.250', 'multicast'], ['ff02::1', 'multicast'],
      ['255.255.255.255', 'broadcast or reserved'],
    ];
    for (const [address, why] of refused) assert.equal(deny.refusal(address), why, address);
    const allowed = ['8.8.8.8', '1.1.1.1', '9.255.255.255', '11.0.0.0', '172.15.255.255', '172.32.0.0', '192.167.255.255', '192.169.0.0',
      '169.253.255.255', '100.63.255.255', '100.128.0.0', '126.255.255.255', '128.0.0.1', '223.255.255.255',
      '2606:4700:4700::1111', '2a00:1450:4001::200e', 'fbff::1', 'fe7f::1'];
    for (const address of allowed) assert.equal(deny.refusal(address), null, address);
  });

  it('sees through IPv6 forms of IPv4 addresses: IPv4-mapped, NAT64 and 6to4', () => {
    const cases: Array<[string, string | null]> = [
      ['::ffff:127.0.0.1', 'loopback'], ['::ffff:7f00:1', 'loopback'], ['0:0:0:0:0:ffff:a00:5', 'private network'],
      ['::ffff:169.254.169.254', 'link-local'], ['::ffff:192.168.1.1', 'private network'], ['::ffff:100.64.0.1', 'shared address space (CGNAT)'],
      ['::ffff:8.8.8.8', null],
      ['64:ff9b::10.0.0.5', 'private network'], ['64:ff9b::a9fe:a9fe', 'link-local'], ['64:ff9b::808:808', null],
      ['2002:7f00:1::1', 'loopback'], ['2002:c0a8:101::', 'private network'], ['2002:808:808::1', null],
    ];
    for (const [address, why] of cases) assert.equal(deny.refusal(address), why, address);
  });

  it('WEBHOOK_ALLOWED_NETWORKS: the listed addresses and CIDRs only, in their IPv4-mapped form too', () => {
    const p = new DestinationPolicy({ allowedNetworks: ['10.1.0.0/16', '192.168.5.7', 'fd12:3456::/32'] });
    for (const a of ['10.1.0.0', '10.1.255.255', '::ffff:10.1.2.3', '192.168.5.7', 'fd12:3456:ffff::1']) assert.equal(p.refusal(a), null, a);
    for (const [a, why] of [['10.0.255.255', 'private network'], ['10.2.0.0', 'private network'], ['192.168.5.8', 'private network'], ['fd12:3457::1', 'unique-local'], ['127.0.0.1', 'loopback']] as const) {
      assert.equal(p.refusal(a), why, a);
    }
  });

  it('WEBHOOK_ALLOW_PRIVATE opens the internal ranges, never unspecified, multicast or broadcast', () => {
    const p = new DestinationPolicy({ allowPrivate: true });
    for (const a of ['127.0.0.1', '10.0.0.5', '192.168.1.1', '169.254.169.254', '100.64.0.1', 'fd00::1', '::1', '::ffff:10.0.0.5']) assert.equal(p.refusal(a), null, a);
    for (const a of ['0.0.0.0', '::', '224.0.0.1', 'ff02::1', '255.255.255.255']) assert.notEqual(p.refusal(a), null, a);
  });

  it('checks a URL when a webhook is saved: http(s) only, no credentials, literal addresses in every spelling, names left to delivery', () => {
    const refused = ['ftp://files.example.test/', 'https://user:pw@hooks.example.test/', 'https://user@hooks.example.test/', 'not a url',
      'http://127.0.0.1/', 'http://2130706433/', 'http://0x7f.0.0.1/', 'http://017700000001/', 'http://[::1]:8080/', 'http://[::ffff:127.0.0.1]/',
      'http://169.254.169.254/latest/meta-data/', 'http://10.0.0.5/', 'http://localhost/', 'http://LOCALHOST.:3000/', 'http://api.localhost/'];
    for (const url of refused) {
      assert.throws(() => deny.checkUrl(url), (e: unknown) => e instanceof AppError && e.status === 400 && e.field === 'url', url);
    }
    assert.equal(deny.checkUrl('https://hooks.example.test/a?b=1'), 'https://hooks.example.test/a?b=1');
    assert.equal(deny.checkUrl('http://8.8.8.8:8080/x'), 'http://8.8.8.8:8080/x');
    // A name is not resolved here (it may change any time): checked at each delivery instead.
    assert.equal(deny.checkUrl('http://internal.example.test/'), 'http://internal.example.test/');
    assert.equal(new DestinationPolicy({ allowedNetworks: ['127.0.0.1'] }).checkUrl('http://127.0.0.1:9000/hook'), 'http://127.0.0.1:9000/hook');
    // At delivery the same URL check, as a refusal rather than a 400.
    assert.throws(() => deny.checkTarget(new URL('http://127.0.0.1/')), (e: unknown) => e instanceof DestinationRefused && /^webhook address 127\.0\.0\.1 is not allowed \(loopback/.test(e.message));
    assert.throws(() => deny.checkTarget(new URL('https://u:p@hooks.example.test/')), DestinationRefused);
  });

  it('the lookup given to node:http answers only with checked addresses, in both of its calling forms', async () => {
    const answers: Record<string, LookupAddress[]> = {
      'public.example.test': [{ address: '93.184.215.14', family: 4 }, { address: '2606:2800:21f:cb07:6820:80da:af6b:8b2c', family: 6 }],
      'rebound.example.test': [{ address: '93.184.215.14', family: 4 }, { address: '::ffff:169.254.169.254', family: 6 }],
    };
    const resolve: Resolve = (host, o, cb) => {
      assert.equal(o.all, true, 'every address is asked for, so none escapes the check');
      cb(null, answers[host] ?? []);
    };
    const lookup = deny.lookup(resolve);
    const call = (host: string, all: boolean) => new Promise<{ err: Error | null; address: unknown; family?: number | undefined }>((r) => {
      lookup(host, { all }, (err, address, family) => r({ err, address, family }));
    });
    assert.deepEqual(await call('public.example.test', true), { err: null, address: answers['public.example.test'], family: undefined });
    assert.deepEqual(await call('public.example.test', false), { err: null, address: '93.184.215.14', family: 4 });
    for (const all of [true, false]) {
      const r = await call('rebound.example.test', all);
      assert.ok(r.err instanceof DestinationRefused);
      assert.match(r.err.message, /^webhook address ::ffff:169\.254\.169\.254 is not allowed \(link-local/);
    }
    const none = await call('nothing.example.test', false);
    assert.match(String(none.err?.message), /nothing\.example\.test has no address/);
  });

  it('configuration: default denies; WEBHOOK_ALLOW_PRIVATE and WEBHOOK_ALLOWED_NETWORKS are read and checked at start', () => {
    assert.deepEqual(webhookOptionsOf(loadConfig({})), { allowPrivate: false, allowedNetworks: [] });
    assert.deepEqual(webhookOptionsOf(loadConfig({ WEBHOOK_ALLOW_PRIVATE: 'true', WEBHOOK_ALLOWED_NETWORKS: ' 10.1.0.0/16, 192.168.5.7 ,fd00::/8' })),
      { allowPrivate: true, allowedNetworks: ['10.1.0.0/16', '192.168.5.7', 'fd00::/8'] });
    assert.equal(loadConfig({ WEBHOOK_ALLOW_PRIVATE: 'false' }).webhookAllowPrivate, false);
    assert.throws(() => loadConfig({ WEBHOOK_ALLOW_PRIVATE: 'yes' }), /WEBHOOK_ALLOW_PRIVATE must be true or false/);
    for (const bad of ['10.0.0.0/33', 'fd00::/129', 'intranet', '10.0.0.0/8/1', '10.0.0/8', '10.0.0.0/-1']) {
      assert.throws(() => loadConfig({ WEBHOOK_ALLOWED_NETWORKS: bad }), /^Error: WEBHOOK_ALLOWED_NETWORKS: /, bad);
    }
    assert.deepEqual(parseNetwork('192.168.5.7'), { address: '192.168.5.7', prefix: 32, family: 'ipv4' });
    assert.deepEqual(parseNetwork('fd00::/8'), { address: 'fd00::', prefix: 8, family: 'ipv6' });
  });
});
