/**
 * The Kubernetes manifests, rendered by the real kustomize for every overlay: each object
 * valid against its schema, and each setting consistent with what the services read (variables,
 * ports, probes), with the security baseline, with the senders' drain, and with the metrics and
 * alert rules the monitoring objects point at.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { parse } from 'yaml';
import {
  DEFAULT_METRICS_PORTS,
  knownVariables,
  loadApiConfig,
  loadCommonConfig,
  loadBounceConfig,
  loadCollectorConfig,
  loadSenderConfig,
  parseDuration,
} from '@volley/config';
import { ROOT } from '@volley/runtime';
import { resolveOptions } from '@volley/smtp';
import { PROMETHEUS_RULE_FILE, RULES_FILE, prometheusRule } from '../tools/prometheus-rule.ts';
import { checkQueryValues, type InputSeries } from '../tools/promtool.ts';
import { K8S_DIR } from '../tools/render.ts';
import { kustomizeVersion, overlays, render, type K8sObject } from '../tools/render.ts';
import { schemaErrors } from '../tools/validate.ts';
import {
  deployments,
  environment,
  portNumber,
  serviceOf,
  type Container,
  type Deployment,
} from '../tools/workloads.ts';

/** Seconds the sender's grace period adds to its drain: teardown after it (sender.yaml). */
const SENDER_TEARDOWN_S = 10;
const SERVICES = ['api', 'sender', 'bounce', 'collector'] as const;

const OVERLAYS = overlays();
const rendered = new Map<string, K8sObject[]>(OVERLAYS.map((o) => [o, render(o)]));

function volleyDeployments(objects: K8sObject[]): Deployment[] {
  return deployments(objects).filter((d) => serviceOf(d) !== undefined);
}

/** Stand-ins for the values of secrets, valid for the configuration loaders. */
function withSecrets(env: Map<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of env) {
    if (!v.startsWith('secret:')) out[k] = v;
    else if (k === 'REDIS_URL') out[k] = 'redis://redis.example:6379';
    else if (k === 'VOLLEY_SMTP_RELAY') out[k] = 'smtp://relay.example:25';
    else out[k] = `stand-in-for-${k}-0123456789`;
  }
  return out;
}

interface ScaledObject {
  scaleTargetRef: { name: string };
  minReplicaCount: number;
  maxReplicaCount: number;
  fallback?: { replicas: number };
  triggers: {
    type: string;
    metricType?: string;
    metadata: { query?: string; threshold?: string; ignoreNullValues?: string };
  }[];
}

/** The production overlay's KEDA ScaledObject. */
function scaledObject(): ScaledObject {
  const so = rendered.get('production')?.find((o) => o.kind === 'ScaledObject');
  assert.ok(so, 'production has a ScaledObject');
  return so.spec as ScaledObject;
}

/**
 * The query prometheus-adapter runs for an external metric of the HPA, from the rules of
 * components/hpa/prometheus-adapter-values.yaml: `<<.Series>>` is the series name, and
 * `<<.LabelMatchers>>` the HPA's selector.
 */
function adapterQuery(name: string, selector?: { matchLabels: Record<string, string> }): string {
  const values = parse(
    readFileSync(join(K8S_DIR, 'components', 'hpa', 'prometheus-adapter-values.yaml'), 'utf8'),
  ) as {
    rules: { external: { seriesQuery: string; name?: { as: string }; metricsQuery: string }[] };
  };
  const rule = values.rules.external.find(
    (r) => (r.name?.as ?? /^[a-z_]+/.exec(r.seriesQuery)?.[0]) === name,
  );
  assert.ok(rule, `no adapter rule serves ${name}`);
  const series = /^[a-z_]+/.exec(rule.seriesQuery)?.[0] ?? '';
  const matchers = Object.entries(selector?.matchLabels ?? {})
    .map(([k, v]) => `${k}="${v}"`)
    .join(',');
  return rule.metricsQuery
    .replaceAll('<<.Series>>', series)
    .replaceAll('<<.LabelMatchers>>', matchers);
}

/**
 * The replicas the HPA (which KEDA's ScaledObject drives) asks for from AverageValue metrics:
 * for each, ceil(value / target), or the current count while value / (target x current) is
 * within the HPA's default 10% tolerance of 1; the largest, within the object's bounds.
 */
function desiredReplicas(
  so: ScaledObject,
  current: number,
  readings: { value: number; target: number }[],
): number {
  const wanted = readings.map(({ value, target }) =>
    Math.abs(value / (target * current) - 1) <= 0.1 ? current : Math.ceil(value / target),
  );
  return Math.min(so.maxReplicaCount, Math.max(so.minReplicaCount, ...wanted));
}

