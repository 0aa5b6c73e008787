import { z } from '@hono/zod-openapi';

// Who is signed in, staff users and devices.

const csrf = {
  csrfToken: z.string().openapi({ description: 'send it back in the X-CSRF-Token header of every state-changing request' }),
  expiresAt: z.string(),
};

export const StaffMeSchema = z.object({
  kind: z.literal('staff'), id: z.number().int(), username: z.string(), displayName: z.string(), role: z.enum(['admin', 'librarian']), ...csrf,
}).openapi('StaffSession');

export const PatronMeSchema = z.object({
  kind: z.literal('patron'), id: z.number().int(), cardNumber: z.string(), name: z.string(), ...csrf,
}).openapi('PatronSession');

export const DeviceMeSchema = z.object({
  kind: z.literal('device'), id: z.string(), deviceKind: z.enum(['kiosk', 'gateway']), branchId: z.string().nullable(),
}).openapi('DeviceIdentity');

export const MeSchema = z.discriminatedUnion('kind', [StaffMeSchema, PatronMeSchema, DeviceMeSchema]).openapi('Me');

export const StaffLoginBody = z.strictObject({
  username: z.string().min(1).max(100),
  password: z.string().min(1).max(500),
}).openapi('StaffLogin');

export const PatronLoginBody = z.strictObject({
  cardNumber: z.string().min(1).max(64),
  pin: z.string().min(1).max(64),
}).openapi('PatronLogin');

export const STAFF_ROLES = ['admin', 'librarian'] as const;

export const StaffUserSchema = z.object({
  id: z.number().int(), username: z.string(), displayName: z.string(), role: z.enum(STAFF_ROLES), disabled: z.boolean(), createdAt: z.string(),
}).openapi('StaffUser');

export const Password = z.string().min(10, 'at least 10 characters').max(500);

export const StaffCreateBody = z.strictObject({
  username: z.string().regex(/^[a-z0-9][a-z0-9._-]{1,39}$/, '2 to 40 lowercase letters, digits, ".", "_" or "-"'),
  displayName: z.string().trim().min(1).max(200),
  role: z.enum(STAFF_ROLES),
  password: Password,
}).openapi('StaffCreate');

export const StaffPatchBody = z.strictObject({
  displayName: z.string().trim().min(1).max(200).optional(),
  role: z.enum(STAFF_ROLES).optional(),
  password: Password.optional(),
  disabled: z.boolean().optional(),
}).openapi('StaffPatch');

export const DEVICE_KINDS = ['kiosk', 'gateway', 'reader', 'sensor', 'actuator', 'camera'] as const;

export const DeviceSchema = z.object({
  id: z.string(), kind: z.enum(DEVICE_KINDS), branchId: z.string().nullable(), zoneId: z.string().nullable(), name: z.string(),
  role: z.string().nullable(), config: z.record(z.string(), z.unknown()), hasToken: z.boolean(), createdAt: z.string(),
}).openapi('Device');

export const DeviceWithTokenSchema = DeviceSchema.extend({
  token: z.string().nullable().openapi({ description: 'kiosks and gateways: the bearer token, shown this once; null for other kinds' }),
}).openapi('DeviceWithToken');

export const DeviceCreateBody = z.strictObject({
  id: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'letters, digits, ".", "_" or "-", at most 64'),
  kind: z.enum(DEVICE_KINDS),
  branchId: z.string().min(1).max(64).nullish(),
  zoneId: z.string().min(1).max(64).nullish(),
  name: z.string().trim().min(1).max(200),
  role: z.string().trim().min(1).max(40).nullish(),
  config: z.record(z.string(), z.unknown()).default({}),
}).openapi('DeviceCreate');
