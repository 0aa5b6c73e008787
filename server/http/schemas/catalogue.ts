import { z } from '@hono/zod-openapi';
import { ITEM_STATUSES } from '../../catalogue/items.js';

// Response shapes of records, items and patrons, mirroring BibRecord, Item and Patron of the domain.

const nullableString = z.string().nullable();

export const RecordSchema = z.object({
  id: z.number().int(),
  title: z.string(),
  authors: z.array(z.string()),
  publisher: nullableString,
  year: z.number().int().nullable(),
  isbn: nullableString,
  language: nullableString,
  classScheme: z.enum(['clc', 'udc', 'ddc']).nullable(),
  classification: nullableString,
  topClass: nullableString.openapi({ description: 'derived from classification: CLC letter, UDC digit or Dewey hundreds' }),
  subjects: z.array(z.string()),
  createdAt: z.string(),
  updatedAt: z.string(),
}).openapi('Record');

export const RecordListSchema = z.object({ total: z.number().int(), records: z.array(RecordSchema) }).openapi('RecordList');

export const ItemSchema = z.object({
  id: z.number().int(),
  recordId: z.number().int(),
  barcode: z.string(),
  tagUid: nullableString,
  ownerIsil: nullableString,
  homeBranch: z.string(),
  currentBranch: nullableString,
  location: nullableString,
  callNumber: nullableString,
  itemType: z.string(),
  status: z.enum(ITEM_STATUSES),
  transitTo: nullableString,
  priceCents: z.number().int().nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
}).openapi('Item');

export const ItemListSchema = z.object({ total: z.number().int(), items: z.array(ItemSchema) }).openapi('ItemList');

export const PatronSchema = z.object({
  id: z.number().int(),
  cardNumber: z.string(),
  cardTagUid: nullableString,
  name: z.string(),
  category: z.string(),
  department: nullableString,
  email: nullableString,
  phone: nullableString,
  birthDate: nullableString,
  homeBranch: nullableString,
  expiryDate: z.string(),
  blockedReason: nullableString,
  cardLost: z.boolean(),
  hasPin: z.boolean(),
  createdAt: z.string(),
  updatedAt: z.string(),
}).openapi('Patron');

export const PatronListSchema = z.object({ total: z.number().int(), patrons: z.array(PatronSchema) }).openapi('PatronList');
