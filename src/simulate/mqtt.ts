// A device over MQTT (PROTOCOL.md §3): username = device id, password = device token; it publishes
// batches on lb/v1/{id}/votes (or …/visitors) with QoS 1 and learns on lb/v1/{id}/ack which event
// ids are durably stored. QoS 1 gets a message to the broker (mqtt.js re-sends unacknowledged
// PUBLISH packets after a reconnect); the ack topic says the server stored it, and the device
// re-publishes whatever stays unacknowledged too long (the server deduplicates by event id).
// Sessions are persistent (clean: false), so acks published while a device is offline wait for it
// at the broker.
import mqtt, { type MqttClient } from 'mqtt';
import { topicOf } from '../mqtt/topics.ts';
import type { Batch, HeartbeatBody, Link, SimDevice } from './device.ts';
import { noteError, type Stats } from './device.ts';

export type MqttLinkOptions = { url: string; stats: Stats; connectTimeoutMs: number };

/** `{ids:[…]}` plus, when the server says so, how many of them were new. */
function parseAck(payload: Buffer): { ids: string[]; counts?: { accepted: number; duplicates: number } } | null {
  try {
    const m = JSON.parse(payload.toString('utf8')) as { ids?: unknown; accepted?: unknown; duplicates?: unknown };
    if (!Array.isArray(m.ids)) return null;
    const ids = m.ids.filter((x): x is string => typeof x === 'string');
    return typeof m.accepted === 'number' && typeof m.duplicates === 'number' ? { ids, counts: { accepted: m.accepted, duplicates: m.duplicates } } : { ids };
  } catch {
    return null;
  }
}

/**
 * Makes the broker forget a persistent session: connects with a clean session (MQTT 5: expiring at
 * once) under that client id and leaves. Errors are ignored: there is nothing left to forget then.
 */
export async function dropSession(url: string, o: { clientId: string; username?: string; password?: string; protocolVersion?: 4 | 5 }): Promise<void> {
  const v5 = o.protocolVersion === 5;
  const c = mqtt.connect(url, {
    clientId: o.clientId, ...(o.username ? { username: o.username, password: o.password } : {}), clean: true,
    protocolVersion: v5 ? 5 : 4, ...(v5 ? { properties: { sessionExpiryInterval: 0 } } : {}), reconnectPeriod: 0, connectTimeout: 5_000,
  });
  c.on('error', () => {});
  await new Promise<void>((resolve) => { c.once('connect', () => resolve()); c.once('close', () => resolve()); });
  await c.endAsync(true).catch(() => {});
}

export function mqttLink(device: SimDevice, o: MqttLinkOptions): Link {
  let client: MqttClient | null = null;
  const ack = topicOf(device.id, 'ack');
  const error = topicOf(device.id, 'error');
  const data = topicOf(device.id, device.votes ? 'votes' : 'visitors');
  const accepting = new Set<string>();
  let leaving = false;
  let opened = false;

  const connect = async (): Promise<void> => {
    const c = mqtt.connect(o.url, {
      clientId: device.id, username: device.id, password: device.token,
      clean: false, protocolVersion: 4, reconnectPeriod: 1000, connectTimeout: o.connectTimeoutMs, keepalive: 30,
      resubscribe: true,
    });
    c.on('message', (topic, payload) => {
      if (topic === ack) {
        const a = parseAck(payload);
        // QoS 1 is at least once: an ack the device had not confirmed before going offline comes
        // again. A second copy of an ack that accepted events is such a copy (an event is accepted
        // once): its ids count, its figures must not.
        const text = a?.counts?.accepted ? payload.toString('utf8') : null;
        if (a && text !== null && accepting.has(text)) delete a.counts;
        else if (text !== null) accepting.add(text);
        if (a) device.acked(a.ids, a.counts);
        else noteError(o.stats, `device ${device.id}: an ack that is not {"ids":[…]}: ${payload.toString('utf8').slice(0, 200)}`);
      } else if (topic === error) device.error(payload.toString('utf8').slice(0, 300));
    });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => { c.end(true); reject(new Error(`MQTT: no connection to ${o.url} within ${o.connectTimeoutMs} ms`)); }, o.connectTimeoutMs);
      c.once('connect', () => { clearTimeout(timer); resolve(); });
      c.on('error', (e: Error & { code?: unknown }) => {
        // Refused credentials are final; network errors are retried by mqtt.js itself.
        if (typeof e.code === 'number') { clearTimeout(timer); c.end(true); reject(new Error(`MQTT connect as ${device.id}: ${e.message}`)); }
        else if (!leaving) noteError(o.stats, `MQTT: ${e.message}`);
      });
    });
    const granted = await c.subscribeAsync([ack, error], { qos: 1 });
    const refused = granted.filter((g) => g.qos === 128);
    if (refused.length) throw new Error(`MQTT: subscription to ${refused.map((g) => g.topic).join(', ')} refused`);
    client = c;
    opened = true;
  };

  const disconnect = async (): Promise<void> => {
    const c = client;
    client = null;
    leaving = true;
    try { if (c) await c.endAsync(false); } finally { leaving = false; }
  };

  return {
    perRequest: false,
    connect,
    disconnect,
    send(batch: Batch) {
      if (!client) { noteError(o.stats, `device ${device.id}: publish while offline`); return; }
      client.publish(data, batch.body, { qos: 1 }, (e) => { if (e) noteError(o.stats, `publish: ${e.message}`); });
    },
    async heartbeat(body: HeartbeatBody) {
      if (client) await client.publishAsync(topicOf(device.id, 'heartbeat'), JSON.stringify(body), { qos: 1 });
    },
    async close() {
      await disconnect();
      // A simulated device is gone for good: drop its persistent session so the broker keeps nothing for it.
      if (opened) await dropSession(o.url, { clientId: device.id, username: device.id, password: device.token });
    },
  };
}
