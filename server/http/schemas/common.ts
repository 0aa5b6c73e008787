import { z } from '@hono/zod-openapi';

// Schemas shared by several resources: path parameters, paging, desk fields, and how a PATCH body is
// made from a create schema.

export const IdParam = z.object({
  id: z.coerce.number().int().positive().openapi({ param: { name: 'id', in: 'path' }, example: 1 }),
});

export const Paging = {
  limit: z.coerce.number().int().min(1).max(500).default(50),
  offset: z.coerce.number().int().min(0).default(0),
};

/** Barcodes, card numbers and tag UIDs are kept exactly as printed: no trimming, no case change. */
export const Code = z.string().min(1).max(64).regex(/^[\x21-\x7e]+$/, 'printable ASCII without spaces');
export const TagUid = z.string().regex(/^[0-9A-F]{16}$/, '16 uppercase hex digits (ISO 15693 UID)');
export const BranchId = z.string().min(1).max(64);
export const IsoDate = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'YYYY-MM-DD')
  .refine((s) => !Number.isNaN(Date.parse(`${s}T00:00:00Z`)) && new Date(`${s}T00:00:00Z`).toISOString().startsWith(s), 'not a calendar date');
/** An instant with Z or an offset; stored and compared as UTC ISO strings, so it is normalised to one. */
export const IsoInstant = z.iso.datetime({ offset: true }).transform((s) => new Date(s).toISOString());

/** Fields every desk or kiosk operation takes. */
export const DeskFields = {
  branchId: BranchId.optional().openapi({ description: 'the branch the staff desk acts at (must exist); kiosks act at their own branch and may omit it' }),
  txnId: z.string().min(1).max(128).optional()
    .openapi({ description: 'client transaction id: a retry with the same id returns the first result (or send the Idempotency-Key header)' }),
};

export const IdempotencyHeaders = z.object({
  'Idempotency-Key': z.string().min(1).max(130).optional()
    .openapi({ description: 'client transaction id, as txnId in the body' }),
});

/**
 * The PATCH schema of a create schema: every field optional, defaults removed (so a field left out is
 * left alone rather than reset to its default), unknown fields refused.
 */
export function patchOf<S extends z.ZodRawShape>(schema: z.ZodObject<S>, name: string) {
  const shape: Record<string, z.ZodType> = {};
  for (const [key, field] of Object.entries(schema.shape)) {
    const bare = field instanceof z.ZodDefault ? (field.unwrap() as z.ZodType) : (field as z.ZodType);
    shape[key] = bare.optional();
  }
  return z.strictObject(shape).openapi(name) as unknown as z.ZodType<Partial<z.output<z.ZodObject<S>>>, Partial<z.input<z.ZodObject<S>>>>;
}

type Security = Record<string, string[]>[];
export const SESSION: Security = [{ session: [] }];
export const SESSION_OR_DEVICE: Security = [{ session: [] }, { device: [] }];

/** A JSON object whose fields are described in prose: wide read models (the CRM's) that evolve with their features. */
export const Obj = (name: string) => z.record(z.string(), z.unknown()).openapi(name);

export const json = <T extends z.ZodType>(schema: T) => ({ content: { 'application/json': { schema } }, required: true as const });
export const ok = <T extends z.ZodType>(schema: T, description: string) => ({ description, content: { 'application/json': { schema } } });
