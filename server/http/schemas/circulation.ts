import { z } from '@hono/zod-openapi';
import { REASONS, type ReasonCode } from '../../circulation/reasons.js';

// Response shapes of the circulation core's results (server/circulation/circulation.ts), without `ok`.

export const REASON_CODES = Object.keys(REASONS) as [ReasonCode, ...ReasonCode[]];
const Int = z.number().int();
const Words = z.object({ en: z.string(), zh: z.string() });
const replayed = z.boolean().optional().openapi({ description: 'true when this is the stored result of an earlier request with the same transaction id' });

export const LoanSchema = z.object({
  id: Int, itemId: Int, barcode: z.string(), recordId: Int, title: z.string(), patronId: Int.nullable(), branchId: z.string(),
  checkedOutAt: z.string(), dueAt: z.string(), renewals: Int, closedAt: z.string().nullable(),
}).openapi('Loan');

export const ItemBriefSchema = z.object({
  id: Int, barcode: z.string(), recordId: Int, title: z.string(), status: z.string(), location: z.string().nullable(), callNumber: z.string().nullable(),
  itemType: z.string(), homeBranch: z.string(),
}).openapi('ItemBrief');

export const DispositionSchema = z.discriminatedUnion('action', [
  z.object({ action: z.literal('reshelve'), branchId: z.string(), location: z.string().nullable() }),
  z.object({ action: z.literal('hold_shelf'), branchId: z.string(), holdId: Int, patronId: Int, pickupDeadline: z.string() }),
  z.object({ action: z.literal('transit'), branchId: z.string(), to: z.string(), holdId: Int.optional() }),
]).openapi('Disposition');

export const HoldSchema = z.object({
  id: Int, recordId: Int, title: z.string(), patronId: Int, pickupBranch: z.string(), itemId: Int.nullable(), status: z.string(),
  placedAt: z.string(), expiresAt: z.string().nullable(), pickupDeadline: z.string().nullable(), queuePosition: Int.nullable(),
}).openapi('Hold');

export const CheckoutResultSchema = z.object({
  loan: LoanSchema, item: ItemBriefSchema, patronId: Int, dueAt: z.string(), renewal: z.boolean(), fulfilledHoldId: Int.nullable(), replayed,
}).openapi('CheckoutResult');

export const CheckinResultSchema = z.object({
  item: ItemBriefSchema, loan: LoanSchema.nullable(), wasOnLoan: z.boolean(), fineCents: Int, disposition: DispositionSchema, foundLost: z.boolean(), replayed,
}).openapi('CheckinResult');

const renewFields = { loan: LoanSchema, item: ItemBriefSchema, dueAt: z.string() };
export const RenewResultSchema = z.object({ ...renewFields, replayed }).openapi('RenewResult');

export const RenewAllResultSchema = z.object({
  renewed: z.array(z.object(renewFields)),
  refused: z.array(z.object({ barcode: z.string(), code: z.enum(REASON_CODES), message: Words })),
  replayed,
}).openapi('RenewAllResult');

export const HoldResultSchema = z.object({ hold: HoldSchema, replayed }).openapi('HoldResult');
export const CancelHoldResultSchema = z.object({ hold: HoldSchema, releasedItem: z.object({ barcode: z.string() }).nullable(), replayed }).openapi('CancelHoldResult');
export const LostResultSchema = z.object({ item: ItemBriefSchema, feeCents: Int, loan: LoanSchema.nullable(), replayed }).openapi('LostResult');
export const PaymentResultSchema = z.object({ paidCents: Int, balanceCents: Int, replayed }).openapi('PaymentResult');

export const PatronStatusSchema = z.object({
  patronId: Int, cardNumber: z.string(), name: z.string(), category: z.string(),
  blocks: z.array(z.enum(['CARD_EXPIRED', 'CARD_LOST', 'PATRON_BLOCKED', 'MAX_LOANS_REACHED', 'TOO_MANY_OVERDUE', 'FINES_OVER_LIMIT'])),
  loans: Int, overdue: Int, holdsWaiting: Int, holdsReady: Int, balanceCents: Int, expiryDate: z.string(), blockedReason: z.string().nullable(),
}).openapi('PatronStatus');

export const AccountLoanSchema = LoanSchema.extend({ overdue: z.boolean() }).openapi('AccountLoan');
export const AccountHoldSchema = HoldSchema.extend({ barcode: z.string().nullable() }).openapi('AccountHold');
export const AccountFeeSchema = z.object({
  id: Int, kind: z.enum(['overdue', 'lost', 'manual']), amountCents: Int, owedCents: Int, createdAt: z.string(), note: z.string().nullable(), barcode: z.string().nullable(),
}).openapi('AccountFee');

export const LoanListSchema = z.object({ loans: z.array(AccountLoanSchema) }).openapi('LoanList');
export const HoldListSchema = z.object({ holds: z.array(AccountHoldSchema) }).openapi('HoldList');
export const FeeListSchema = z.object({ fees: z.array(AccountFeeSchema), balanceCents: Int }).openapi('FeeList');

export const CircEventSchema = z.object({
  id: Int, ts: z.string(), op: z.string(), outcome: z.enum(['ok', 'refused']), reason: z.string().nullable(),
  channel: z.enum(['kiosk', 'sip2', 'desk', 'opac', 'system']), actor: z.string().nullable(), branchId: z.string().nullable(),
  patronId: Int.nullable(), itemId: Int.nullable(), loanId: Int.nullable(), holdId: Int.nullable(),
  detail: z.record(z.string(), z.unknown()).nullable(),
}).openapi('CircEvent');

export const CircEventListSchema = z.object({ events: z.array(CircEventSchema) }).openapi('CircEventList');

export const GatewayEventSchema = z.object({ gatewayId: z.string(), site: z.string(), online: z.boolean(), ts: z.string() }).openapi('GatewayEvent');
