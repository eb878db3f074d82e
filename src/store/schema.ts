// Row types of every table, as Kysely sees them. Timestamps are epoch milliseconds (bigint in
// PostgreSQL, integer in SQLite); JSON is stored as text so both backends behave the same.
import type { Generated } from 'kysely';

export interface PartnersTable { id: string; name: string; created_at: number }
export interface OrgsTable { id: string; partner_id: string | null; name: string; settings: string; created_at: number }
export interface UsersTable {
  id: string; org_id: string | null; partner_id: string | null; email: string; name: string;
  role: string; password_hash: string | null; location_ids: string | null; created_at: number;
  /** Accounts (migration 007): set = sessions and tokens refused at once; the row stays. */
  disabled_at: Generated<number | null>;
}
export interface ApiTokensTable {
  token_hash: string; user_id: string; label: string | null; created_at: number; revoked_at: number | null;
  /** Accounts (migration 007): a public id to list and revoke by; last use, recorded at most once a minute. */
  id: string | null; last_used_at: Generated<number | null>;
}
/** A browser session (src/accounts/sessions.ts): only the SHA-256 of the cookie's random id is stored. */
export interface SessionsTable { id_hash: string; user_id: string; created_at: number; last_seen_at: number; expires_at: number; revoked_at: number | null }
/** An invite link ('invite': into an org with a role) or the first admin's setup link ('setup'); single use. */
export interface InvitesTable {
  id: string; secret_hash: string; kind: string; org_id: string | null; email: string | null; role: string; location_ids: string | null;
  created_by: string | null; created_at: number; expires_at: number | null; accepted_at: number | null; accepted_by: string | null; revoked_at: number | null;
}
/** A revocable read-only wall display link of an org (optionally limited to some locations). */
export interface WallLinksTable { id: string; secret_hash: string; org_id: string; label: string; location_ids: string | null; created_by: string | null; created_at: number; revoked_at: number | null }
/** Who granted, changed or revoked access, when, and what (JSON detail). */
export interface AccessAuditTable { id: string; org_id: string | null; actor_id: string | null; at: number; action: string; target: string; detail: Generated<string> }
/** archived_at (migration 008): hidden from lists and pickers, kept for history; null = in use. */
export interface LocationsTable { id: string; org_id: string; name: string; timezone: string; opening_hours: string | null; created_at: number; archived_at: Generated<number | null> }
export interface TouchpointsTable { id: string; org_id: string; location_id: string | null; name: string; channel: string | null; created_at: number; archived_at: Generated<number | null> }
/** archived_at: the employee was deactivated (left); null = active. */
export interface EmployeesTable { id: string; org_id: string; name: string; created_at: number; archived_at: Generated<number | null> }
export interface DevicesTable {
  id: string; org_id: string; kind: string; name: string | null; token_hash: string; created_at: number;
  last_seen_at: number | null; battery: number | null; rssi: number | null; firmware: string | null; buffered: number | null;
  /** Fleet (migration 004): null claimed_at = waiting for a claim code; token_hash "revoked:{id}" = no working token. */
  claimed_at: number | null; retired_at: number | null;
  /** JSON overrides of the device settings' defaults (src/devices/settings.ts), bumped version on each change. */
  settings: Generated<string>; settings_version: Generated<number>;
  /** The fleet monitor's last derived state (src/devices/fleet.ts) and since when. */
  health_state: string | null; health_since: number | null;
}
/** Where a device stood, and whom it rated, from valid_from (inclusive) to valid_to (exclusive, null = still). */
export interface DeviceAssignmentsTable {
  id: string; device_id: string; org_id: string; location_id: string; touchpoint_id: string | null;
  employee_id: string | null; valid_from: number; valid_to: number | null; created_at: number;
}
export interface VotesTable {
  device_id: string; event_id: string; org_id: string;
  /** Effective time: the device's time, or the receive time when the device's was in the future. */
  ts: number; device_ts: number; received_at: number; clamped: number;
  button: string; reason: string | null;
  location_id: string; touchpoint_id: string | null; employee_id: string | null;
  local_day: string; local_hour: number;
  /** JSON array of misuse rule names; null = counted. The effective verdict, after any review. */
  flags: string | null;
  /** Review (migration 006): null = the rules decide; 'confirmed' = held back; 'restored' = counted. */
  review: Generated<string | null>;
  /** The rules' verdict when a reviewer overrode it (JSON array); null = same as flags. */
  rule_flags: Generated<string | null>;
}
/** Every review decision on flagged votes (src/misuse/review.ts): who, when, why, before/after. */
export interface MisuseAuditTable {
  id: string; org_id: string; user_id: string; at: number; action: string; reason: string; scope: string;
  device_id: string; votes: number; before: string; after: string;
}
/** People counted by a `counter` device (PROTOCOL §2 visitors), attributed like votes. */
export interface VisitorEventsTable {
  device_id: string; event_id: string; org_id: string;
  ts: number; device_ts: number; received_at: number; clamped: number;
  in_count: number; out_count: number | null;
  location_id: string; touchpoint_id: string | null;
  local_day: string; local_hour: number;
}
/** What a `camera` device saw (PROTOCOL §2 camera, migration 011): people in front of it at ts, a clip as evidence. */
export interface CameraEventsTable {
  device_id: string; event_id: string; org_id: string;
  ts: number; device_ts: number; received_at: number; clamped: number;
  people: number; clip: string | null;
  location_id: string; touchpoint_id: string | null;
  local_day: string; local_hour: number;
}
/** An employee's shift at a touchpoint, [starts_at, ends_at) in epoch ms (src/shifts). */
export interface ShiftsTable { id: string; org_id: string; employee_id: string; touchpoint_id: string; starts_at: number; ends_at: number; created_at: number }
/** A bulk creation of unassigned devices (src/devices/provisioning.ts). */
export interface DeviceBatchesTable { id: string; org_id: string; kind: string; name_prefix: string; count: number; claim_expires_at: number; created_by: string | null; created_at: number }
/** A claim code (normalised, no dash) binding an unassigned device to a place once, before expires_at. */
export interface DeviceClaimsTable { code: string; device_id: string; org_id: string; batch_id: string | null; created_at: number; expires_at: number; used_at: number | null; used_by: string | null }
/** A fleet-health transition of a device (state online|stale|offline|low_battery), at the moment it happened. */
export interface DeviceEventsTable { id: string; device_id: string; org_id: string; state: string; previous: string | null; at: number; detail: string | null; created_at: number }
/**
 * Pre-aggregated counters. `cube` names which dimensions are kept (the others are ''):
 * T total, L location, LT location+touchpoint, LE location+employee, F every dimension.
 * `grain` h/d/m with `bucket` "YYYY-MM-DDTHH" / "YYYY-MM-DD" / "YYYY-MM" in the location's zone.
 */