/** Metric names the metrics package registers (its `name: '...'` declarations). */
function exportedMetrics(): Set<string> {
  const dir = join(ROOT, 'packages', 'metrics', 'src');
  const names = new Set<string>();
  for (const f of readdirSync(dir).filter((n) => n.endsWith('.ts'))) {
    for (const m of readFileSync(join(dir, f), 'utf8').matchAll(/name: '(volley_[a-z_]+)'/g)) {
      if (m[1]) names.add(m[1]);
    }
  }
  return names;
}

test(`every overlay renders with kustomize ${kustomizeVersion()}: ${OVERLAYS.join(', ')}`, () => {
  assert.deepEqual(OVERLAYS, ['dev', 'production', 'production-hpa']);
  for (const [overlay, objects] of rendered) {
    const kinds = new Set(objects.map((o) => o.kind));
    for (const k of [
      'Deployment',
      'Service',
      'ConfigMap',
      'PodDisruptionBudget',
      'NetworkPolicy',
    ]) {
      assert.ok(kinds.has(k), `${overlay} renders a ${k}`);
    }
    assert.deepEqual(
      volleyDeployments(objects).map(serviceOf).sort(),
      [...SERVICES].sort(),
      `${overlay} deploys each service once`,
    );
  }
});

describe('every rendered object', () => {
  for (const overlay of OVERLAYS) {
    test(`${overlay}: validates against the Kubernetes, KEDA and Prometheus Operator schemas`, () => {
      const objects = rendered.get(overlay) ?? [];
      const errors = objects.flatMap((o) =>
        schemaErrors(o).map((e) => `${o.kind}/${o.metadata.name}: ${e}`),
      );
      assert.deepEqual(errors, []);
    });
  }
});

describe('configuration the services read', () => {
  for (const overlay of OVERLAYS) {
    test(`${overlay}: every VOLLEY_ variable is one the services read, and each loads without error`, () => {
      const known = knownVariables();
      const objects = rendered.get(overlay) ?? [];
      for (const d of volleyDeployments(objects)) {
        const c = d.spec.template.spec.containers[0] as Container;
        const env = environment(c, objects);
        for (const name of env.keys()) {
          if (!name.startsWith('VOLLEY_')) continue;
          assert.ok(known.has(name), `${d.metadata.name} sets ${name}, which nothing reads`);
        }
        const vars = withSecrets(env);
        const service = serviceOf(d);
        // Throws ConfigError, naming every wrong variable, as the service would at start.
        if (service === 'api') loadApiConfig(vars);
        else if (service === 'sender') loadSenderConfig(vars);
        else if (service === 'bounce') loadBounceConfig(vars);
        else if (service === 'collector') loadCollectorConfig(vars);
      }
    });

    test(`${overlay}: probes and Services reach the ports the services listen on`, () => {
      const objects = rendered.get(overlay) ?? [];
      for (const d of volleyDeployments(objects)) {
        const service = serviceOf(d) as (typeof SERVICES)[number];
        const c = d.spec.template.spec.containers[0] as Container;
        const vars = withSecrets(environment(c, objects));
        const common = loadCommonConfig(service, vars);
        const where = `${overlay} ${d.metadata.name}`;
        assert.equal(portNumber(c, 'metrics'), common.metricsPort, `${where}: metrics port`);
        assert.equal(common.metricsHost, '0.0.0.0', `${where}: metrics reachable from the kubelet`);
        let probePort = 'metrics';
        if (service === 'api') {
          const api = loadApiConfig(vars);
          assert.equal(portNumber(c, 'http'), api.port, `${where}: http port`);
          assert.equal(api.host, '0.0.0.0', `${where}: API reachable from outside the pod`);
          probePort = 'http';
        }
        if (service === 'bounce') {
          assert.equal(String(portNumber(c, 'smtp')), vars.VOLLEY_BOUNCE_SMTP_PORT, where);
          assert.equal(vars.VOLLEY_BOUNCE_SMTP_HOST, '0.0.0.0', where);
        }
        // Unchanged defaults would do as well; the manifests set each port, so say which.
        assert.equal(vars.VOLLEY_METRICS_PORT, String(DEFAULT_METRICS_PORTS[service]), where);
        for (const [kind, path] of [
          ['startupProbe', '/healthz'],
          ['livenessProbe', '/healthz'],
          ['readinessProbe', '/readyz'],
        ] as const) {
          const probe = c[kind]?.httpGet;
          assert.equal(probe?.path, path, `${where}: ${kind} path`);
          assert.equal(probe?.port, probePort, `${where}: ${kind} port`);
        }
      }
      for (const svc of objects.filter((o) => o.kind === 'Service')) {
        const spec = svc.spec as {
          selector: Record<string, string>;
          ports: { port: number; targetPort: string }[];
        };
        const d = deployments(objects).find((x) =>
          Object.entries(spec.selector).every(([k, v]) => x.spec.template.metadata.labels[k] === v),
        );
        assert.ok(d, `${overlay}: Service ${svc.metadata.name} selects a Deployment`);
        for (const p of spec.ports) {
          const c = d.spec.template.spec.containers[0] as Container;
          assert.ok(portNumber(c, p.targetPort), `${svc.metadata.name}: ${p.targetPort} exists`);
        }
      }
      const bounce = objects.find(
        (o) => o.kind === 'Service' && o.metadata.name === 'volley-bounce',
      );
      const smtp = (bounce?.spec as { ports: { port: number; targetPort: string }[] }).ports;
      assert.deepEqual(smtp, [{ name: 'smtp', port: 25, targetPort: 'smtp' }]);
    });
  }
});

