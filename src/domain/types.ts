export const BUTTONS = ['satisfied', 'dissatisfied'] as const;
export type Button = (typeof BUTTONS)[number];

export const DEVICE_KINDS = ['panel', 'fob', 'counter', 'camera'] as const;
export type DeviceKind = (typeof DEVICE_KINDS)[number];

export const USER_ROLES = ['admin', 'partner-admin', 'org-admin', 'manager', 'viewer'] as const;
export type UserRole = (typeof USER_ROLES)[number];
export const ORG_ROLES = ['org-admin', 'manager', 'viewer'] as const;

export const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
export type Weekday = (typeof WEEKDAYS)[number];
/** { mon: [["09:00","21:00"]], … }; a day absent from the object means closed that day. */
export type OpeningHours = Partial<Record<Weekday, Array<[string, string]>>>;

export type UserPrincipal = {
  kind: 'user';
  userId: string;
  role: UserRole;
  orgId: string | null;
  partnerId: string | null;
  /** A manager sees only these locations; null = every location of the org. */
  locationIds: string[] | null;
};
export type DevicePrincipal = { kind: 'device'; deviceId: string; orgId: string; deviceKind: DeviceKind };
export type Principal = UserPrincipal | DevicePrincipal;

/** Attribution of a device at a moment: where it stood and whom it rated. */
export type Attribution = { locationId: string; touchpointId: string | null; employeeId: string | null };
