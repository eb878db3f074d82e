// In-process notifications about devices, so the modules that act on them stay independent:
// fleet health emits state changes (alerts consume them later), provisioning emits settings and
// the MQTT transport pushes those to the device. Listeners must not throw.
import { EventEmitter } from 'node:events';

/** A device's effective settings changed (src/devices/settings.ts); `version` grows with each change. */
export type DeviceSettingsEvent = { deviceId: string; orgId: string; settings: Record<string, unknown>; version?: number };
/**
 * A fleet-health transition (src/devices/fleet.ts): state online | stale | offline | low_battery,
 * previous also never_seen | unclaimed | null; `at` is when it happened (epoch ms).
 */
export type DeviceHealthEvent = {
  deviceId: string; orgId: string; state: string; previous: string | null; at: number;
  lastSeenAt?: number | null; battery?: number | null;
};
/**
 * A device's token stopped working (rotated, revoked, or the device retired): a transport holding
 * a session authenticated with the old token (an MQTT connection) should close it.
 */
export type DeviceCredentialsEvent = { deviceId: string; orgId: string; reason: 'rotated' | 'revoked' | 'retired' };

type Events = { settings: [DeviceSettingsEvent]; health: [DeviceHealthEvent]; credentials: [DeviceCredentialsEvent] };

export class DeviceBus extends EventEmitter<Events> {}