describe('the pods', () => {
  for (const overlay of OVERLAYS) {
    test(`${overlay}: run as non-root, without privileges, on a read-only root filesystem, within limits`, () => {
      for (const d of deployments(rendered.get(overlay) ?? [])) {
        const pod = d.spec.template.spec;
        const where = `${overlay} ${d.metadata.name}`;
        assert.equal(pod.securityContext?.runAsNonRoot, true, where);
        assert.ok((pod.securityContext?.runAsUser ?? 0) > 0, `${where}: a numeric non-root user`);
        assert.equal(pod.securityContext?.seccompProfile?.type, 'RuntimeDefault', where);
        assert.equal(pod.automountServiceAccountToken, false, where);
        for (const c of pod.containers) {
          const sc = c.securityContext;
          assert.equal(sc?.allowPrivilegeEscalation, false, where);
          assert.equal(sc?.privileged, false, where);
          assert.equal(sc?.readOnlyRootFilesystem, true, where);
          assert.deepEqual(sc?.capabilities, { drop: ['ALL'] }, where);
          for (const r of ['cpu', 'memory']) {
            assert.ok(c.resources?.requests?.[r], `${where}: ${r} request`);
            assert.ok(c.resources?.limits?.[r], `${where}: ${r} limit`);
          }
        }
      }
    });

    test(`${overlay}: every Volley Deployment has a PodDisruptionBudget, and policies name real ports`, () => {
      const objects = rendered.get(overlay) ?? [];
      const pdbs = objects.filter((o) => o.kind === 'PodDisruptionBudget');
      for (const d of volleyDeployments(objects)) {
        const labels = d.spec.template.metadata.labels;
        assert.ok(
          pdbs.some((p) => {
            const sel = (p.spec as { selector: { matchLabels: Record<string, string> } }).selector;
            return Object.entries(sel.matchLabels).every(([k, v]) => labels[k] === v);
          }),
          `${overlay}: a PodDisruptionBudget covers ${d.metadata.name}`,
        );
      }
      const named = new Set(
        volleyDeployments(objects).flatMap((d) =>
          d.spec.template.spec.containers.flatMap((c) => (c.ports ?? []).map((p) => p.name)),
        ),
      );
      for (const np of objects.filter((o) => o.kind === 'NetworkPolicy')) {
        const spec = np.spec as { ingress?: { ports?: { port: number | string }[] }[] };
        for (const rule of spec.ingress ?? []) {
          for (const p of rule.ports ?? []) {
            if (typeof p.port === 'string')
              assert.ok(named.has(p.port), `${np.metadata.name}: ${p.port}`);
          }
        }
      }
    });
  }
});

test("the senders' grace period is their drain timeout plus teardown, and the drain outlasts one SMTP transaction", () => {
  const smtp = resolveOptions({ host: 'relay.example', port: 25 });
  const transactionS =
    (smtp.connectionTimeoutMs + smtp.greetingTimeoutMs + smtp.socketTimeoutMs) / 1000;
  for (const [overlay, objects] of rendered) {
    const d = volleyDeployments(objects).find((x) => serviceOf(x) === 'sender');
    assert.ok(d);
    const c = d.spec.template.spec.containers[0] as Container;
    const drainS =
      (parseDuration(environment(c, objects).get('VOLLEY_DRAIN_TIMEOUT') ?? '') ?? 0) / 1000;
    assert.ok(
      drainS >= transactionS,
      `${overlay}: drain ${drainS} s < one transaction ${transactionS} s`,
    );
    assert.equal(
      d.spec.template.spec.terminationGracePeriodSeconds,
      Math.ceil(drainS) + SENDER_TEARDOWN_S,
      overlay,
    );
  }
});

