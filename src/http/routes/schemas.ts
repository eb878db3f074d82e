import { Type } from 'typebox';

export const ErrorBody = Type.Object({
  error: Type.Object({ code: Type.String(), message: Type.String(), field: Type.Optional(Type.String()) }),
});
export const OrgParams = Type.Object({ org: Type.String({ minLength: 1, maxLength: 64 }) });
export const Name = Type.String({ minLength: 1, maxLength: 200 });
export const Id = Type.String({ minLength: 1, maxLength: 64 });
export const userAuth = [{ user: [] }];
export const commonErrors = { 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody };

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);
export const PartnerOut = Type.Object({ id: Type.String(), name: Type.String() });
export const OrgOut = Type.Object({ id: Type.String(), name: Type.String(), partnerId: Nullable(Type.String()) });
export const LocationOut = Type.Object({
  id: Type.String(), orgId: Type.String(), name: Type.String(), timezone: Type.String(),
  openingHours: Nullable(Type.Record(Type.String(), Type.Array(Type.Array(Type.String())))),
});
export const TouchpointOut = Type.Object({ id: Type.String(), orgId: Type.String(), name: Type.String(), locationId: Nullable(Type.String()), channel: Nullable(Type.String()) });
export const EmployeeOut = Type.Object({ id: Type.String(), orgId: Type.String(), name: Type.String() });
export const UserOut = Type.Object({ id: Type.String(), email: Type.String(), name: Type.String(), role: Type.String(), locationIds: Nullable(Type.Array(Type.String())) });
export const rowsOf = <T extends Parameters<typeof Type.Array>[0]>(t: T) => Type.Object({ rows: Type.Array(t) });
