// Where alert webhooks may be sent (README "Alerts", "Configuration"): the server runs for many
// businesses, so an org admin must not make it reach the operator's own network (loopback,
// RFC 1918, link-local with the cloud metadata service, …). A webhook's URL is checked when it is
// saved (literal addresses and `localhost`), and at delivery the name is resolved inside the
// connection's own DNS lookup, so the address connected to is the one that was checked (no DNS
// rebinding between a check and the connect). WEBHOOK_ALLOWED_NETWORKS and WEBHOOK_ALLOW_PRIVATE open it.
import { BlockList, isIP, type LookupFunction } from 'node:net';
import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import { invalidField } from '../domain/errors.ts';

/** dns.lookup's shape with every address asked for; tests inject one that maps names to chosen addresses. */
export type Resolve = (hostname: string, options: LookupOptions & { all: true }, callback: (err: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void) => void;

export type DestinationOptions = {
  /** Every internal destination (loopback, private, link-local, CGNAT, unique-local) is allowed: on-premises installs. */
  allowPrivate?: boolean | undefined;
  /** Addresses or CIDRs allowed whatever the rules say, e.g. "10.1.0.0/16", "192.168.5.7", "fd12::/48". */
  allowedNetworks?: readonly string[] | undefined;
};

type Net = { address: string; prefix: number; family: 'ipv4' | 'ipv6' };

/** "10.1.0.0/16" or "192.168.5.7" (a /32 or /128); throws an Error saying what is wrong. */
export function parseNetwork(text: string): Net {
  const [address = '', bits, ...rest] = text.trim().split('/');
  const v = isIP(address);
  if (!v || rest.length) throw new Error(`"${text}" is not an IP address or CIDR`);
  const max = v === 4 ? 32 : 128;
  const prefix = bits === undefined ? max : Number(bits);
  if (bits !== undefined && (!/^\d{1,3}$/.test(bits) || prefix > max)) throw new Error(`"${text}": the prefix length must be 0–${max}`);
  return { address, prefix, family: v === 4 ? 'ipv4' : 'ipv6' };
}

// [why refused, internal (WEBHOOK_ALLOW_PRIVATE opens it), networks]. IPv4-mapped IPv6
// (::ffff:a.b.c.d) is matched by BlockList against the IPv4 rules; NAT64 and 6to4 are unwrapped below.
const RULES: Array<[string, boolean, string[]]> = [
  ['loopback', true, ['127.0.0.0/8', '::1/128']],
  ['private network', true, ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16']],
  ['link-local', true, ['169.254.0.0/16', 'fe80::/10']],
  ['shared address space (CGNAT)', true, ['100.64.0.0/10']],
  ['unique-local', true, ['fc00::/7', 'fec0::/10']],
  ['unspecified', false, ['0.0.0.0/8', '::/128']],
  ['multicast', false, ['224.0.0.0/4', 'ff00::/8']],
  ['broadcast or reserved', false, ['240.0.0.0/4', '192.0.0.0/24', '192.0.2.0/24', '198.18.0.0/15', '198.51.100.0/24', '203.0.113.0/24',
    '::/96', '64:ff9b:1::/48', '100::/64', '2001::/32', '2001:db8::/32']],
];

function blockList(nets: readonly Net[]): BlockList {
  const b = new BlockList();
  for (const n of nets) b.addSubnet(n.address, n.prefix, n.family);
  return b;
}

/** The eight 16-bit groups of a valid IPv6 address. */
function groups6(a: string): number[] {
  let s = a;
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(s);
  if (dotted) {
    const [b0, b1, b2, b3] = dotted.slice(1).map(Number) as [number, number, number, number];
    s = `${s.slice(0, dotted.index)}${((b0 << 8) | b1).toString(16)}:${((b2 << 8) | b3).toString(16)}`;
  }
  const [head = '', tail] = s.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const mid = tail === undefined ? [] : Array<string>(8 - h.length - t.length).fill('0');
  return [...h, ...mid, ...t].map((g) => parseInt(g, 16));
}

/** The IPv4 address a NAT64 (64:ff9b::/96) or 6to4 (2002::/16) address reaches, if it is one. */
function embeddedIPv4(a: string): string | null {
  const g = groups6(a);
  const v4 = (hi: number, lo: number): string => [hi >> 8, hi & 255, lo >> 8, lo & 255].join('.');
  if (g[0] === 0x64 && g[1] === 0xff9b && g.slice(2, 6).every((x) => x === 0)) return v4(g[6]!, g[7]!);
  if (g[0] === 0x2002) return v4(g[1]!, g[2]!);
  return null;
}

/** A delivery that the policy refuses: retrying cannot help until the webhook or the configuration changes. */
export class DestinationRefused extends Error {}

export class DestinationPolicy {
  readonly allowPrivate: boolean;
  readonly allowedNetworks: readonly string[];
  readonly #allowed: BlockList;
  readonly #rules: Array<{ why: string; internal: boolean; list: BlockList }>;

  constructor(o: DestinationOptions = {}) {
    this.allowPrivate = o.allowPrivate ?? false;
    this.allowedNetworks = [...(o.allowedNetworks ?? [])];
    this.#allowed = blockList(this.allowedNetworks.map(parseNetwork));
    this.#rules = RULES.map(([why, internal, nets]) => ({ why, internal, list: blockList(nets.map(parseNetwork)) }));
  }

  /** Why a connection to this IP address is refused, or null when it is allowed. */
  refusal(address: string): string | null {
    const v = isIP(address);
    if (!v) return 'not an IP address';
    const family = v === 4 ? 'ipv4' : 'ipv6';
    if (this.#allowed.check(address, family)) return null;
    const inner = v === 6 ? embeddedIPv4(address) : null;
    if (inner !== null) return this.refusal(inner);
    for (const r of this.#rules) {
      if (r.list.check(address, family)) return r.internal && this.allowPrivate ? null : r.why;
    }
    return null;
  }

  /** Throws DestinationRefused unless the address may be connected to. */
  check(address: string): void {
    const e = this.#refused(address);
    if (e) throw e;
  }

  #refused(address: string): DestinationRefused | null {
    const why = this.refusal(address);
    return why === null ? null : new DestinationRefused(`webhook address ${address} is not allowed (${why}; an operator can allow it with WEBHOOK_ALLOWED_NETWORKS)`);
  }

  /**
   * The URL a webhook may have, normalised; throws `invalidField('url')` otherwise. Without DNS:
   * only a literal address (or `localhost`) is checked here, a name is checked at each delivery.
   */
  checkUrl(url: string): string {
    let u: URL;
    try { u = new URL(url); } catch { throw invalidField('url', 'url must be an absolute http(s) URL'); }
    const shape = shapeProblem(u);
    if (shape !== null) throw invalidField('url', `url ${shape}`);
    const literal = literalAddress(u);
    const why = literal === null ? null : this.refusal(literal);
    if (why !== null) throw invalidField('url', `url points at ${u.hostname}, which webhooks may not reach (${why}; an operator can allow it with WEBHOOK_ALLOWED_NETWORKS)`);
    return u.toString();
  }

  /** At delivery, before connecting: the stored URL again (it or the policy may predate the other); a literal address never reaches `lookup`. */
  checkTarget(u: URL): void {
    const shape = shapeProblem(u);
    if (shape !== null) throw new DestinationRefused(`webhook url ${shape}`);
    const literal = literalAddress(u);
    if (literal !== null) this.check(literal);
  }

  /**
   * A `lookup` for node:http(s) `request`: resolves as dns.lookup does (or as `resolve`, for tests)
   * and fails with DestinationRefused when any address of the name is refused, so the socket only
   * ever connects to a checked address. (node:net skips `lookup` for a literal IP: checkTarget checks those.)
   */
  lookup(resolve: Resolve = dnsLookup): LookupFunction {
    return (hostname, options, callback) => {
      resolve(hostname, { ...options, all: true }, (err, list) => {
        if (err) return callback(err, options.all ? [] : '');
        for (const a of list) {
          const refused = this.#refused(a.address);
          if (refused) return callback(refused, options.all ? [] : '');
        }
        if (options.all) return callback(null, list);
        const first = list[0];
        if (!first) return callback(new Error(`${hostname} has no address`), '');
        callback(null, first.address, first.family);
      });
    };
  }
}

function shapeProblem(u: URL): string | null {
  if (u.protocol !== 'https:' && u.protocol !== 'http:') return 'must be http or https';
  if (u.username || u.password) return 'must not carry a user name or password (the signature authenticates deliveries)';
  return null;
}

/** The IP address a URL's host is literally (brackets off), `localhost` as 127.0.0.1; null for a name. */
function literalAddress(u: URL): string | null {
  const h = u.hostname.replace(/^\[|\]$/g, '');
  if (isIP(h)) return h;
  // RFC 6761: localhost and *.localhost are the loopback, whatever a resolver would say.
  return /(^|\.)localhost\.?$/i.test(h) ? '127.0.0.1' : null;
}
