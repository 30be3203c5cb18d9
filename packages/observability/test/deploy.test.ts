import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { parse } from 'yaml';
import { apiMetrics, collectorMetrics, createRegistry, senderMetrics } from '@volley/metrics';
import { ROOT } from '@volley/testkit';

/** Every metric name the services export (histograms with their series suffixes). */
async function catalogue(): Promise<Set<string>> {
  const names = new Set<string>();
  const add = async (r: Registry) => {
    for (const m of await r.getMetricsAsJSON()) {
      names.add(m.name);
      if (String(m.type) === 'histogram') {
        for (const s of ['_bucket', '_sum', '_count']) names.add(`${m.name}${s}`);
      }
    }
  };
  const sender = createRegistry('sender');
  senderMetrics(sender, { concurrency: 1 });
  const api = new Registry();
  apiMetrics(api);
  const collector = new Registry();
  collectorMetrics(collector);
  for (const r of [sender, api, collector]) await add(r);
  return names;
}

function exprsOfDashboards(): { file: string; title: string; expr: string }[] {
  const dir = join(ROOT, 'deploy/grafana');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .flatMap((file) => {
      const d = JSON.parse(readFileSync(join(dir, file), 'utf8')) as {
        panels: { title: string; targets?: { expr: string }[] }[];
      };
      return d.panels.flatMap((p) =>
        (p.targets ?? []).map((t) => ({ file, title: p.title, expr: t.expr })),
      );
    });
}

interface Rule {
  alert: string;
  expr: string;
  annotations: Record<string, string>;
}

function alertRules(): Rule[] {
  const doc = parse(readFileSync(join(ROOT, 'deploy/prometheus/volley-alerts.yml'), 'utf8')) as {
    groups: { rules: Rule[] }[];
  };
  return doc.groups.flatMap((g) => g.rules);
}

const metricNames = (expr: string) => expr.match(/\bvolley_[a-z0-9_]+/g) ?? [];

test('every dashboard panel and alert queries only metrics the code exports', async () => {
  const known = await catalogue();
  const panels = exprsOfDashboards();
  assert.ok(panels.length >= 25, `${panels.length} panel queries`);
  for (const p of panels) {
    for (const name of metricNames(p.expr)) {
      assert.ok(known.has(name), `${p.file} "${p.title}" queries ${name}, which nothing exports`);
    }
  }
  for (const r of alertRules()) {
    for (const name of metricNames(r.expr)) {
      assert.ok(known.has(name), `alert ${r.alert} queries ${name}, which nothing exports`);
    }
  }
});

test('every alert links a section of docs/runbook.md that exists', () => {
  const runbook = readFileSync(join(ROOT, 'docs/runbook.md'), 'utf8');
  const anchors = new Set(
    [...runbook.matchAll(/^## (.+)$/gm)].map((m) =>
      (m[1] ?? '').toLowerCase().replace(/[^a-z0-9]+/g, '-'),
    ),
  );
  const rules = alertRules();
  assert.ok(rules.length >= 10);
  for (const r of rules) {
    const link = r.annotations.runbook ?? '';
    const m = /^docs\/runbook\.md#(.+)$/.exec(link);
    assert.ok(m, `${r.alert} has a runbook annotation (${link})`);
    assert.ok(anchors.has(m[1] ?? ''), `${r.alert}: docs/runbook.md has no section #${m[1]}`);
  }
});

test('every panel has a description that says what to do', () => {
  const dir = join(ROOT, 'deploy/grafana');
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.json'))) {
    const d = JSON.parse(readFileSync(join(dir, file), 'utf8')) as {
      panels: { title: string; description?: string }[];
    };
    for (const p of d.panels) {
      assert.ok((p.description ?? '').length > 40, `${file} "${p.title}" has a description`);
    }
  }
});
