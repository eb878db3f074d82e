// Provisioning an integrator enjoys: devices created in batches of up to 500, each with a one-time
// token (flashed into the device) and a claim code (printed on its label, with a QR code). The
// installer claims the device where it stands — location, touchpoint, employee — with one API call
// (or the page the QR code opens). Until claimed a device has no placement, so its presses are
// refused with 409 and it is counted as `unclaimed` in the fleet view.
import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import QRCode from 'qrcode';
import type { Store } from '../store/db.ts';
import type { Refs } from '../store/refs.ts';
import { hashSecret, newId, newSecret } from '../domain/ids.ts';
import { conflict, invalidField, notFound } from '../domain/errors.ts';
import type { Attribution, DeviceKind } from '../domain/types.ts';
import { checkAttribution, getDevice, statusOf, type Device, type DeviceStatus } from './devices.ts';

// ---- Claim codes

/**
 * Crockford's base32: digits and capitals without I, L, O and U, so a code read aloud or typed
 * from a label cannot be mistaken; on input O counts as 0 and I, L as 1, case and dashes don't matter.
 */
const CODE_ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
/** 10 symbols = 50 random bits: guessing one of a million live codes takes ~10⁹ tries. */
export const CODE_LENGTH = 10;
const CODE_RE = new RegExp(`^[${CODE_ALPHABET}]{${CODE_LENGTH}}$`);
export const DEFAULT_CLAIM_TTL_DAYS = 30;
const DAY_MS = 86_400_000;

export function newClaimCode(): string {
  let out = '';
  for (const b of randomBytes(CODE_LENGTH)) out += CODE_ALPHABET[b & 31]; // 256 is a multiple of 32: uniform
  return out;
}

/** "7QK2MX9D4P" → "7QK2M-X9D4P", as printed. */
export const formatClaimCode = (code: string): string => `${code.slice(0, 5)}-${code.slice(5)}`;

/** What a person typed → the stored form, or null when it cannot be a claim code. */
export function normalizeClaimCode(input: string): string | null {
  const s = input.toUpperCase().replace(/[\s-]/g, '').replace(/O/g, '0').replace(/[IL]/g, '1');
  return CODE_RE.test(s) ? s : null;
}

function requireCode(input: string, field = 'code'): string {
  const code = normalizeClaimCode(input);
  if (!code) throw invalidField(field, `a claim code has ${CODE_LENGTH} letters and digits, like 7QK2M-X9D4P`);
  return code;
}

const isUniqueViolation = (e: unknown): boolean => /unique|duplicate/i.test(String(e));

// ---- Claim URLs and QR codes

const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** Where a claim code's QR code points: {base}/claim/{code}; base is PUBLIC_URL or the request's origin. */
export const claimUrl = (base: string, code: string): string => `${base.replace(/\/+$/, '')}/claim/${formatClaimCode(code)}`;

/** The QR code of a claim URL as PNG (error correction M survives a scuffed label). */
export const qrPng = (url: string): Promise<Buffer> => QRCode.toBuffer(url, { type: 'png', errorCorrectionLevel: 'M', margin: 2, scale: 8 });
/** The same QR code as SVG, titled with the URL it encodes (screen readers, and a check that it is the right one). */
export async function qrSvg(url: string): Promise<string> {
  const svg = await QRCode.toString(url, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 });
  return svg.replace(/^(<svg\b[^>]*>)/, `$1<title>${escapeHtml(url)}</title>`);
}

// ---- Bulk creation

export const MAX_BULK = 500;
export type BulkInput = { kind: DeviceKind; count: number; namePrefix?: string | undefined; claimTtlDays?: number | undefined };
export type Batch = { id: string; orgId: string; kind: DeviceKind; namePrefix: string; count: number; claimExpiresAt: string; createdAt: string };
export type BulkDevice = { id: string; name: string; kind: DeviceKind; token: string; claimCode: string };

