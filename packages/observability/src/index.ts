/** The metrics collector: cluster-wide gauges, event-stream consumption and webhook delivery. */
export { Collector } from './collector.ts';
export { BacklogReader } from './backlog.ts';
export { LeaderLock } from './lock.ts';
