import { z } from '@hono/zod-openapi';
import type { Context, ErrorHandler, NotFoundHandler } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { ZodError } from 'zod';
import { DomainError } from '../errors.js';
import type { Refusal, Result } from '../circulation/circulation.js';

// RFC 9457 problem details. `code` is the stable machine code the web translates; `type` names the
// same problem type as a URI (RFC 9457 §3.1.1), and `title` does not change between occurrences of it.

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';
const problemType = (code: string) => `urn:shelfsense:problem:${code}`;

export const FieldErrorSchema = z.object({
  in: z.enum(['body', 'query', 'path', 'header']),
  field: z.string().openapi({ description: 'dotted path of the field, e.g. "authors.0"; empty for the whole input' }),
  message: z.string(),
  code: z.string(),
}).openapi('FieldError');
export type FieldError = z.infer<typeof FieldErrorSchema>;

export const ProblemSchema = z.object({
  type: z.string(),
  title: z.string(),
  status: z.number().int(),
  detail: z.string(),
  code: z.string().openapi({ description: 'stable machine code, e.g. ITEM_ON_LOAN, VALIDATION_FAILED, CSRF_TOKEN_INVALID' }),
  message: z.object({ en: z.string(), zh: z.string() }).optional()
    .openapi({ description: 'circulation refusals: the words kiosks and the web show, in English and Chinese' }),
  errors: z.array(FieldErrorSchema).optional().openapi({ description: 'validation problems: one entry per invalid field' }),
  context: z.record(z.string(), z.unknown()).optional(),
  replayed: z.boolean().optional().openapi({ description: 'true when this answer is the stored result of an earlier request with the same transaction id' }),
}).openapi('Problem');
export type Problem = z.infer<typeof ProblemSchema>;

export type ProblemStatus = 400 | 401 | 403 | 404 | 409 | 413 | 415 | 422 | 429 | 500 | 502 | 503;

const REASON_PHRASES: Record<ProblemStatus, string> = {
  400: 'Bad request', 401: 'Sign-in required', 403: 'Forbidden', 404: 'Not found', 409: 'Conflict', 413: 'Content too large',
  415: 'Unsupported media type', 422: 'Unprocessable content', 429: 'Too many requests', 500: 'Internal server error', 502: 'Bad gateway', 503: 'Service unavailable',
};

/** An HTTP-level refusal thrown from middleware or handlers; the error handler turns it into problem+json. */
export class HttpProblem extends Error {
  constructor(
    readonly status: ProblemStatus,
    readonly code: string,
    detail: string,
    readonly extra: Pick<Problem, 'message' | 'errors' | 'context' | 'replayed'> = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(detail);
    this.name = 'HttpProblem';
  }
}

/** 'ITEM_ON_LOAN' → 'Item on loan'. */
const titleOf = (code: string) => code.charAt(0) + code.slice(1).toLowerCase().replaceAll('_', ' ');

export function problemBody(p: HttpProblem): Problem {
  return { type: problemType(p.code), title: titleOf(p.code), status: p.status, detail: p.message, code: p.code, ...p.extra };
}

export function problemResponse(p: HttpProblem): Response {
  return new Response(JSON.stringify(problemBody(p)), {
    status: p.status,
    headers: { 'Content-Type': PROBLEM_CONTENT_TYPE, ...p.headers },
  });
}

export function validationProblem(where: FieldError['in'], error: ZodError): HttpProblem {
  const errors = error.issues.flatMap<FieldError>((issue) => {
    const field = issue.path.map(String).join('.');
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((k) => ({ in: where, field: field ? `${field}.${k}` : k, message: 'unknown field', code: issue.code }));
    }
    return [{ in: where, field, message: issue.message, code: issue.code }];
  });
  const summary = errors.map((e) => (e.field ? `${e.field}: ${e.message}` : e.message)).join('; ');
  // A well-formed body that breaks the schema is 422; a bad path, query or header is 400.
  return new HttpProblem(where === 'body' ? 422 : 400, 'VALIDATION_FAILED', `invalid ${where}: ${summary}`, { errors });
}

/** One field error raised after schema validation (a branch that does not exist, a missing desk branch). */
export const fieldProblem = (field: string, message: string, where: FieldError['in'] = 'body') =>
  new HttpProblem(where === 'body' ? 422 : 400, 'VALIDATION_FAILED', `invalid ${where}: ${field}: ${message}`,
    { errors: [{ in: where, field, message, code: 'custom' }] });

