/**
 * Evaluates PromQL on synthetic series with the real Prometheus engine, through `promtool test
 * rules` (Debian's `prometheus` package): a generated unit-test file states what each query
 * returns, and promtool says whether it does. No re-implementation of PromQL: what the tests
 * judge is what Prometheus computes.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';

const PROMTOOL = ['/usr/bin/promtool', '/usr/local/bin/promtool'].find((p) => existsSync(p));

/** One input series in promtool's notation: `name{labels}` and values such as `8x40`. */
export interface InputSeries {
  series: string;
  values: string;
}

/** A query and the one value it must return (an aggregate without labels). */
interface ExpectedValue {
  expr: string;
  value: number;
}

/**
 * Whether every query returns its value at `evalTime` over `input` (sampled every `interval`);
 * promtool's report of the differences when not.
 */
export function checkQueryValues(
  input: InputSeries[],
  expected: ExpectedValue[],
  opts: { interval: string; evalTime: string },
): { ok: boolean; report: string } {
  if (!PROMTOOL) {
    throw new Error('promtool not found: install it with `apt-get install prometheus`');
  }
  const dir = mkdtempSync(join(tmpdir(), 'volley-promtool-'));
  try {
    const file = join(dir, 'queries.test.yml');
    const tests = {
      rule_files: [],
      evaluation_interval: opts.interval,
      tests: [
        {
          interval: opts.interval,
          input_series: input,
          promql_expr_test: expected.map((e) => ({
            expr: e.expr,
            eval_time: opts.evalTime,
            exp_samples: [{ labels: '{}', value: e.value }],
          })),
        },
      ],
    };
    writeFileSync(file, stringify(tests, { lineWidth: 0 }));
    const r = spawnSync(PROMTOOL, ['test', 'rules', file], { encoding: 'utf8' });
    return { ok: r.status === 0, report: `${r.stdout}${r.stderr}` };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
