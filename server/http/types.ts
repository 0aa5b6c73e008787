// The HTTP API's request and response types, for the web's typed client. Every import here is type-only:
// importing this file brings no server code into a browser bundle, only the three constants at the end. Request types are what a client sends (zod input);
// response types are what it receives (JSON). Errors are always `Problem`.
import type { z } from '@hono/zod-openapi';
import type { HealthSchema } from './routes/health.js';
import type { RecordCreateBody, RecordPatchBody, RecordQuery } from './routes/records.js';
import type { ItemCreateBody, ItemPatchBody } from './routes/items.js';
import type { PatronCreateBody, PatronPatchBody, PatronQuery, PinBody } from './routes/patrons.js';
import type {
  ChangeHoldBody, CheckinBody, CheckoutBody, LostBody, PatronBody, PatronStatusBody, PaymentBody, PlaceHoldBody, RenewBody,
} from './routes/circulation.js';
import type {
  BranchCalendarSchema, BranchCreateBody, BranchPatchBody, BranchSchema, ClosedDateBody, HoursBody, OpeningHoursSchema,
} from './routes/branches.js';
import type { PolicyRuleBody, PolicyRuleSchema } from './routes/policies.js';
import type { MyHoldBody } from './routes/me.js';
import type { EventLogQuery } from './routes/events.js';
import type { RecordListSchema, RecordSchema, ItemListSchema, ItemSchema, PatronListSchema, PatronSchema } from './schemas/catalogue.js';
import type {
  AccountFeeSchema, AccountHoldSchema, AccountLoanSchema, CancelHoldResultSchema, CheckinResultSchema, CheckoutResultSchema,
  CircEventSchema, DispositionSchema, FeeListSchema, GatewayEventSchema, HoldListSchema, HoldResultSchema, HoldSchema, ItemBriefSchema,
  LoanListSchema, LoanSchema, LostResultSchema, PatronStatusSchema, PaymentResultSchema, RenewAllResultSchema, RenewResultSchema,
} from './schemas/circulation.js';
import type {
  DeviceCreateBody, DeviceSchema, DeviceWithTokenSchema, MeSchema, PatronLoginBody, PatronMeSchema, StaffCreateBody, StaffLoginBody,
  StaffMeSchema, StaffPatchBody, StaffUserSchema,
} from './schemas/access.js';

export type { Problem, FieldError } from './problem.js';
export type { ReasonCode } from '../circulation/reasons.js';

type In<T extends z.ZodType> = z.input<T>;
type Out<T extends z.ZodType> = z.output<T>;

// ---- auth ------------------------------------------------------------------------------------------
export type StaffLoginRequest = In<typeof StaffLoginBody>;
export type PatronLoginRequest = In<typeof PatronLoginBody>;
export type StaffSession = Out<typeof StaffMeSchema>;
export type PatronSession = Out<typeof PatronMeSchema>;
export type Me = Out<typeof MeSchema>;
export type Health = Out<typeof HealthSchema>;

// ---- catalogue -------------------------------------------------------------------------------------
export type RecordView = Out<typeof RecordSchema>;
export type RecordList = Out<typeof RecordListSchema>;
export type RecordSearch = In<typeof RecordQuery>;
export type RecordCreateRequest = In<typeof RecordCreateBody>;
export type RecordPatchRequest = In<typeof RecordPatchBody>;
export type ItemView = Out<typeof ItemSchema>;
export type ItemList = Out<typeof ItemListSchema>;
export type ItemCreateRequest = In<typeof ItemCreateBody>;
export type ItemPatchRequest = In<typeof ItemPatchBody>;

