// PROTOCOL.md §3: the topic tree `lb/v1/{deviceId}/{leaf}` and who may use which leaf. Both the
// embedded broker's ACL and the external consumer read topics through these functions only.

/** What a device publishes (device → server). */
export const INBOUND = ['votes', 'heartbeat', 'visitors', 'camera'] as const;
export type InboundLeaf = (typeof INBOUND)[number];
/** What the server publishes (server → device); a device may only subscribe to these, never publish them. */
export const OUTBOUND = ['ack', 'error', 'settings'] as const;
export type OutboundLeaf = (typeof OUTBOUND)[number];

const PREFIX = 'lb/v1/';

export const topicOf = (deviceId: string, leaf: InboundLeaf | OutboundLeaf): string => `${PREFIX}${deviceId}/${leaf}`;

/**
 * `lb/v1/{deviceId}/{leaf}` → its parts; null for anything else: other trees, more or fewer levels,
 * an empty device id, or wildcards anywhere (a wildcard is never a device id).
 */
export function parseTopic(topic: string): { deviceId: string; leaf: string } | null {
  if (!topic.startsWith(PREFIX)) return null;
  const rest = topic.slice(PREFIX.length).split('/');
  if (rest.length !== 2) return null;
  const [deviceId, leaf] = rest as [string, string];
  if (!deviceId || !leaf || /[+#\u0000]/.test(topic)) return null;
  return { deviceId, leaf };
}

export const isInbound = (leaf: string): leaf is InboundLeaf => (INBOUND as readonly string[]).includes(leaf);
export const isOutbound = (leaf: string): leaf is OutboundLeaf => (OUTBOUND as readonly string[]).includes(leaf);

/** The inbound leaf of `deviceId`'s own topic, or null: the only topics that device may publish to. */
export function ownInbound(deviceId: string, topic: string): InboundLeaf | null {
  const t = parseTopic(topic);
  return t && t.deviceId === deviceId && isInbound(t.leaf) ? t.leaf : null;
}

/** True for `deviceId`'s own ack/error/settings: the only topics that device may subscribe to or receive. */
export function ownOutbound(deviceId: string, topic: string): boolean {
  const t = parseTopic(topic);
  return !!t && t.deviceId === deviceId && isOutbound(t.leaf);
}

/** The shared subscriptions a server node consumes: `$share/{group}/lb/v1/+/{leaf}` for each inbound leaf. */
export const sharedSubscriptions = (group: string): string[] => INBOUND.map((leaf) => `$share/${group}/${PREFIX}+/${leaf}`);
