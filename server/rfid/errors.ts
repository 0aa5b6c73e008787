/** A refused RFID request (intake, inventory, kiosk): a stable code, an English message, the HTTP status. */
export class RfidError extends Error {
  constructor(readonly code: string, message: string, readonly status: 404 | 409 | 422 | 502 | 503) {
    super(message);
    this.name = 'RfidError';
  }
}
