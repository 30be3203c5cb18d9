export { startBounceServer, type BounceServerOptions } from './server.ts';
export { ClientRateLimit, clientNetwork } from './rate-limit.ts';