describe('autoscaling and monitoring', () => {
  const metrics = exportedMetrics();
  const checkMetric = (name: string): void => {
    assert.ok(metrics.has(name), `${name} is not a metric Volley exports`);
  };

  test('KEDA scales the senders on the sendable backlog, its oldest age and busy senders while messages wait, never on throttled messages', () => {
    const so = scaledObject();
    assert.equal(so.scaleTargetRef.name, 'volley-sender');
    assert.ok((so.fallback?.replicas ?? 0) > 0, 'Prometheus down holds senders, not zero');
    const queries = so.triggers.map((t) => {
      assert.equal(t.type, 'prometheus');
      assert.equal(t.metadata.ignoreNullValues, 'false', 'a missing series is an error, not 0');
      // KEDA applies spec.fallback to AverageValue triggers only (pkg/fallback in KEDA 2.x).
      assert.equal(t.metricType, 'AverageValue', 'the fallback covers every trigger');
      return t.metadata.query ?? '';
    });
    assert.deepEqual(queries, [
      'max(volley_backlog_messages{state="sendable"})',
      'max(volley_backlog_oldest_sendable_age_seconds)',
      'sum(avg_over_time(volley_sender_batches_active[1m])) / avg(volley_sender_concurrency) * (max(min_over_time(volley_backlog_messages{state="sendable"}[1m])) > bool 0)',
    ]);
    for (const q of queries) {
      assert.doesNotMatch(q, /throttled|retrying|paused|scheduled|unexpanded/);
      for (const m of q.matchAll(/volley_[a-z_]+/g)) checkMetric(m[0]);
    }
  });

  test("the HPA alternative reads the same three metrics as external metrics, with KEDA's queries and targets", () => {
    const hpa = rendered.get('production-hpa')?.find((o) => o.kind === 'HorizontalPodAutoscaler');
    assert.ok(hpa);
    assert.ok(!rendered.get('production-hpa')?.some((o) => o.kind === 'ScaledObject'));
    const spec = hpa.spec as {
      minReplicas: number;
      maxReplicas: number;
      metrics: {
        external: {
          metric: { name: string; selector?: { matchLabels: Record<string, string> } };
          target: { type: string; averageValue?: string };
        };
      }[];
    };
    assert.deepEqual(
      spec.metrics.map((m) => [m.external.metric.name, m.external.metric.selector?.matchLabels]),
      [
        ['volley_backlog_messages', { state: 'sendable' }],
        ['volley_backlog_oldest_sendable_age_seconds', undefined],
        ['volley_senders_busy', undefined],
      ],
    );
    // The same bounds, targets and (through prometheus-adapter's rules) queries as the KEDA
    // triggers: either overlay scales the same way.
    const so = scaledObject();
    assert.deepEqual(
      [spec.minReplicas, spec.maxReplicas],
      [so.minReplicaCount, so.maxReplicaCount],
    );
    assert.deepEqual(
      spec.metrics.map((m) => [m.external.target.type, m.external.target.averageValue]),
      so.triggers.map((t) => ['AverageValue', t.metadata.threshold]),
    );
    assert.deepEqual(
      spec.metrics.map((m) => adapterQuery(m.external.metric.name, m.external.metric.selector)),
      so.triggers.map((t) => t.metadata.query),
    );
  });

  describe('the replicas the autoscaler asks for, from the triggers evaluated by Prometheus', () => {
    // Series as the PodMonitor scrapes them (every 15 s); the triggers are read at 5 minutes.
    const every = (v: number) => `${v}x20`;
    const senders = (n: number, active: number, concurrency = 8): InputSeries[] =>
      Array.from({ length: n }, (_, k) => [
        {
          series: `volley_sender_batches_active{instance="s${k}",capped="false"}`,
          values: every(active),
        },
        { series: `volley_sender_concurrency{instance="s${k}"}`, values: every(concurrency) },
      ]).flat();
    // One campaign's sendable backlog: a window of 10,000 (VOLLEY_EXPAND_WINDOW) queued on top of
    // the half window left, then sent down until the next; 15,000 at most, never 0 while the
    // senders are behind.
    const oneWindow = Array.from({ length: 21 }, (_, k) => 15_000 - (k % 6) * 1_800).join(' ');
    const backlog = (state: string, values: string): InputSeries => ({
      series: `volley_backlog_messages{state="${state}"}`,
      values,
    });
    const age = (seconds: number): InputSeries => ({
      series: 'volley_backlog_oldest_sendable_age_seconds',
      values: every(seconds),
    });

    const cases: {
      name: string;
      current: number;
      input: InputSeries[];
      reads: [sendable: number, age: number, busySenders: number];
      expected: number;
    }[] = [
      {
        name: 'one large campaign, two saturated senders: a third',
        current: 2,
        input: [backlog('sendable', oneWindow), age(3), ...senders(2, 8)],
        reads: [11_400, 3, 2],
        expected: 3,
      },
      {
        name: 'the same campaign, three senders still saturated: a fourth',
        current: 3,
        input: [backlog('sendable', oneWindow), age(3), ...senders(3, 8)],
        reads: [11_400, 3, 3],
        expected: 4,
      },
      {
        name: 'the whole backlog throttled by a rate limit, slots busy with slow replies: the minimum',
        current: 2,
        input: [
          backlog('sendable', every(0)),
          backlog('throttled', every(200_000)),
          age(0),
          ...senders(2, 8),
        ],
        reads: [0, 0, 0],
        expected: 2,
      },
      {
        name: 'senders that keep up: the backlog empties within each minute, the minimum',
        current: 2,
        input: [
          backlog('sendable', Array.from({ length: 21 }, (_, k) => (k % 3 ? 0 : 4_000)).join(' ')),
          age(1),
          ...senders(2, 8),
        ],
        reads: [0, 1, 0],
        expected: 2,
      },
      {
        name: 'several campaigns queued at once: one sender per 20,000 sendable',
        current: 2,
        input: [backlog('sendable', every(90_000)), age(20), ...senders(2, 8)],
        reads: [90_000, 20, 2],
        expected: 5,
      },
    ];
    for (const c of cases) {
      test(c.name, () => {
        const so = scaledObject();
        const { ok, report } = checkQueryValues(
          c.input,
          so.triggers.map((t, k) => ({ expr: t.metadata.query ?? '', value: c.reads[k] ?? NaN })),
          { interval: '15s', evalTime: '5m' },
        );
        assert.ok(ok, `the triggers do not read ${c.reads.join(', ')}:\n${report}`);
        const desired = desiredReplicas(
          so,
          c.current,
          so.triggers.map((t, k) => ({
            value: c.reads[k] ?? NaN,
            target: Number(t.metadata.threshold),
          })),
        );
        assert.equal(desired, c.expected);
      });
    }
  });

  test('the PodMonitor scrapes every service as job volley-<service>, the name the alert rules use', () => {
    const objects = rendered.get('production') ?? [];
    const pm = objects.find((o) => o.kind === 'PodMonitor');
    const spec = pm?.spec as {
      jobLabel: string;
      selector: { matchLabels: Record<string, string> };
      podMetricsEndpoints: { port: string }[];
    };
    assert.deepEqual(
      spec.podMetricsEndpoints.map((e) => e.port),
      ['metrics'],
    );
    const jobs = volleyDeployments(objects)
      .filter((d) =>
        Object.entries(spec.selector.matchLabels).every(
          ([k, v]) => d.spec.template.metadata.labels[k] === v,
        ),
      )
      .map((d) => d.spec.template.metadata.labels[spec.jobLabel])
      .sort();
    assert.deepEqual(jobs, SERVICES.map((s) => `volley-${s}`).sort());
  });

  test('the PrometheusRule holds the alert rules of deploy/prometheus/volley-alerts.yml', () => {
    const committed = parse(readFileSync(PROMETHEUS_RULE_FILE, 'utf8')) as {
      spec: {
        groups: { rules: { alert?: string; expr?: string; labels?: { severity?: string } }[] }[];
      };
    };
    const rules = committed.spec.groups.flatMap((g) => g.rules);
    assert.ok(rules.length > 0);
    for (const r of rules) {
      assert.ok(r.alert && r.expr && r.labels?.severity, `complete rule: ${JSON.stringify(r)}`);
    }
    assert.deepEqual(
      committed,
      parse(
        prometheusRule(readFileSync(RULES_FILE, 'utf8'), 'deploy/prometheus/volley-alerts.yml'),
      ),
      'stale: run `npm run k8s:rules`',
    );
  });
});