// ---- patrons ---------------------------------------------------------------------------------------
export type PatronView = Out<typeof PatronSchema>;
export type PatronList = Out<typeof PatronListSchema>;
export type PatronSearch = In<typeof PatronQuery>;
export type PatronCreateRequest = In<typeof PatronCreateBody>;
export type PatronPatchRequest = In<typeof PatronPatchBody>;
export type PinRequest = In<typeof PinBody>;
export type PatronStatus = Out<typeof PatronStatusSchema>;
export type AccountLoan = Out<typeof AccountLoanSchema>;
export type AccountHold = Out<typeof AccountHoldSchema>;
export type AccountFee = Out<typeof AccountFeeSchema>;
export type LoanList = Out<typeof LoanListSchema>;
export type HoldList = Out<typeof HoldListSchema>;
export type FeeList = Out<typeof FeeListSchema>;

// ---- circulation -----------------------------------------------------------------------------------
export type CheckoutRequest = In<typeof CheckoutBody>;
export type CheckinRequest = In<typeof CheckinBody>;
export type RenewRequest = In<typeof RenewBody>;
export type PatronRequest = In<typeof PatronBody>;
export type PatronStatusRequest = In<typeof PatronStatusBody>;
export type PlaceHoldRequest = In<typeof PlaceHoldBody>;
export type ChangeHoldRequest = In<typeof ChangeHoldBody>;
export type LostRequest = In<typeof LostBody>;
export type PaymentRequest = In<typeof PaymentBody>;
export type MyHoldRequest = In<typeof MyHoldBody>;
export type LoanView = Out<typeof LoanSchema>;
export type ItemBrief = Out<typeof ItemBriefSchema>;
export type HoldView = Out<typeof HoldSchema>;
export type Disposition = Out<typeof DispositionSchema>;
export type CheckoutResult = Out<typeof CheckoutResultSchema>;
export type CheckinResult = Out<typeof CheckinResultSchema>;
export type RenewResult = Out<typeof RenewResultSchema>;
export type RenewAllResult = Out<typeof RenewAllResultSchema>;
export type HoldResult = Out<typeof HoldResultSchema>;
export type CancelHoldResult = Out<typeof CancelHoldResultSchema>;
export type LostResult = Out<typeof LostResultSchema>;
export type PaymentResult = Out<typeof PaymentResultSchema>;

// ---- branches and policies -------------------------------------------------------------------------
export type Branch = Out<typeof BranchSchema>;
export type BranchCalendar = Out<typeof BranchCalendarSchema>;
export type OpeningHours = Out<typeof OpeningHoursSchema>;
export type BranchCreateRequest = In<typeof BranchCreateBody>;
export type BranchPatchRequest = In<typeof BranchPatchBody>;
export type HoursRequest = In<typeof HoursBody>;
export type ClosedDateRequest = In<typeof ClosedDateBody>;
export type PolicyRule = Out<typeof PolicyRuleSchema>;
export type PolicyRuleRequest = In<typeof PolicyRuleBody>;

// ---- admin -----------------------------------------------------------------------------------------
export type StaffUser = Out<typeof StaffUserSchema>;
export type StaffCreateRequest = In<typeof StaffCreateBody>;
export type StaffPatchRequest = In<typeof StaffPatchBody>;
export type Device = Out<typeof DeviceSchema>;
export type DeviceWithToken = Out<typeof DeviceWithTokenSchema>;
export type DeviceCreateRequest = In<typeof DeviceCreateBody>;

// ---- events ----------------------------------------------------------------------------------------
export type CircEventView = Out<typeof CircEventSchema>;
export type GatewayEvent = Out<typeof GatewayEventSchema>;
export type EventLogSearch = In<typeof EventLogQuery>;
/** The Server-Sent Events of GET /api/v1/events: `event:` name → JSON `data:`. */
export interface ApiEvents { circulation: CircEventView; gateway: GatewayEvent }

/** Where the API lives, and the request headers a client sets (the session cookie itself is HttpOnly). */
export const API_BASE = '/api/v1';
export const CSRF_HEADER = 'X-CSRF-Token';
export const IDEMPOTENCY_HEADER = 'Idempotency-Key';