export interface ReportSchedulesTable {
  id: string; org_id: string; user_id: string; frequency: string; report: string; location_ids: string | null; lang: string;
  timezone: string; send_hour: number; next_run_at: number; lease_until: number | null; lease_owner: string | null; created_at: number;
}
export interface ReportDeliveriesTable {
  id: string; schedule_id: string; period_from: string; period_to: string; status: string; attempts: number;
  last_error: string | null; sent_at: number | null; created_at: number;
}
export interface RollupsTable {
  org_id: string; cube: string; grain: string; bucket: string;
  location_id: string; touchpoint_id: string; employee_id: string; device_id: string;
  satisfied: number; dissatisfied: number; flagged: number; visitors: number;
}
/** Alerts (migration 009, src/alerts): JSON columns as text; enabled/critical 0|1. */
export interface AlertRulesTable {
  id: string; org_id: string; name: string; kind: string; enabled: number; critical: number;
  location_ids: string | null; params: string; channels: string; quiet_hours: string | null;
  created_by: string | null; created_at: number; updated_by: string | null; updated_at: number;
}
export interface AlertWebhooksTable { id: string; org_id: string; name: string; url: string; secret: string; enabled: number; created_at: number }
export interface AlertsTable {
  id: string; org_id: string; rule_id: string; kind: string; location_id: string | null; device_id: string | null;
  /** "{rule}|{subject}" while not closed, null after (unique: one open alert per rule and subject). */
  open_key: string | null; state: string; opened_at: number; last_seen_at: number;
  value: number | null; peak: number | null; detail: string; link: string;
  acked_by: string | null; acked_at: number | null; closed_by: string | null; closed_at: number | null; close_reason: string | null;
}
export interface AlertEventsTable { id: string; alert_id: string; org_id: string; at: number; user_id: string | null; action: string; comment: string | null; detail: string | null }
export interface AlertOutboxTable {
  id: string; org_id: string; alert_id: string; event: string; channel: string; target: string; lang: string;
  state: string; attempts: number; next_at: number; last_error: string | null; created_at: number; delivered_at: number | null;
}

/** A change of the org structure (src/orgs): who, when, what (JSON before/after) and why. */
export interface OrgAuditTable {
  id: string; org_id: string; user_id: string | null; at: number; entity: string; entity_id: string; action: string;
  reason: string | null; before: string | null; after: string | null;
}

export interface DB {
  partners: PartnersTable; orgs: OrgsTable; users: UsersTable; api_tokens: ApiTokensTable;
  locations: LocationsTable; touchpoints: TouchpointsTable; employees: EmployeesTable;
  devices: DevicesTable; device_assignments: DeviceAssignmentsTable; votes: VotesTable; visitor_events: VisitorEventsTable; rollups: RollupsTable;
  shifts: ShiftsTable; misuse_audit: MisuseAuditTable; camera_events: CameraEventsTable;
  report_schedules: ReportSchedulesTable; report_deliveries: ReportDeliveriesTable;
  device_batches: DeviceBatchesTable; device_claims: DeviceClaimsTable; device_events: DeviceEventsTable;
  org_audit: OrgAuditTable;
  sessions: SessionsTable; invites: InvitesTable; wall_links: WallLinksTable; access_audit: AccessAuditTable;
  alert_rules: AlertRulesTable; alert_webhooks: AlertWebhooksTable; alerts: AlertsTable; alert_events: AlertEventsTable; alert_outbox: AlertOutboxTable;
}
// Generated is re-exported so later tables with serial columns can use it without another import.
export type { Generated };
