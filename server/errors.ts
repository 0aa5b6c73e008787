/** A refused request at the domain edge: a stable machine code, an English message, the HTTP status. */
export class DomainError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status: 400 | 401 | 403 | 404 | 409 | 422 | 429 = 400,
    readonly detail?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'DomainError';
  }
}

export const notFound = (what: string, key: string | number) =>
  new DomainError(`${what.toUpperCase()}_NOT_FOUND`, `${what} ${key} not found`, 404, { key });
