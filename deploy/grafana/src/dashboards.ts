/**
 * Volley's Grafana dashboards, as code. Every query names only metrics of the catalogue in
 * packages/metrics; `npm run dashboards` writes them to deploy/grafana/*.json.
 */
import type * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import { build, datasourceVariable, heat, labelVariable, series, single } from './panels.ts';

const R = '$__rate_interval';
/** Outcomes that end an attempt at the receiver: the denominator of deferral and bounce rates. */
const ATTEMPTED = 'sent|deferred|bounced|expired';

function overview(): dashboard.Dashboard {
  return build(
    'volley-overview',
    'Volley / Overview',
    'Throughput, backlog, senders, SMTP latency and Redis of the whole deployment.',
    [datasourceVariable()],
    [
      series({
        title: 'Messages per second by outcome',
        description:
          'Outcomes recorded per second across all senders (sent, deferred, bounced, expired, suppressed, failed) plus feedback counted by the collector (complained, unsubscribed). If sent drops while the sendable backlog grows, add senders; if deferred rises, open the Providers dashboard to see which provider pushes back.',
        queries: [
          { expr: `sum by (outcome) (rate(volley_messages_total[${R}]))`, legend: '{{outcome}}' },
        ],
        unit: 'msg/s',
        stacked: true,
      }),
      series({
        title: 'Backlog by what holds it',
        description:
          'Messages not sent yet. sendable: due and waiting for a sender: if it grows while senders are saturated, add senders. throttled: held by a rate, a connection cap or a suspension: more senders do not help; check the provider limits. retrying: waiting for backoff after deferrals. paused, scheduled: waiting on a person or a clock. unexpanded: recipients of running campaigns not yet in jobs (bounded by VOLLEY_EXPAND_WINDOW).',
        queries: [{ expr: 'max by (state) (volley_backlog_messages)', legend: '{{state}}' }],
        unit: 'short',
        stacked: true,
      }),
      single({
        title: 'Oldest sendable message',
        description:
          'How long the oldest due message has waited for a sender. Minutes here mean the senders cannot keep up: add senders (or raise VOLLEY_SENDER_CONCURRENCY) unless the Redis panels show Redis saturated.',
        queries: [{ expr: 'max(volley_backlog_oldest_sendable_age_seconds)' }],
        unit: 's',
      }),
      single({
        title: 'Sender saturation',
        description:
          'Batches being sent over the batches the senders may send at once. Near 100% with a growing sendable backlog: add senders. Low with a large backlog: the backlog is throttled or retrying, not waiting for senders.',
        queries: [
          {
            expr: 'sum(volley_sender_batches_active) / clamp_min(sum(volley_sender_concurrency), 1)',
          },
        ],
        unit: 'percentunit',
      }),
      series({
        title: 'Senders',
        description:
          'Sender processes reporting, their batch slots and the batches in progress. A drop in senders without a deploy means crashes or evictions: check the pods.',
        queries: [
          { expr: 'count(volley_sender_concurrency)', legend: 'senders' },
          { expr: 'sum(volley_sender_concurrency)', legend: 'batch slots' },
          { expr: 'sum(volley_sender_batches_active)', legend: 'batches sending' },
        ],
        unit: 'short',
      }),
      heat({
        title: 'SMTP reply latency',
        description:
          'Time from handing a message to the SMTP pool to the reply, all providers. A band moving up means receivers (or the relay) answer slower: check the Providers dashboard for which one; the senders then need more connections for the same rate.',
        queries: [
          {
            expr: `sum by (le) (rate(volley_smtp_transaction_duration_seconds_bucket[${R}]))`,
            legend: '{{le}}',
          },
        ],
        unit: 's',
      }),
      series({
        title: 'Redis memory',
        description:
          'Memory Redis uses and its maxmemory (0: unlimited). Climbing toward the limit: look for a large paused or scheduled backlog, or lower VOLLEY_EXPAND_WINDOW; at the limit Redis refuses writes and every service stalls.',
        queries: [
          { expr: 'max(volley_redis_memory_used_bytes)', legend: 'used' },
          { expr: 'max(volley_redis_memory_max_bytes)', legend: 'maxmemory' },
        ],
        unit: 'bytes',
      }),
      series({
        title: 'Redis clients and queue jobs',
        description:
          'Clients connected to Redis and jobs per queue and state. Clients growing without more pods: a connection leak. Failed jobs growing: look at the service logs.',
        queries: [
          { expr: 'max(volley_redis_connected_clients)', legend: 'redis clients' },
          {
            expr: 'max by (queue, state) (volley_queue_jobs)',
            legend: '{{queue}} {{state}}',
          },
        ],
        unit: 'short',
      }),
      series({
        title: 'API requests per second by status',
        description:
          'Requests the API answered, by status code. 5xx: check the API logs; 429: clients exceed VOLLEY_API_RATE_LIMIT.',
        queries: [
          {
            expr: `sum by (status) (rate(volley_api_requests_total[${R}]))`,
            legend: '{{status}}',
          },
        ],
        unit: 'reqps',
      }),
      series({
        title: 'API latency (p95) by route',
        description:
          'The 95th percentile of answer time per route. Uploads are long by nature; other routes above a second point at Redis.',
        queries: [
          {
            expr: `histogram_quantile(0.95, sum by (route, le) (rate(volley_api_request_duration_seconds_bucket[${R}])))`,
            legend: '{{route}}',
          },
        ],
        unit: 's',
      }),
      series({
        title: 'Event stream lag and webhooks',
        description:
          'Age of the oldest event the collector has not read, webhook deliveries per second by result, and dead letters. Lag growing: the collector is down or too slow. Dead letters growing: a receiver is failing; fix it and replay them (POST /v1/webhooks/dead-letters/replay).',
        queries: [
          { expr: 'max(volley_event_stream_lag_seconds)', legend: 'lag (s)' },
          {
            expr: `sum by (result) (rate(volley_webhook_deliveries_total[${R}]))`,
            legend: 'webhooks {{result}}/s',
          },
          { expr: 'max(volley_webhook_dead_letters)', legend: 'dead letters' },
        ],
        unit: 'short',
      }),
      series({
        title: 'CPU by service',
        description:
          'CPU seconds per second of each service. A sender near 1 is one core full: more senders (pods) rather than more concurrency.',
        queries: [
          {
            expr: `sum by (service) (rate(volley_process_cpu_seconds_total[${R}]))`,
            legend: '{{service}}',
          },
        ],
        unit: 'short',
      }),
    ],
  );
}

