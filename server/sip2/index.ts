export { startSip2Server, Sip2Listener, type Sip2ServerOptions, type RunningSip2 } from './server.js';
export { Sip2AccountSchema, type Sip2Account } from './account.js';
export { serveSip2 } from './connection.js';
export type { Sip2Stats } from './session.js';
