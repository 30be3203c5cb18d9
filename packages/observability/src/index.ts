/** The metrics collector: cluster-wide gauges, event-stream consumption and webhook delivery. */
export { Collector } from './collector.ts';