function providers(): dashboard.Dashboard {
  const P = 'provider=~"$provider"';
  return build(
    'volley-providers',
    'Volley / Providers',
    'Per-provider shaping state, deferrals and latency (providers as the shaping policy names them; other for the rest).',
    [datasourceVariable(), labelVariable('provider', 'volley_messages_total', 'provider')],
    [
      series({
        title: 'Sent per second by provider',
        description:
          'Messages each provider accepted per second. Flat at the effective rate limit: shaping holds it there (raise the policy only if the deferral rate stays low).',
        queries: [
          {
            expr: `sum by (provider) (rate(volley_messages_total{outcome="sent",${P}}[${R}]))`,
            legend: '{{provider}}',
          },
        ],
        unit: 'msg/s',
      }),
      series({
        title: 'Deferral rate by provider',
        description:
          'Deferred replies over all replies. Above a few percent the provider is pushing back (rate, reputation): the adaptive rules slow it down; if it persists, lower its rate in the shaping policy and check complaints and authentication.',
        queries: [
          {
            expr: `sum by (provider) (rate(volley_messages_total{outcome="deferred",${P}}[${R}])) / sum by (provider) (rate(volley_messages_total{outcome=~"${ATTEMPTED}",${P}}[${R}]))`,
            legend: '{{provider}}',
          },
        ],
        unit: 'percentunit',
      }),
      series({
        title: 'Deferrals per second by reason',
        description:
          'Why providers defer. ratelimited / toomanyconn: lower the rate or connections; badreputation / blocked: stop and fix reputation before sending more.',
        queries: [
          {
            expr: `sum by (provider, reason) (rate(volley_messages_total{outcome="deferred",${P}}[${R}]))`,
            legend: '{{provider}} {{reason}}',
          },
        ],
        unit: 'msg/s',
      }),
      series({
        title: 'Effective rate limit',
        description:
          "Each provider's rate limit times its adaptive factor (for other: the lowest per-domain limit). A step down follows deferrals; it recovers by itself.",
        queries: [
          {
            expr: `max by (provider) (volley_shaping_rate_per_second{${P}})`,
            legend: '{{provider}}',
          },
        ],
        unit: 'msg/s',
      }),
      series({
        title: 'Adaptive factor and suspensions',
        description:
          'Factor 1 is full speed; lower means slowed down after deferrals. Suspended counts destinations held entirely: nothing is sent to them until the suspension ends.',
        queries: [
          {
            expr: `min by (provider) (volley_shaping_adaptive_factor{${P}})`,
            legend: '{{provider}} factor',
          },
          {
            expr: `max by (provider) (volley_shaping_suspended{${P}})`,
            legend: '{{provider}} suspended',
          },
        ],
        unit: 'short',
      }),
      series({
        title: 'Shaping delays per second',
        description:
          'Batches held back by shaping, by reason (rate, connections, suspended). High while the provider rate is far below its limit: the connection cap is the bottleneck.',
        queries: [
          {
            expr: `sum by (provider, reason) (rate(volley_shaping_delays_total{${P}}[${R}]))`,
            legend: '{{provider}} {{reason}}',
          },
        ],
        unit: 'short',
      }),
      series({
        title: 'Connections',
        description:
          "Senders' SMTP connections (open, busy) and, for capped destinations, the leases held across all senders against the cap. Leases at the limit with busy connections: the cap, not the senders, sets the pace.",
        queries: [
          {
            expr: `sum by (provider, state) (volley_smtp_connections{${P}})`,
            legend: '{{provider}} {{state}}',
          },
          {
            expr: `max by (provider, state) (volley_shaping_connections{${P}})`,
            legend: '{{provider}} leases {{state}}',
          },
        ],
        unit: 'short',
      }),
      series({
        title: 'SMTP reply latency p95 by provider',
        description:
          'Slow replies tie up connections: at a connection cap a slower provider means a lower rate. Sudden jumps often come with deferrals (tarpitting).',
        queries: [
          {
            expr: `histogram_quantile(0.95, sum by (provider, le) (rate(volley_smtp_transaction_duration_seconds_bucket{${P}}[${R}])))`,
            legend: '{{provider}}',
          },
        ],
        unit: 's',
      }),
    ],
  );
}

