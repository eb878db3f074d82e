// Devices: registration, placement, provisioning in batches with claim codes and QR codes, token
// rotation, retirement, per-device settings (also fetched by the device itself), and fleet health
// per organisation and per partner. Every route under /orgs/{org} checks the caller's access to
// that org first; a manager sees (and claims into) only the locations granted.
import { readFileSync } from 'node:fs';
import { Type } from 'typebox';
import type { FastifyRequest } from 'fastify';
import type { App, AppContext } from '../context.ts';
import { requireDevice, requireUser } from '../auth.ts';
import { commonErrors, ErrorBody, Id, Name, OrgParams, rowsOf, userAuth } from './schemas.ts';
import { DEVICE_KINDS, type UserPrincipal } from '../../domain/types.ts';
import { forbidden, notFound } from '../../domain/errors.ts';
import { parseTimestamp } from '../../domain/time.ts';
import { locationLimit, orgAccess } from '../../accounts/accounts.ts';
import { partnerExists } from '../../orgs/orgs.ts';
import { createDevice, getDevice, listDevices, reassign, retireDevice, revokeToken, rotateToken } from '../../devices/devices.ts';
import {
  batchSheet, bulkCreate, claimCodeInfo, claimDevice, claimUrl, DEFAULT_CLAIM_TTL_DAYS, formatClaimCode, listBatches, MAX_BULK, normalizeClaimCode,
  qrPng, qrSvg, reissueClaimCode, sheetHtml,
} from '../../devices/provisioning.ts';
import { deviceSettings, DeviceSettingsPatch, DeviceSettingsView, setDeviceSettings } from '../../devices/settings.ts';
import { fleetEvents, fleetThresholds, HEALTH_STATES, orgFleet, partnerFleet, setFleetThresholds } from '../../devices/fleet.ts';
import { markSeen } from '../../devices/seen.ts';

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);
const DeviceParams = Type.Object({ org: Id, device: Id });
const Kind = Type.Enum([...DEVICE_KINDS]);
const DeviceOut = Type.Object({
  id: Type.String(), orgId: Type.String(), kind: Type.String(), name: Nullable(Type.String()),
  locationId: Nullable(Type.String()), touchpointId: Nullable(Type.String()), employeeId: Nullable(Type.String()),
  lastSeenAt: Nullable(Type.String()), battery: Nullable(Type.Number()), rssi: Nullable(Type.Number()),
  firmware: Nullable(Type.String()), buffered: Nullable(Type.Integer()),
  status: Type.String({ description: 'unclaimed (waits for its claim code) | active | retired' }),
  claimedAt: Nullable(Type.String()), retiredAt: Nullable(Type.String()),
});
const DeviceCreated = Type.Intersect([DeviceOut, Type.Object({ token: Type.String({ description: 'shown only now; store it in the device' }) })]);
const TokenOut = Type.Object({ id: Type.String(), token: Type.String({ description: 'shown only now; the previous token no longer works' }) });
const ClaimTtlDays = Type.Integer({ minimum: 1, maximum: 365, description: `days a claim code stays valid (default ${DEFAULT_CLAIM_TTL_DAYS})` });
const BatchOut = Type.Object({
  id: Type.String(), orgId: Type.String(), kind: Type.String(), namePrefix: Type.String(), count: Type.Integer(),
  claimExpiresAt: Type.String(), createdAt: Type.String(),
});
const CodeLinks = {
  claimUrl: Type.String({ description: 'what the QR code encodes: {PUBLIC_URL or this server}/claim/{code}' }),
  qrPng: Type.String({ description: 'path of the QR code as PNG' }), qrSvg: Type.String({ description: 'path of the QR code as SVG' }),
};
const BulkOut = Type.Object({
  batch: BatchOut,
  sheet: Type.String({ description: 'path of the printable sheet (HTML) of this batch' }),
  devices: Type.Array(Type.Object({
    id: Type.String(), name: Type.String(), kind: Type.String(),
    token: Type.String({ description: 'shown only now: flash it into the device' }),
    claimCode: Type.String({ description: 'XXXXX-XXXXX; print it on the device\'s label' }), ...CodeLinks,
  })),
});
const SheetOut = Type.Object({
  batch: BatchOut,
  devices: Type.Array(Type.Object({
    deviceId: Type.String(), name: Nullable(Type.String()), kind: Type.String(), status: Type.String(),
    claimCode: Type.String(), codeState: Type.String({ description: 'valid | used | expired' }), expiresAt: Type.String(), ...CodeLinks,
  })),
});
const Counts = Type.Object(Object.fromEntries(HEALTH_STATES.map((s) => [s, Type.Integer()])) as Record<(typeof HEALTH_STATES)[number], ReturnType<typeof Type.Integer>>);
const Thresholds = Type.Object({
  staleAfterMinutes: Type.Integer({ minimum: 1, maximum: 1440, description: 'no contact for this long: stale (default 10)' }),
  offlineAfterMinutes: Type.Integer({ minimum: 2, maximum: 10_080, description: 'no contact for this long: offline (default 60)' }),
  lowBatteryPercent: Type.Integer({ minimum: 0, maximum: 100, description: 'battery below this: low_battery (default 15)' }),
});
const FleetDeviceOut = Type.Object({
  id: Type.String(), name: Nullable(Type.String()), kind: Type.String(), locationId: Nullable(Type.String()), touchpointId: Nullable(Type.String()),
  state: Type.String({ description: HEALTH_STATES.join(' | ') }), since: Nullable(Type.String()), lastSeenAt: Nullable(Type.String()),
  battery: Nullable(Type.Number()), rssi: Nullable(Type.Number()), firmware: Nullable(Type.String()), buffered: Nullable(Type.Integer()),
});
const FleetEventOut = Type.Object({
  id: Type.String(), deviceId: Type.String(), state: Type.String(), previous: Nullable(Type.String()), at: Type.String(),
  lastSeenAt: Nullable(Type.String()), battery: Nullable(Type.Number()),
});
const deviceAuth = [{ device: [] }];
const withConflict = { ...commonErrors, 409: ErrorBody };

