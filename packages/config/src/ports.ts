/** Default metrics ports, one per service so they can share a host during development. */
export const DEFAULT_METRICS_PORTS = { api: 9464, sender: 9465, bounce: 9466, collector: 9467 };