/** The next free number after "{prefix} 007"-style names already in the org, so batches continue a series. */
async function nextNumber(store: Store, orgId: string, prefix: string): Promise<number> {
  const head = `${prefix} `;
  const rows = await store.db.selectFrom('devices').select('name')
    .where('org_id', '=', orgId).where(sql<string>`substr(name, 1, ${head.length})`, '=', head).execute();
  let max = 0;
  for (const r of rows) {
    const n = Number(r.name!.slice(head.length));
    if (Number.isSafeInteger(n) && n > max) max = n;
  }
  return max + 1;
}

/**
 * Creates `count` unassigned devices in one transaction, each with its token (returned only now)
 * and a claim code valid for `claimTtlDays`. Names continue "{namePrefix} 001", "… 002", ….
 */
export async function bulkCreate(store: Store, orgId: string, input: BulkInput, createdBy: string | null, now = Date.now()): Promise<{ batch: Batch; devices: BulkDevice[] }> {
  if (!Number.isInteger(input.count) || input.count < 1 || input.count > MAX_BULK) throw invalidField('count', `count must be 1 to ${MAX_BULK}`);
  const namePrefix = (input.namePrefix ?? input.kind).trim();
  if (!namePrefix) throw invalidField('namePrefix', 'namePrefix must not be blank');
  const ttlDays = input.claimTtlDays ?? DEFAULT_CLAIM_TTL_DAYS;
  const expiresAt = now + ttlDays * DAY_MS;
  const first = await nextNumber(store, orgId, namePrefix);
  const width = Math.max(3, String(first + input.count - 1).length);
  const batchId = newId('bat');

  // A clash of two random 50-bit codes is next to impossible; should one happen, draw new codes.
  for (let attempt = 0; ; attempt++) {
    const devices: BulkDevice[] = Array.from({ length: input.count }, (_, i) => ({
      id: newId('dev'), name: `${namePrefix} ${String(first + i).padStart(width, '0')}`, kind: input.kind, token: newSecret('lbd'), claimCode: newClaimCode(),
    }));
    try {
      await store.db.transaction().execute(async (trx) => {
        await trx.insertInto('device_batches').values({ id: batchId, org_id: orgId, kind: input.kind, name_prefix: namePrefix, count: input.count, claim_expires_at: expiresAt, created_by: createdBy, created_at: now }).execute();
        for (let i = 0; i < devices.length; i += 100) {
          const chunk = devices.slice(i, i + 100);
          await trx.insertInto('devices').values(chunk.map((d) => ({
            id: d.id, org_id: orgId, kind: d.kind, name: d.name, token_hash: hashSecret(d.token), created_at: now,
            last_seen_at: null, battery: null, rssi: null, firmware: null, buffered: null, claimed_at: null,
          }))).execute();
          await trx.insertInto('device_claims').values(chunk.map((d) => ({
            code: d.claimCode, device_id: d.id, org_id: orgId, batch_id: batchId, created_at: now, expires_at: expiresAt, used_at: null, used_by: null,
          }))).execute();
        }
      });
    } catch (e) {
      if (attempt < 2 && isUniqueViolation(e)) continue;
      throw e;
    }
    const batch: Batch = { id: batchId, orgId, kind: input.kind, namePrefix, count: input.count, claimExpiresAt: new Date(expiresAt).toISOString(), createdAt: new Date(now).toISOString() };
    return { batch, devices };
  }
}

// ---- Claiming

export type ClaimInput = Attribution & { code: string; name?: string | undefined };

/**
 * Binds the device of a claim code to a place: one call, all or nothing. The placement covers
 * presses the device buffered before (like a registration with a placement). The code is used up.
 */
