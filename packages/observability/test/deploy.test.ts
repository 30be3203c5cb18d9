import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { apiMetrics, collectorMetrics, createRegistry, senderMetrics } from '@volley/metrics';
import { ROOT } from '@volley/testkit';
import { alertRules, dashboardPanels } from './deploy-files.ts';

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

const metricNames = (expr: string) => expr.match(/\bvolley_[a-z0-9_]+/g) ?? [];

test('every dashboard panel and alert queries only metrics the code exports', async () => {
  const known = await catalogue();
  const panels = dashboardPanels().flatMap((p) => p.exprs.map((expr) => ({ ...p, expr })));
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
  for (const p of dashboardPanels()) {
    assert.ok((p.description ?? '').length > 40, `${p.file} "${p.title}" has a description`);
  }
});