function campaigns(): dashboard.Dashboard {
  const C = 'campaign=~"$campaign"';
  return build(
    'volley-campaigns',
    'Volley / Campaigns',
    'Progress of running campaigns (series end when a campaign ends).',
    [datasourceVariable(), labelVariable('campaign', 'volley_campaign_recipients', 'campaign')],
    [
      series({
        title: 'Progress',
        description:
          'Share of recipients with a final outcome. A flat line while running: the campaign is throttled or retrying; see the backlog on the overview.',
        queries: [
          {
            expr: `max by (campaign) (volley_campaign_recipients{state="done",${C}}) / max by (campaign) (volley_campaign_recipients{state="total",${C}})`,
            legend: '{{campaign}}',
          },
        ],
        unit: 'percentunit',
      }),
      series({
        title: 'Messages per second',
        description:
          'Final outcomes per second of each campaign over the last 10 s. Below what its providers allow: add senders if the sendable backlog is large.',
        queries: [
          {
            expr: `max by (campaign) (volley_campaign_messages_per_second{${C}})`,
            legend: '{{campaign}}',
          },
        ],
        unit: 'msg/s',
      }),
      series({
        title: 'Remaining and waiting for a retry',
        description:
          'Recipients without a final outcome, and those of them waiting for a retry after a deferral. Retries that do not shrink: a provider keeps deferring; they expire at VOLLEY_MAX_AGE.',
        queries: [
          {
            expr: `max by (campaign) (volley_campaign_recipients{state="total",${C}}) - max by (campaign) (volley_campaign_recipients{state="done",${C}})`,
            legend: '{{campaign}} remaining',
          },
          {
            expr: `max by (campaign) (volley_campaign_recipients{state="deferred",${C}})`,
            legend: '{{campaign}} retrying',
          },
        ],
        unit: 'short',
      }),
      single({
        title: 'Running campaigns',
        description:
          "Campaigns sending now. Many at once share the providers' limits, so each goes slower: expected, not a fault.",
        queries: [{ expr: 'max(volley_campaigns_running)' }],
        unit: 'short',
      }),
    ],
  );
}