export async function claimDevice(store: Store, refs: Refs, orgId: string, input: ClaimInput, userId: string | null, now = Date.now()): Promise<Device> {
  const code = requireCode(input.code);
  const claim = await store.db.selectFrom('device_claims').selectAll().where('code', '=', code).where('org_id', '=', orgId).executeTakeFirst();
  // A code of another organisation is as unknown here as a mistyped one.
  if (!claim) throw invalidField('code', `no claim code ${formatClaimCode(code)} in this organisation; check it for typos`);
  if (claim.used_at !== null) throw conflict(`claim code ${formatClaimCode(code)} was already used at ${new Date(claim.used_at).toISOString()}`, 'code');
  if (claim.expires_at <= now) {
    throw invalidField('code', `claim code ${formatClaimCode(code)} expired at ${new Date(claim.expires_at).toISOString()}; issue a new one with POST /api/v1/orgs/${orgId}/devices/${claim.device_id}/claim-code`);
  }
  const device = await store.db.selectFrom('devices').select(['claimed_at', 'retired_at']).where('id', '=', claim.device_id).executeTakeFirstOrThrow();
  if (device.retired_at !== null) throw conflict('the device of this claim code is retired', 'code');
  if (device.claimed_at !== null) throw conflict('the device of this claim code is already placed; move it with its assignment route instead', 'code');
  await checkAttribution(store, orgId, input);

  await store.db.transaction().execute(async (trx) => {
    // Compare-and-set on both rows: of two simultaneous claims exactly one wins, the other gets 409.
    const used = await trx.updateTable('device_claims').set({ used_at: now, used_by: userId })
      .where('code', '=', code).where('used_at', 'is', null).executeTakeFirst();
    const placed = await trx.updateTable('devices').set({ claimed_at: now, ...(input.name !== undefined ? { name: input.name } : {}) })
      .where('id', '=', claim.device_id).where('claimed_at', 'is', null).where('retired_at', 'is', null).executeTakeFirst();
    if (Number(used.numUpdatedRows) !== 1 || Number(placed.numUpdatedRows) !== 1) throw conflict(`claim code ${formatClaimCode(code)} was used at the same moment by someone else`, 'code');
    // Other codes of the device are spent with it.
    await trx.updateTable('device_claims').set({ expires_at: now }).where('device_id', '=', claim.device_id).where('used_at', 'is', null).where('expires_at', '>', now).execute();
    await trx.insertInto('device_assignments').values({
      id: newId('asg'), device_id: claim.device_id, org_id: orgId, location_id: input.locationId, touchpoint_id: input.touchpointId, employee_id: input.employeeId,
      valid_from: 0, valid_to: null, created_at: now,
    }).execute();
  });
  // A press refused a moment ago cached "no placement": forget it, so the next one counts.
  refs.invalidateDevice(claim.device_id);
  return getDevice(store, orgId, claim.device_id);
}

/** A fresh claim code for an unclaimed device (the old ones expire): for a lost label or an expired code. */
export async function reissueClaimCode(store: Store, orgId: string, deviceId: string, ttlDays = DEFAULT_CLAIM_TTL_DAYS, now = Date.now()): Promise<{ deviceId: string; code: string; expiresAt: string }> {
  const device = await store.db.selectFrom('devices').select(['claimed_at', 'retired_at']).where('id', '=', deviceId).where('org_id', '=', orgId).executeTakeFirst();
  if (!device) throw notFound('device');
  if (device.retired_at !== null) throw conflict('this device is retired', 'device');
  if (device.claimed_at !== null) throw conflict('this device is already placed; a claim code is only for an unclaimed device', 'device');
  const previous = await store.db.selectFrom('device_claims').select('batch_id').where('device_id', '=', deviceId).orderBy('created_at', 'desc').executeTakeFirst();
  const expiresAt = now + ttlDays * DAY_MS;
  for (let attempt = 0; ; attempt++) {
    const code = newClaimCode();
    try {
      await store.db.transaction().execute(async (trx) => {
        await trx.updateTable('device_claims').set({ expires_at: now }).where('device_id', '=', deviceId).where('used_at', 'is', null).where('expires_at', '>', now).execute();
        await trx.insertInto('device_claims').values({ code, device_id: deviceId, org_id: orgId, batch_id: previous?.batch_id ?? null, created_at: now, expires_at: expiresAt, used_at: null, used_by: null }).execute();
      });
      return { deviceId, code, expiresAt: new Date(expiresAt).toISOString() };
    } catch (e) {
      if (attempt < 2 && isUniqueViolation(e)) continue;
      throw e;
    }
  }
}