/** The origin claim URLs point at: PUBLIC_URL when the server sits behind a proxy, else this request's. */
function publicBase(req: FastifyRequest): string {
  const configured = process.env['PUBLIC_URL'];
  return (configured || `${req.protocol}://${req.host}`).replace(/\/+$/, '');
}

const codeLinks = (orgId: string, base: string, code: string): { claimUrl: string; qrPng: string; qrSvg: string } => {
  const f = formatClaimCode(code);
  return { claimUrl: claimUrl(base, code), qrPng: `/api/v1/orgs/${orgId}/claim-codes/${f}/qr.png`, qrSvg: `/api/v1/orgs/${orgId}/claim-codes/${f}/qr.svg` };
};

export function deviceRoutes(app: App, ctx: AppContext): void {
  const { store, refs, bus } = ctx;
  const user = (req: FastifyRequest) => requireUser(store, refs, req);

  /** Who may place a device at `locationId`: an org's administrators, or a manager of that location. */
  async function mayPlace(p: UserPrincipal, orgId: string, locationId: string): Promise<void> {
    await orgAccess(store, p, orgId, 'read');
    if (p.role === 'viewer') throw forbidden('a viewer cannot place devices');
    const only = locationLimit(p);
    if (only && !only.includes(locationId)) throw forbidden('this location is not one of yours');
  }

  // ---- Registration and placement

  app.post('/api/v1/orgs/:org/devices', {
    schema: { tags: ['devices'], summary: 'Register a device at its place; its token is shown once', security: userAuth, params: OrgParams,
      body: Type.Object({ kind: Kind, name: Type.Optional(Name), locationId: Id, touchpointId: Type.Optional(Id), employeeId: Type.Optional(Id) }),
      response: { 201: DeviceCreated, ...commonErrors } },
  }, async (req, reply) => {
    await orgAccess(store, await user(req), req.params.org, 'admin');
    const b = req.body;
    return reply.status(201).send(await createDevice(store, req.params.org, { kind: b.kind, name: b.name, locationId: b.locationId, touchpointId: b.touchpointId ?? null, employeeId: b.employeeId ?? null }));
  });

  app.get('/api/v1/orgs/:org/devices', {
    schema: { tags: ['devices'], summary: 'Devices with their current placement, status and last heartbeat', security: userAuth, params: OrgParams, response: { 200: rowsOf(DeviceOut), ...commonErrors } },
  }, async (req) => {
    const p = await user(req);
    await orgAccess(store, p, req.params.org, 'read');
    return { rows: await listDevices(store, req.params.org, locationLimit(p)) };
  });

  app.get('/api/v1/orgs/:org/devices/:device', {
    schema: { tags: ['devices'], summary: 'One device', security: userAuth, params: DeviceParams, response: { 200: DeviceOut, ...commonErrors } },
  }, async (req) => {
    const p = await user(req);
    await orgAccess(store, p, req.params.org, 'read');
    return getDevice(store, req.params.org, req.params.device, locationLimit(p));
  });

  app.post('/api/v1/orgs/:org/devices/:device/assignment', {
    schema: { tags: ['devices'], summary: 'Move a device to another location/touchpoint/employee from now (or a later moment) on', security: userAuth,
      params: DeviceParams,
      body: Type.Object({ locationId: Id, touchpointId: Type.Optional(Id), employeeId: Type.Optional(Id), from: Type.Optional(Type.Union([Type.String(), Type.Integer()])) }),
      response: { 200: Type.Object({ validFrom: Type.String() }), ...withConflict } },
  }, async (req) => {
    await orgAccess(store, await user(req), req.params.org, 'admin');
    const b = req.body;
    const from = b.from === undefined ? Date.now() : parseTimestamp(b.from, 'from');
    return reassign(store, refs, req.params.org, req.params.device, { locationId: b.locationId, touchpointId: b.touchpointId ?? null, employeeId: b.employeeId ?? null }, from);
  });

  // ---- Provisioning: batches, claim codes, QR codes, claiming

  app.post('/api/v1/orgs/:org/devices/bulk', {
    schema: { tags: ['provisioning'], summary: `Create up to ${MAX_BULK} unassigned devices, each with its token (shown once) and a claim code`, security: userAuth, params: OrgParams,
      body: Type.Object({
        kind: Kind, count: Type.Integer({ minimum: 1, maximum: MAX_BULK }),
        namePrefix: Type.Optional(Type.String({ minLength: 1, maxLength: 100, description: 'names become "{namePrefix} 001", … continuing a series already in the org (default: the kind)' })),
        claimTtlDays: Type.Optional(ClaimTtlDays),
      }),
      response: { 201: BulkOut, ...commonErrors } },
  }, async (req, reply) => {
    const p = await user(req);
    const org = req.params.org;
    await orgAccess(store, p, org, 'admin');
    const { batch, devices } = await bulkCreate(store, org, req.body, p.userId);
    const base = publicBase(req);
    return reply.status(201).send({
      batch, sheet: `/api/v1/orgs/${org}/device-batches/${batch.id}/sheet.html`,
      devices: devices.map((d) => ({ ...d, claimCode: formatClaimCode(d.claimCode), ...codeLinks(org, base, d.claimCode) })),
    });
  });

  app.get('/api/v1/orgs/:org/device-batches', {
    schema: { tags: ['provisioning'], summary: 'Batches created in bulk, newest first, with how many of their devices are claimed', security: userAuth, params: OrgParams,
      response: { 200: rowsOf(Type.Intersect([BatchOut, Type.Object({ claimed: Type.Integer() })])), ...commonErrors } },
  }, async (req) => {
    await orgAccess(store, await user(req), req.params.org, 'admin');
    return { rows: await listBatches(store, req.params.org) };
  });

  const BatchParams = Type.Object({ org: Id, batch: Id });
  app.get('/api/v1/orgs/:org/device-batches/:batch', {
    schema: { tags: ['provisioning'], summary: 'A batch as a list: each device with its current claim code and its state', security: userAuth, params: BatchParams,
      response: { 200: SheetOut, ...commonErrors } },
  }, async (req) => {
    await orgAccess(store, await user(req), req.params.org, 'admin');
    const sheet = await batchSheet(store, req.params.org, req.params.batch, publicBase(req));
    return { ...sheet, devices: sheet.devices.map((d) => ({ ...d, ...codeLinks(req.params.org, publicBase(req), normalizeClaimCode(d.claimCode)!) })) };
  });

  app.get('/api/v1/orgs/:org/device-batches/:batch/sheet.html', {
    schema: { tags: ['provisioning'], summary: 'Printable labels (HTML, QR codes inline) for the devices of a batch still waiting for their claim', security: userAuth, params: BatchParams,
      produces: ['text/html'], response: { 200: Type.String({ description: 'HTML page' }), ...commonErrors } },
  }, async (req, reply) => {
    await orgAccess(store, await user(req), req.params.org, 'admin');
    const html = await sheetHtml(await batchSheet(store, req.params.org, req.params.batch, publicBase(req)));
    return reply.type('text/html; charset=utf-8').header('cache-control', 'no-store').send(html);
  });

  const CodeParams = Type.Object({ org: Id, code: Type.String({ minLength: 1, maxLength: 32 }) });
  for (const format of ['png', 'svg'] as const) {
    app.get(`/api/v1/orgs/:org/claim-codes/:code/qr.${format}`, {
      schema: { tags: ['provisioning'], summary: `QR code (${format.toUpperCase()}) of a claim code's URL`, security: userAuth, params: CodeParams,
        produces: [format === 'png' ? 'image/png' : 'image/svg+xml'], response: { 200: Type.Unsafe<Buffer | string>({ type: 'string', format: 'binary' }), ...commonErrors } },
    }, async (req, reply) => {
      await orgAccess(store, await user(req), req.params.org, 'admin');
      const code = normalizeClaimCode(req.params.code);
      const found = code && await store.db.selectFrom('device_claims').select('code').where('code', '=', code).where('org_id', '=', req.params.org).executeTakeFirst();
      if (!code || !found) throw notFound('claim code');
      const url = claimUrl(publicBase(req), code);
      void reply.header('cache-control', 'private, max-age=3600');
      return format === 'png' ? reply.type('image/png').send(await qrPng(url)) : reply.type('image/svg+xml').send(await qrSvg(url));
    });
  }

  app.post('/api/v1/orgs/:org/devices/:device/claim-code', {
    schema: { tags: ['provisioning'], summary: 'A new claim code for an unclaimed device (a lost label, an expired code); its older codes stop working', security: userAuth,
      params: DeviceParams, body: Type.Optional(Type.Object({ claimTtlDays: Type.Optional(ClaimTtlDays) })),
      response: { 201: Type.Object({ deviceId: Type.String(), code: Type.String(), expiresAt: Type.String(), ...CodeLinks }), ...withConflict } },
  }, async (req, reply) => {
    await orgAccess(store, await user(req), req.params.org, 'admin');
    const r = await reissueClaimCode(store, req.params.org, req.params.device, req.body?.claimTtlDays ?? DEFAULT_CLAIM_TTL_DAYS);
    return reply.status(201).send({ ...r, code: formatClaimCode(r.code), ...codeLinks(req.params.org, publicBase(req), r.code) });
  });

  app.post('/api/v1/orgs/:org/claim', {
    schema: { tags: ['provisioning'], summary: 'Claim a device by its code: place it at a location (touchpoint, employee) in one call', security: userAuth, params: OrgParams,
      description: 'Administrators of the org may claim into any location, a manager into the locations granted. The code is used up; the device can send presses at once.',
      body: Type.Object({
        code: Type.String({ minLength: 1, maxLength: 32, description: 'as printed, e.g. 7QK2M-X9D4P (case, dashes and spaces do not matter)' }),
        locationId: Id, touchpointId: Type.Optional(Id), employeeId: Type.Optional(Id), name: Type.Optional(Name),
      }),
      response: { 200: DeviceOut, ...withConflict } },
  }, async (req) => {
    const p = await user(req);
    const b = req.body;
    await mayPlace(p, req.params.org, b.locationId);
    return claimDevice(store, refs, req.params.org, { code: b.code, locationId: b.locationId, touchpointId: b.touchpointId ?? null, employeeId: b.employeeId ?? null, name: b.name }, p.userId);
  });

  app.get('/api/v1/claim-codes/:code', {
    schema: { tags: ['provisioning'], summary: 'What a claim code is for (the claim page asks this); 404 unless you may place devices in its organisation', security: userAuth,
      params: Type.Object({ code: Type.String({ minLength: 1, maxLength: 32 }) }),
      response: { 200: Type.Object({
        code: Type.String(), state: Type.String({ description: 'valid | used | expired' }), expiresAt: Type.String(), usedAt: Nullable(Type.String()),
        orgId: Type.String(), orgName: Type.String(),
        device: Type.Object({ id: Type.String(), name: Nullable(Type.String()), kind: Type.String(), status: Type.String() }),
      }), ...commonErrors } },
  }, async (req) => {
    const p = await user(req);
    const info = await claimCodeInfo(store, req.params.code);
    // Whether a code exists in an organisation that is not yours is none of your business.
    const allowed = info && p.role !== 'viewer' && await orgAccess(store, p, info.orgId, 'read').then(() => true, () => false);
    if (!info || !allowed) throw notFound('claim code');
    return info;
  });

  const claimPage = readFileSync(new URL('../../../web/claim/index.html', import.meta.url));
  for (const path of ['/claim', '/claim/:code']) {
    app.get(path, { schema: { hide: true } }, async (_req, reply) => reply.type('text/html; charset=utf-8').header('cache-control', 'no-cache').send(claimPage));
  }

  // ---- Credentials and retirement

  app.post('/api/v1/orgs/:org/devices/:device/token', {
    schema: { tags: ['devices'], summary: 'Rotate the device token: the new one is shown once, the old one stops working at once', security: userAuth, params: DeviceParams,
      response: { 200: TokenOut, ...withConflict } },
  }, async (req) => {
    await orgAccess(store, await user(req), req.params.org, 'admin');
    return rotateToken(store, refs, bus, req.params.org, req.params.device);
  });

  app.delete('/api/v1/orgs/:org/devices/:device/token', {
    schema: { tags: ['devices'], summary: 'Revoke the device token (a stolen device): nothing it sends is accepted until a token is rotated in', security: userAuth, params: DeviceParams,
      response: { 204: Type.Null(), ...withConflict } },
  }, async (req, reply) => {
    await orgAccess(store, await user(req), req.params.org, 'admin');
    await revokeToken(store, refs, bus, req.params.org, req.params.device);
    return reply.status(204).send(null);
  });

  app.post('/api/v1/orgs/:org/devices/:device/retire', {
    schema: { tags: ['devices'], summary: 'Retire a device for good: token revoked, placement ended, no longer in the fleet view; its votes stay counted', security: userAuth,
      params: DeviceParams, response: { 200: DeviceOut, ...commonErrors } },
  }, async (req) => {
    await orgAccess(store, await user(req), req.params.org, 'admin');
    return retireDevice(store, refs, bus, req.params.org, req.params.device);
  });

  // ---- Settings

  app.get('/api/v1/orgs/:org/devices/:device/settings', {
    schema: { tags: ['devices'], summary: 'Effective settings of a device (defaults with its overrides on top)', security: userAuth, params: DeviceParams,
      response: { 200: DeviceSettingsView, ...commonErrors } },
  }, async (req) => {
    const p = await user(req);
    await orgAccess(store, p, req.params.org, 'read');
    if (locationLimit(p)) await getDevice(store, req.params.org, req.params.device, locationLimit(p));
    return deviceSettings(store, req.params.org, req.params.device);
  });

  app.put('/api/v1/orgs/:org/devices/:device/settings', {
    schema: { tags: ['devices'], summary: 'Change device settings: given fields are set, null resets one to its default, others keep their value; pushed to the device',
      security: userAuth, params: DeviceParams, body: DeviceSettingsPatch, response: { 200: DeviceSettingsView, ...withConflict } },
  }, async (req) => {
    await orgAccess(store, await user(req), req.params.org, 'admin');
    return setDeviceSettings(store, bus, req.params.org, req.params.device, req.body);
  });

  app.get('/api/v1/ingest/settings', {
    schema: { tags: ['devices'], summary: 'A device fetches its own settings (protocol extension; MQTT devices also get them pushed)', security: deviceAuth,
      response: { 200: DeviceSettingsView, 401: ErrorBody, 403: ErrorBody } },
  }, async (req) => {
    const d = await requireDevice(store, refs, req, DEVICE_KINDS);
    markSeen(store, d.deviceId, Date.now());
    return deviceSettings(store, d.orgId, d.deviceId);
  });

  // ---- Fleet health

  app.get('/api/v1/orgs/:org/fleet', {
    schema: { tags: ['fleet'], summary: 'Health of every device (not retired) now, and the counts by state', security: userAuth, params: OrgParams,
      response: { 200: Type.Object({ thresholds: Thresholds, counts: Counts, total: Type.Integer(), devices: Type.Array(FleetDeviceOut) }), ...commonErrors } },
  }, async (req) => {
    const p = await user(req);
    await orgAccess(store, p, req.params.org, 'read');
    return orgFleet(store, req.params.org, locationLimit(p));
  });

  app.get('/api/v1/orgs/:org/fleet/settings', {
    schema: { tags: ['fleet'], summary: 'Thresholds of the derived states', security: userAuth, params: OrgParams, response: { 200: Thresholds, ...commonErrors } },
  }, async (req) => {
    await orgAccess(store, await user(req), req.params.org, 'read');
    return fleetThresholds(store, req.params.org);
  });

  app.put('/api/v1/orgs/:org/fleet/settings', {
    schema: { tags: ['fleet'], summary: 'Set some thresholds (the others keep their value)', security: userAuth, params: OrgParams,
      body: Type.Partial(Thresholds, { additionalProperties: false }), response: { 200: Thresholds, ...commonErrors } },
  }, async (req) => {
    await orgAccess(store, await user(req), req.params.org, 'admin');
    return setFleetThresholds(store, req.params.org, req.body);
  });

  app.get('/api/v1/orgs/:org/fleet/events', {
    schema: { tags: ['fleet'], summary: 'Recorded health transitions, newest first', security: userAuth, params: OrgParams,
      querystring: Type.Object({
        deviceId: Type.Optional(Id), limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
        before: Type.Optional(Type.String({ minLength: 1, maxLength: 40, description: 'only transitions before this moment (ISO-8601), to page back' })),
      }),
      response: { 200: rowsOf(FleetEventOut), ...commonErrors } },
  }, async (req) => {
    const p = await user(req);
    await orgAccess(store, p, req.params.org, 'read');
    const only = locationLimit(p);
    const devices = only ? (await listDevices(store, req.params.org, only)).map((d) => d.id) : null;
    const q = req.query;
    const before = q.before === undefined ? undefined : parseTimestamp(q.before, 'before');
    return { rows: await fleetEvents(store, req.params.org, { deviceId: q.deviceId, devices, limit: q.limit, before }) };
  });

  app.get('/api/v1/partners/:partner/fleet', {
    schema: { tags: ['fleet'], summary: 'Each client organisation of a partner with its devices counted by state', security: userAuth,
      params: Type.Object({ partner: Id }),
      response: { 200: Type.Object({ counts: Counts, total: Type.Integer(), orgs: Type.Array(Type.Object({ id: Type.String(), name: Type.String(), counts: Counts, total: Type.Integer() })) }), ...commonErrors } },
  }, async (req) => {
    const p = await user(req);
    const partner = req.params.partner;
    if (p.role === 'admin') {
      if (!(await partnerExists(store, partner))) throw notFound('partner');
    } else if (p.role !== 'partner-admin' || p.partnerId !== partner) {
      throw forbidden('this partner is not yours');
    }
    return partnerFleet(store, partner);
  });
}
