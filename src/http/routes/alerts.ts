// Alerts (README "Alerts"): rules and webhooks per org (org admins write, members read), the alerts
// with their history and lifecycle (ack / comment / close), and the delivery outbox with its dead
// letters. Every route checks the caller's access to the org first (another org's user gets 403);
// a manager sees only the alerts of their locations.
import { Type } from 'typebox';
import type { App, AppContext } from '../context.ts';
import { requireUser } from '../auth.ts';
import { commonErrors, ErrorBody, Id, Name, OrgParams, rowsOf, userAuth } from './schemas.ts';
import { locationLimit, orgAccess } from '../../accounts/accounts.ts';
import { createRule, createWebhook, getRule, listRules, listWebhooks, updateRule, updateWebhook, RULE_KINDS, ALERT_LANGS, type RuleInput } from '../../alerts/rules.ts';
import { act, ALERT_STATES, getAlert, listAlerts, type Act, type AlertState } from '../../alerts/alerts.ts';
import { listDeliveries, redrive } from '../../alerts/delivery.ts';
import { SPIKE } from '../../alerts/spike.ts';

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);
const HHMM = Type.String({ pattern: '^([01][0-9]|2[0-3]):[0-5][0-9]$', description: 'local time HH:MM in the location\'s zone' });
const RuleBody = Type.Object({
  name: Name,
  kind: Type.Enum([...RULE_KINDS], { description: 'score_below | spike | device_offline | battery_low' }),
  enabled: Type.Optional(Type.Boolean({ description: 'default true; false keeps the rule (and its alerts) but stops evaluating it' })),
  critical: Type.Optional(Type.Boolean({ description: 'critical alerts are delivered during quiet hours too (default false)' })),
  locationIds: Type.Optional(Nullable(Type.Array(Id, { maxItems: 1000, description: 'the locations it watches; null or absent = all' }))),
  params: Type.Optional(Type.Object({
    threshold: Type.Optional(Type.Integer({ minimum: 2, maximum: 5, description: 'score_below: alert while the 1–5 score is below this' })),
    windowDays: Type.Optional(Type.Integer({ minimum: 1, maximum: 90, description: 'score_below: local days counted, today included (default 7)' })),
    batteryPercent: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, description: 'battery_low: alert below this (default: the org\'s lowBatteryPercent)' })),
    falseAlarmsPerWeek: Type.Optional(Type.Number({ minimum: SPIKE.minFalseAlarmsPerWeek, maximum: SPIKE.maxFalseAlarmsPerWeek, description: 'spike: expected false alarms per location per open week the test may spend (default 0.25); more finds more, and earlier (README "Alerts")' })),
  }, { additionalProperties: false })),
  channels: Type.Optional(Type.Object({
    emails: Type.Optional(Type.Array(Type.Object({
      to: Type.String({ minLength: 1, maxLength: 254, description: 'a user id of the org or an email address' }),
      lang: Type.Optional(Type.Enum([...ALERT_LANGS], { description: 'language of the email (default en)' })),
    }, { additionalProperties: false }), { maxItems: 50 })),
    webhookIds: Type.Optional(Type.Array(Id, { maxItems: 20 })),
  }, { additionalProperties: false })),
  quietHours: Type.Optional(Nullable(Type.Object({ start: HHMM, end: HHMM }, { additionalProperties: false, description: 'deliveries raised inside are deferred to the end (not dropped); may cross midnight' }))),
}, { additionalProperties: false });
const RuleOut = Type.Object({
  id: Type.String(), orgId: Type.String(), name: Type.String(), kind: Type.String(), enabled: Type.Boolean(), critical: Type.Boolean(),
  locationIds: Nullable(Type.Array(Type.String())), params: Type.Record(Type.String(), Type.Unknown()),
  channels: Type.Object({ emails: Type.Array(Type.Object({ to: Type.String(), lang: Type.String() })), webhookIds: Type.Array(Type.String()) }),
  quietHours: Nullable(Type.Object({ start: Type.String(), end: Type.String() })),
  createdBy: Nullable(Type.String()), createdAt: Type.String(), updatedBy: Nullable(Type.String({ description: 'who changed it last' })), updatedAt: Type.String(),
});
const WebhookOut = Type.Object({ id: Type.String(), orgId: Type.String(), name: Type.String(), url: Type.String(), enabled: Type.Boolean(), createdAt: Type.String() });
const AlertOut = Type.Object({
  id: Type.String(), orgId: Type.String(), ruleId: Type.String(), kind: Type.String(), locationId: Nullable(Type.String()), deviceId: Nullable(Type.String()),
  state: Type.String({ description: 'open | acknowledged | closed' }), openedAt: Type.String(), lastSeenAt: Type.String({ description: 'the last evaluation that found the condition' }),
  value: Nullable(Type.Number({ description: 'latest figure: the score, the spike\'s p-value, the battery %' })), peak: Nullable(Type.Number({ description: 'the worst value while open' })),
  detail: Type.Record(Type.String(), Type.Unknown()), link: Type.String({ description: 'the dashboard view that explains it (absolute with PUBLIC_URL)' }),
  acknowledgedBy: Nullable(Type.String()), acknowledgedAt: Nullable(Type.String()), closedBy: Nullable(Type.String()), closedAt: Nullable(Type.String()),
  closeReason: Nullable(Type.String({ description: 'manual | recovered' })),
});
const AlertWithHistory = Type.Intersect([AlertOut, Type.Object({
  history: Type.Array(Type.Object({ id: Type.String(), at: Type.String(), userId: Nullable(Type.String()), action: Type.String(), comment: Nullable(Type.String()), detail: Nullable(Type.Record(Type.String(), Type.Unknown())) })),
})]);
const DeliveryOut = Type.Object({
  id: Type.String(), alertId: Type.String(), event: Type.String(), channel: Type.String({ description: 'email | webhook' }), target: Type.String({ description: 'user id, address or webhook id' }),
  state: Type.String(), attempts: Type.Integer(), nextAt: Type.String(), lastError: Nullable(Type.String()), createdAt: Type.String(), deliveredAt: Nullable(Type.String()),
});
const IdParams = Type.Object({ org: Id, id: Id });
const errors = { ...commonErrors, 409: ErrorBody };