const TARGETS: Record<string, FieldError['in']> = { json: 'body', form: 'body', query: 'query', param: 'path', header: 'header', cookie: 'header' };

/** The OpenAPIHono default hook: a failed schema check becomes a problem before the handler runs. */
export function validationHook(result: { success: boolean; error?: ZodError; target: string }): void {
  if (!result.success && result.error) throw validationProblem(TARGETS[result.target] ?? 'body', result.error);
}

/** A circulation refusal: 404 for *_NOT_FOUND, else 409, with the refusal code and both languages. */
export function refusalProblem(r: Refusal): HttpProblem {
  return new HttpProblem(r.code.endsWith('_NOT_FOUND') ? 404 : 409, r.code, r.message.en, {
    message: r.message, ...(r.detail ? { context: r.detail } : {}), ...(r.replayed ? { replayed: true } : {}),
  });
}

/** The data of a granted circulation result, or the refusal thrown as a problem. */
export function granted<T>(r: Result<T>): T & { replayed?: boolean } {
  if (!r.ok) throw refusalProblem(r);
  const { ok: _ok, ...data } = r;
  return data as unknown as T & { replayed?: boolean };
}

export function toHttpProblem(e: unknown): HttpProblem {
  if (e instanceof HttpProblem) return e;
  if (e instanceof DomainError) return new HttpProblem(e.status, e.code, e.message, e.detail ? { context: e.detail } : {});
  if (e instanceof ZodError) return validationProblem('body', e);
  if (e instanceof HTTPException) {
    const status = (e.status in REASON_PHRASES ? e.status : 400) as ProblemStatus;
    const code = status === 415 ? 'UNSUPPORTED_MEDIA_TYPE' : status === 413 ? 'CONTENT_TOO_LARGE' : 'MALFORMED_REQUEST';
    return new HttpProblem(status, code, e.message || REASON_PHRASES[status]);
  }
  const sqliteCode = e instanceof Error && e.name === 'SqliteError' ? String((e as { code?: unknown }).code) : '';
  if (sqliteCode.startsWith('SQLITE_CONSTRAINT')) return new HttpProblem(409, 'CONSTRAINT_VIOLATION', e instanceof Error ? e.message : sqliteCode);
  if (sqliteCode === 'SQLITE_BUSY') return new HttpProblem(503, 'STORE_BUSY', 'the store is busy; retry shortly', {}, { 'Retry-After': '1' });
  return new HttpProblem(500, 'INTERNAL_ERROR', 'an unexpected error occurred; it has been logged');
}

export const onProblem: ErrorHandler = (e: Error, c: Context) => {
  const p = toHttpProblem(e);
  if (p.status >= 500) console.error(`${c.req.method} ${c.req.path} failed:`, e);
  return problemResponse(p);
};

export const notFoundProblem: NotFoundHandler = (c) =>
  problemResponse(new HttpProblem(404, 'ROUTE_NOT_FOUND', `no route for ${c.req.method} ${c.req.path}`));

// ---- OpenAPI: the problem responses a route can give ------------------------------------------------

const problemContent = { [PROBLEM_CONTENT_TYPE]: { schema: ProblemSchema } };
type ProblemResponse = { description: string; content: typeof problemContent };

const DESCRIPTIONS: Record<ProblemStatus, string> = {
  400: 'malformed request, or invalid path, query or header (VALIDATION_FAILED with field errors)',
  401: 'not signed in (AUTH_REQUIRED) or wrong credentials (INVALID_CREDENTIALS, INVALID_TOKEN)',
  403: 'not allowed for this role (FORBIDDEN) or a missing or wrong X-CSRF-Token (CSRF_TOKEN_INVALID)',
  404: 'not found (…_NOT_FOUND)',
  409: 'refused: a circulation refusal code with message {en, zh}, or a conflict (DUPLICATE_…)',
  413: 'request body too large',
  415: 'unsupported media type',
  422: 'the body breaks the schema (VALIDATION_FAILED with field errors) or a domain rule',
  429: 'too many failed sign-ins (TOO_MANY_ATTEMPTS); see Retry-After',
  500: 'unexpected error',
  502: 'a device did not do what was asked (a reader write that failed or did not verify)',
  503: 'unavailable',
};

export function problems<const S extends readonly ProblemStatus[]>(...statuses: S): { [K in S[number]]: ProblemResponse } {
  return Object.fromEntries(statuses.map((s) => [s, { description: DESCRIPTIONS[s], content: problemContent }])) as { [K in S[number]]: ProblemResponse };
}