function deliverability(): dashboard.Dashboard {
  const P = 'provider=~"$provider"';
  const rate = (outcome: string, over: string, w: string) =>
    `sum by (provider) (increase(volley_messages_total{outcome=~"${outcome}",${P}}[${w}])) / clamp_min(sum by (provider) (increase(volley_messages_total{outcome=~"${over}",${P}}[${w}])), 1)`;
  const threshold = (kind: string) => ({
    expr: `max by (level) (volley_deliverability_threshold_ratio{kind="${kind}"})`,
    legend: `${kind} {{level}}`,
  });
  return build(
    'volley-deliverability',
    'Volley / Deliverability',
    'Bounce and complaint rates per provider over rolling windows, next to the thresholds mailbox providers publish (complaints: stay under 0.1%, never reach 0.3%).',
    [datasourceVariable(), labelVariable('provider', 'volley_messages_total', 'provider')],
    [
      series({
        title: 'Complaint rate (24 h) by provider',
        description:
          'Complaints over messages sent in the last 24 hours. Above the target (0.1%): slow down, prune unengaged recipients and check what changed; at the limit (0.3%) Gmail and Yahoo reject or spam-folder your mail. Pause campaigns to that provider.',
        queries: [
          { expr: rate('complained', 'sent', '24h'), legend: '{{provider}}' },
          threshold('complaint'),
        ],
        unit: 'percentunit',
      }),
      series({
        title: 'Bounce rate (1 h and 24 h) by provider',
        description:
          'Bounces (refused at send, reported later, or expired) over attempted messages. A jump within the hour: a bad list or a block; stop the campaign and look at the reasons below. Above the limit, providers and relays treat the sender as a spammer.',
        queries: [
          {
            expr: rate('bounced|expired', 'sent|bounced|expired', '1h'),
            legend: '{{provider}} 1h',
          },
          {
            expr: rate('bounced|expired', 'sent|bounced|expired', '24h'),
            legend: '{{provider}} 24h',
          },
          threshold('bounce'),
        ],
        unit: 'percentunit',
      }),
      series({
        title: 'Bounces per second by reason',
        description:
          'userunknown / hostunknown: list quality (they are suppressed). blocked / spamdetected / badreputation: the receiver distrusts you: stop and fix authentication and reputation.',
        queries: [
          {
            expr: `sum by (reason) (rate(volley_messages_total{outcome=~"bounced|expired",${P}}[${R}]))`,
            legend: '{{reason}}',
          },
        ],
        unit: 'msg/s',
      }),
      series({
        title: 'Complaints and unsubscribes per second',
        description:
          'Feedback reported after sending. Unsubscribes rising with complaints: the content or the audience is off; look at the campaign.',
        queries: [
          {
            expr: `sum by (outcome) (rate(volley_messages_total{outcome=~"complained|unsubscribed",${P}}[${R}]))`,
            legend: '{{outcome}}',
          },
        ],
        unit: 'msg/s',
      }),
      series({
        title: 'Unsubscribe to suppression (p95)',
        description:
          'Time from an unsubscribe request to the address being on the suppression list. Gmail and Yahoo require unsubscribes honoured within 2 days; here it should be well under a second.',
        queries: [
          {
            expr: `histogram_quantile(0.95, sum by (le) (rate(volley_unsubscribe_suppression_seconds_bucket[${R}])))`,
            legend: 'p95',
          },
        ],
        unit: 's',
      }),
    ],
  );
}

/** Every dashboard by file name (deploy/grafana/<name>.json). */
export function dashboards(): Record<string, dashboard.Dashboard> {
  return {
    overview: overview(),
    providers: providers(),
    campaigns: campaigns(),
    deliverability: deliverability(),
  };
}