export function alertRoutes(app: App, ctx: AppContext): void {
  const org = '/api/v1/orgs/:org';

  // ---- Rules
  app.get(`${org}/alert-rules`, {
    schema: { tags: ['alerts'], summary: 'Alert rules of the organisation', security: userAuth, params: OrgParams, response: { 200: rowsOf(RuleOut), ...commonErrors } },
  }, async (req) => {
    const p = await requireUser(ctx.store, ctx.refs, req);
    const o = await orgAccess(ctx.store, p, req.params.org, 'read');
    return { rows: await listRules(ctx.store, o.id) };
  });
  app.post(`${org}/alert-rules`, {
    schema: { tags: ['alerts'], summary: 'Creates an alert rule (org admins)', security: userAuth, params: OrgParams, body: RuleBody, response: { 201: RuleOut, ...commonErrors } },
  }, async (req, reply) => {
    const p = await requireUser(ctx.store, ctx.refs, req);
    const o = await orgAccess(ctx.store, p, req.params.org, 'admin');
    return reply.status(201).send(await createRule(ctx.store, o.id, p.userId, req.body as RuleInput));
  });
  app.get(`${org}/alert-rules/:id`, {
    schema: { tags: ['alerts'], summary: 'One alert rule', security: userAuth, params: IdParams, response: { 200: RuleOut, ...commonErrors } },
  }, async (req) => {
    const p = await requireUser(ctx.store, ctx.refs, req);
    const o = await orgAccess(ctx.store, p, req.params.org, 'read');
    return getRule(ctx.store, o.id, req.params.id);
  });
  app.put(`${org}/alert-rules/:id`, {
    schema: { tags: ['alerts'], summary: 'Replaces an alert rule\'s definition (org admins); disable with enabled: false (rules are never deleted, their alerts keep pointing at them)', security: userAuth, params: IdParams, body: RuleBody, response: { 200: RuleOut, ...commonErrors } },
  }, async (req) => {
    const p = await requireUser(ctx.store, ctx.refs, req);
    const o = await orgAccess(ctx.store, p, req.params.org, 'admin');
    return updateRule(ctx.store, o.id, req.params.id, p.userId, req.body as RuleInput);
  });

  // ---- Webhooks
  app.get(`${org}/alert-webhooks`, {
    schema: { tags: ['alerts'], summary: 'Webhooks alerts can be sent to (secrets are never shown again)', security: userAuth, params: OrgParams, response: { 200: rowsOf(WebhookOut), ...commonErrors } },
  }, async (req) => {
    const p = await requireUser(ctx.store, ctx.refs, req);
    const o = await orgAccess(ctx.store, p, req.params.org, 'read');
    return { rows: await listWebhooks(ctx.store, o.id) };
  });
  app.post(`${org}/alert-webhooks`, {
    schema: {
      tags: ['alerts'], security: userAuth, params: OrgParams,
      summary: 'Adds a webhook (org admins). The answer carries its signing secret, shown only this once: each delivery has X-Loyalty-Timestamp and X-Loyalty-Signature = "sha256=" + hex HMAC-SHA256(secret, timestamp + "." + body)',
      body: Type.Object({ name: Name, url: Type.String({ minLength: 1, maxLength: 2000, description: 'http(s), no user name or password; internal addresses (loopback, private, link-local, …) are refused unless the operator allows them (README "Alerts")' }) }, { additionalProperties: false }),
      response: { 201: Type.Intersect([WebhookOut, Type.Object({ secret: Type.String() })]), ...commonErrors },
    },
  }, async (req, reply) => {
    const p = await requireUser(ctx.store, ctx.refs, req);
    const o = await orgAccess(ctx.store, p, req.params.org, 'admin');
    return reply.status(201).send(await createWebhook(ctx.store, ctx.webhooks, o.id, req.body));
  });
  app.patch(`${org}/alert-webhooks/:id`, {
    schema: {
      tags: ['alerts'], summary: 'Renames, re-points or disables a webhook (org admins); a new url is checked as on creation', security: userAuth, params: IdParams,
      body: Type.Object({ name: Type.Optional(Name), url: Type.Optional(Type.String({ minLength: 1, maxLength: 2000 })), enabled: Type.Optional(Type.Boolean()) }, { additionalProperties: false }),
      response: { 200: WebhookOut, ...commonErrors },
    },
  }, async (req) => {
    const p = await requireUser(ctx.store, ctx.refs, req);
    const o = await orgAccess(ctx.store, p, req.params.org, 'admin');
    return updateWebhook(ctx.store, ctx.webhooks, o.id, req.params.id, req.body);
  });

  // ---- Alerts
  app.get(`${org}/alerts`, {
    schema: {
      tags: ['alerts'], summary: 'Alerts, open first, then acknowledged, then closed; newest first within each', security: userAuth, params: OrgParams,
      querystring: Type.Object({
        state: Type.Optional(Type.Enum([...ALERT_STATES, 'active'], { description: 'open | acknowledged | closed | active (= not closed); default all' })),
        locationId: Type.Optional(Id), limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 200 })),
      }),
      response: { 200: rowsOf(AlertOut), ...commonErrors },
    },
  }, async (req) => {
    const p = await requireUser(ctx.store, ctx.refs, req);
    const o = await orgAccess(ctx.store, p, req.params.org, 'read');
    return { rows: await listAlerts(ctx.store, o.id, { state: req.query.state as AlertState | 'active' | undefined, locationId: req.query.locationId, onlyLocations: locationLimit(p), limit: req.query.limit ?? 200 }) };
  });
  app.get(`${org}/alerts/:id`, {
    schema: { tags: ['alerts'], summary: 'One alert with its history (every transition and comment: who, when)', security: userAuth, params: IdParams, response: { 200: AlertWithHistory, ...commonErrors } },
  }, async (req) => {
    const p = await requireUser(ctx.store, ctx.refs, req);
    const o = await orgAccess(ctx.store, p, req.params.org, 'read');
    return getAlert(ctx.store, o.id, req.params.id, locationLimit(p));
  });
  const actions: Array<[Act, string]> = [
    ['ack', 'Acknowledges an open alert (optional comment); recorded with who and when'],
    ['comment', 'Comments on an alert (comment required)'],
    ['close', 'Closes an alert (comment required). It stays closed while the condition lasts; a new breach after recovery opens a new alert'],
  ];
  for (const [what, summary] of actions) {
    app.post(`${org}/alerts/:id/${what}`, {
      schema: {
        tags: ['alerts'], summary: `${summary} (org admins and managers; viewers only read)`, security: userAuth, params: IdParams,
        body: Type.Optional(Type.Object({ comment: Type.Optional(Type.String({ maxLength: 2000 })) }, { additionalProperties: false })),
        response: { 200: AlertWithHistory, ...errors },
      },
    }, async (req) => {
      const p = await requireUser(ctx.store, ctx.refs, req);
      const o = await orgAccess(ctx.store, p, req.params.org, 'read');
      return act(ctx.store, o.id, req.params.id, p, what, req.body, locationLimit(p));
    });
  }

  // ---- Deliveries (outbox)
  app.get(`${org}/alert-deliveries`, {
    schema: {
      tags: ['alerts'], summary: 'Alert notifications by state: pending (with the next attempt), delivered, or dead (gave up after the last attempt)', security: userAuth, params: OrgParams,
      querystring: Type.Object({ state: Type.Optional(Type.Enum(['pending', 'delivered', 'dead'], { default: 'dead' })), limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 200 })) }),
      response: { 200: rowsOf(DeliveryOut), ...commonErrors },
    },
  }, async (req) => {
    const p = await requireUser(ctx.store, ctx.refs, req);
    const o = await orgAccess(ctx.store, p, req.params.org, 'admin');
    return { rows: await listDeliveries(ctx.store, o.id, (req.query.state ?? 'dead') as 'pending' | 'delivered' | 'dead', req.query.limit ?? 200) };
  });
  app.post(`${org}/alert-deliveries/:id/redrive`, {
    schema: { tags: ['alerts'], summary: 'Puts a dead letter back in the queue, due now (org admins); recorded in the alert\'s history', security: userAuth, params: IdParams, response: { 200: DeliveryOut, ...errors } },
  }, async (req) => {
    const p = await requireUser(ctx.store, ctx.refs, req);
    const o = await orgAccess(ctx.store, p, req.params.org, 'admin');
    return redrive(ctx.store, o.id, req.params.id, p.userId);
  });
}