export type CodeState = 'valid' | 'used' | 'expired';
const codeState = (c: { used_at: number | null; expires_at: number }, now: number): CodeState => (c.used_at !== null ? 'used' : c.expires_at <= now ? 'expired' : 'valid');

export type ClaimCodeInfo = {
  code: string; state: CodeState; expiresAt: string; usedAt: string | null;
  orgId: string; orgName: string; device: { id: string; name: string | null; kind: DeviceKind; status: DeviceStatus };
};

/** What a claim code is for, whatever its state; null when there is no such code. */
export async function claimCodeInfo(store: Store, input: string, now = Date.now()): Promise<ClaimCodeInfo | null> {
  const code = normalizeClaimCode(input);
  if (!code) return null;
  const r = await store.db.selectFrom('device_claims')
    .innerJoin('devices', 'devices.id', 'device_claims.device_id').innerJoin('orgs', 'orgs.id', 'device_claims.org_id')
    .select(['device_claims.code', 'device_claims.expires_at', 'device_claims.used_at', 'device_claims.org_id', 'orgs.name as org_name',
      'devices.id', 'devices.name', 'devices.kind', 'devices.claimed_at', 'devices.retired_at'])
    .where('device_claims.code', '=', code).executeTakeFirst();
  if (!r) return null;
  return {
    code: formatClaimCode(r.code), state: codeState(r, now), expiresAt: new Date(r.expires_at).toISOString(), usedAt: r.used_at === null ? null : new Date(r.used_at).toISOString(),
    orgId: r.org_id, orgName: r.org_name, device: { id: r.id, name: r.name, kind: r.kind as DeviceKind, status: statusOf(r) },
  };
}

// ---- Batches and their printable sheet

export async function listBatches(store: Store, orgId: string): Promise<Array<Batch & { claimed: number }>> {
  const rows = await store.db.selectFrom('device_batches').selectAll().where('org_id', '=', orgId).orderBy('created_at', 'desc').execute();
  const claimed = await store.db.selectFrom('device_claims').select(['batch_id', sql<number>`count(distinct device_id)`.as('n')])
    .where('org_id', '=', orgId).where('used_at', 'is not', null).groupBy('batch_id').execute();
  const byBatch = new Map(claimed.map((c) => [c.batch_id, Number(c.n)]));
  return rows.map((b) => ({ ...batchOf(b), claimed: byBatch.get(b.id) ?? 0 }));
}

const batchOf = (b: { id: string; org_id: string; kind: string; name_prefix: string; count: number; claim_expires_at: number; created_at: number }): Batch => ({
  id: b.id, orgId: b.org_id, kind: b.kind as DeviceKind, namePrefix: b.name_prefix, count: b.count,
  claimExpiresAt: new Date(b.claim_expires_at).toISOString(), createdAt: new Date(b.created_at).toISOString(),
});

export type SheetRow = {
  deviceId: string; name: string | null; kind: DeviceKind; status: DeviceStatus;
  /** The device's latest claim code (formatted) and its state. */
  claimCode: string; codeState: CodeState; expiresAt: string; claimUrl: string;
};

