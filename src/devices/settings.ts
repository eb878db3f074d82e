// Per-device settings: what a panel or fob is told to do, with documented defaults. A device
// stores only its overrides; the effective settings are the defaults with the overrides on top.
// A change bumps `version` and is emitted on the device bus, where the MQTT transport pushes it;
// devices can also fetch them over HTTP (GET /api/v1/ingest/settings).
import { Type, type Static } from 'typebox';
import type { Store } from '../store/db.ts';
import type { DeviceBus } from './events.ts';
import { conflict, notFound } from '../domain/errors.ts';

/** Defaults, also in README "Devices and fleet" and the OpenAPI descriptions below. */
export const DEVICE_SETTING_DEFAULTS = {
  repeatWindowSeconds: 10,
  brightness: 80,
  sleepAfterSeconds: 60,
  heartbeatSeconds: 300,
  sound: true,
} as const;
export type DeviceSettings = { repeatWindowSeconds: number; brightness: number; sleepAfterSeconds: number; heartbeatSeconds: number; sound: boolean };
const KEYS = Object.keys(DEVICE_SETTING_DEFAULTS) as Array<keyof DeviceSettings>;

const describe = (text: string, key: keyof DeviceSettings): string => `${text} Default ${String(DEVICE_SETTING_DEFAULTS[key])}.`;
const FIELDS = {
  repeatWindowSeconds: Type.Integer({ minimum: 0, maximum: 3600, description: describe('The device ignores another press of the same button within this many seconds (0 = never).', 'repeatWindowSeconds') }),
  brightness: Type.Integer({ minimum: 0, maximum: 100, description: describe('LED brightness, percent.', 'brightness') }),
  sleepAfterSeconds: Type.Integer({ minimum: 5, maximum: 86_400, description: describe('Seconds without a press before the device dims and sleeps.', 'sleepAfterSeconds') }),
  heartbeatSeconds: Type.Integer({ minimum: 30, maximum: 86_400, description: describe('How often the device sends a heartbeat; keep it well below the org\'s stale threshold.', 'heartbeatSeconds') }),
  sound: Type.Boolean({ description: describe('Confirm a press with a beep.', 'sound') }),
};

export const DeviceSettingsOut = Type.Object(FIELDS);
/** PUT body: the fields given are set, null resets one to its default, absent fields keep their value. */
export const DeviceSettingsPatch = Type.Object({
  repeatWindowSeconds: Type.Optional(Type.Union([FIELDS.repeatWindowSeconds, Type.Null()])),
  brightness: Type.Optional(Type.Union([FIELDS.brightness, Type.Null()])),
  sleepAfterSeconds: Type.Optional(Type.Union([FIELDS.sleepAfterSeconds, Type.Null()])),
  heartbeatSeconds: Type.Optional(Type.Union([FIELDS.heartbeatSeconds, Type.Null()])),
  sound: Type.Optional(Type.Union([FIELDS.sound, Type.Null()])),
}, { additionalProperties: false });
export type DeviceSettingsPatch = Static<typeof DeviceSettingsPatch>;

export const DeviceSettingsView = Type.Object({
  deviceId: Type.String(),
  settings: DeviceSettingsOut,
  overrides: Type.Partial(DeviceSettingsOut, { description: 'the fields set for this device; the others are defaults' }),
  version: Type.Integer({ description: 'grows with every change' }),
});
export type DeviceSettingsView = Static<typeof DeviceSettingsView>;

/** Overrides from the stored JSON, keeping only known keys (a removed setting is ignored). */
function overridesOf(json: string): Partial<DeviceSettings> {
  const raw = JSON.parse(json) as Record<string, unknown>;
  const out: Partial<Record<keyof DeviceSettings, unknown>> = {};
  for (const k of KEYS) if (raw[k] !== undefined && raw[k] !== null) out[k] = raw[k];
  return out as Partial<DeviceSettings>;
}

export function effectiveSettings(overrides: Partial<DeviceSettings>): DeviceSettings {
  return { ...DEVICE_SETTING_DEFAULTS, ...overrides };
}

export async function deviceSettings(store: Store, orgId: string, deviceId: string): Promise<DeviceSettingsView> {
  const row = await store.db.selectFrom('devices').select(['settings', 'settings_version']).where('id', '=', deviceId).where('org_id', '=', orgId).executeTakeFirst();
  if (!row) throw notFound('device');
  const overrides = overridesOf(row.settings);
  return { deviceId, settings: effectiveSettings(overrides), overrides, version: row.settings_version };
}

/**
 * Applies a validated patch, bumps the version and emits the new effective settings on the bus
 * (after the change is stored). Concurrent patches of one device are serialised by the version check.
 */
export async function setDeviceSettings(store: Store, bus: DeviceBus, orgId: string, deviceId: string, patch: DeviceSettingsPatch): Promise<DeviceSettingsView> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const row = await store.db.selectFrom('devices').select(['settings', 'settings_version', 'retired_at']).where('id', '=', deviceId).where('org_id', '=', orgId).executeTakeFirst();
    if (!row) throw notFound('device');
    if (row.retired_at !== null) throw conflict('this device is retired', 'device');
    const next: Partial<Record<keyof DeviceSettings, unknown>> = overridesOf(row.settings);
    for (const k of KEYS) {
      const v = patch[k];
      if (v === null) delete next[k];
      else if (v !== undefined) next[k] = v;
    }
    const version = row.settings_version + 1;
    const res = await store.db.updateTable('devices').set({ settings: JSON.stringify(next), settings_version: version })
      .where('id', '=', deviceId).where('settings_version', '=', row.settings_version).executeTakeFirst();
    if (Number(res.numUpdatedRows) !== 1) continue; // someone else changed them meanwhile: apply the patch to theirs
    const overrides = next as Partial<DeviceSettings>;
    const view = { deviceId, settings: effectiveSettings(overrides), overrides, version };
    bus.emit('settings', { deviceId, orgId, settings: { ...view.settings }, version });
    return view;
  }
  throw conflict('the settings of this device are being changed concurrently; try again', 'device');
}
