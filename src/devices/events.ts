// In-process notifications about devices, so the modules that act on them stay independent:
// fleet health emits state changes (alerts consume them later), provisioning emits settings and
// the MQTT transport pushes those to the device. Listeners must not throw.
import { EventEmitter } from 'node:events';

export type DeviceSettingsEvent = { deviceId: string; orgId: string; settings: Record<string, unknown> };
export type DeviceHealthEvent = { deviceId: string; orgId: string; state: string; previous: string | null; at: number };

type Events = { settings: [DeviceSettingsEvent]; health: [DeviceHealthEvent] };

export class DeviceBus extends EventEmitter<Events> {}