/** A batch with each device's current claim code, in name order; 404 for a batch of another org. */
export async function batchSheet(store: Store, orgId: string, batchId: string, base: string, now = Date.now()): Promise<{ batch: Batch; devices: SheetRow[] }> {
  const b = await store.db.selectFrom('device_batches').selectAll().where('id', '=', batchId).where('org_id', '=', orgId).executeTakeFirst();
  if (!b) throw notFound('batch');
  const rows = await store.db.selectFrom('device_claims').innerJoin('devices', 'devices.id', 'device_claims.device_id')
    .select(['device_claims.code', 'device_claims.expires_at', 'device_claims.used_at', 'device_claims.created_at',
      'devices.id', 'devices.name', 'devices.kind', 'devices.claimed_at', 'devices.retired_at'])
    .where('device_claims.batch_id', '=', batchId).orderBy('devices.name').orderBy('device_claims.created_at').execute();
  const latest = new Map<string, (typeof rows)[number]>();
  for (const r of rows) latest.set(r.id, r); // ordered by creation: the last one wins
  const devices = [...latest.values()].map((r) => ({
    deviceId: r.id, name: r.name, kind: r.kind as DeviceKind, status: statusOf(r),
    claimCode: formatClaimCode(r.code), codeState: codeState(r, now), expiresAt: new Date(r.expires_at).toISOString(), claimUrl: claimUrl(base, r.code),
  }));
  return { batch: batchOf(b), devices };
}


/**
 * A self-contained printable page: one label per device still waiting for its claim (name, code,
 * QR code of the claim URL), sized to cut out and stick on the device; placed devices are listed below.
 */
export async function sheetHtml(sheet: { batch: Batch; devices: SheetRow[] }): Promise<string> {
  const open = sheet.devices.filter((d) => d.status === 'unclaimed' && d.codeState === 'valid');
  const done = sheet.devices.filter((d) => !open.includes(d));
  const labels = await Promise.all(open.map(async (d) => `
  <div class="label">
    <div class="qr">${await qrSvg(d.claimUrl)}</div>
    <div class="text"><div class="name">${escapeHtml(d.name ?? d.deviceId)}</div><div class="code">${escapeHtml(d.claimCode)}</div>
    <div class="hint">Scan, or enter the code at ${escapeHtml(d.claimUrl.replace(/\/claim\/.*$/, '/claim'))}</div>
    <div class="hint">valid until ${escapeHtml(d.expiresAt.slice(0, 10))} · ${escapeHtml(d.kind)}</div></div>
  </div>`));
  const rest = done.map((d) => `<tr><td>${escapeHtml(d.name ?? d.deviceId)}</td><td>${escapeHtml(d.claimCode)}</td><td>${d.status === 'unclaimed' ? `code ${d.codeState}` : d.status}</td></tr>`).join('');
  const b = sheet.batch;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Claim codes · ${escapeHtml(b.namePrefix)} · ${escapeHtml(b.createdAt.slice(0, 10))}</title>
<style>
  body { font: 12px/1.3 system-ui, sans-serif; margin: 12mm; color: #000; }
  h1 { font-size: 16px; margin: 0 0 4px; } p { margin: 0 0 10px; color: #444; }
  .grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(62mm, 1fr)); gap: 4mm; }
  .label { display: flex; gap: 3mm; align-items: center; border: 1px dashed #999; padding: 2mm; break-inside: avoid; page-break-inside: avoid; }
  .qr svg { width: 28mm; height: 28mm; display: block; }
  .name { font-weight: 600; } .code { font: 600 15px/1.4 ui-monospace, monospace; letter-spacing: .06em; }
  .hint { color: #555; font-size: 9px; overflow-wrap: anywhere; }
  table { border-collapse: collapse; margin-top: 8mm; } td, th { border-top: 1px solid #ccc; padding: 2px 8px; text-align: left; }
  @media print { body { margin: 6mm; } p.screen { display: none; } }
</style></head><body>
<h1>${escapeHtml(b.namePrefix)} · ${b.count} ${escapeHtml(b.kind)}${b.count === 1 ? '' : 's'} · batch ${escapeHtml(b.id)}</h1>
<p>Created ${escapeHtml(b.createdAt.slice(0, 16).replace('T', ' '))} UTC. ${open.length} waiting for their claim; codes valid until ${escapeHtml(b.claimExpiresAt.slice(0, 10))}. Cut out each label and stick it on its device.</p>
<div class="grid">${labels.join('')}
</div>
${done.length ? `<table><thead><tr><th>device</th><th>code</th><th>state</th></tr></thead><tbody>${rest}</tbody></table>` : ''}
</body></html>
`;
}
