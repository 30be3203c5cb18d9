/** The metrics collector: cluster-wide gauges, event-stream consumption and webhook delivery. */
export { Collector, type CollectorOptions } from './collector.ts';
