/**
 * `npm run dashboards`: writes every dashboard to deploy/grafana/<name>.json.
 * `npm run dashboards -- --check`: fails (exit 1) when a committed file differs from what the
 * code generates, so the JSON in the repository is always what the code says.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { dashboards } from './dashboards.ts';

const DIR = resolve(import.meta.dirname, '..');
const check = process.argv.includes('--check');
let stale = 0;
for (const [name, d] of Object.entries(dashboards())) {
  const file = resolve(DIR, `${name}.json`);
  const text = `${JSON.stringify(d, null, 2)}\n`;
  if (check) {
    let committed = '';
    try {
      committed = readFileSync(file, 'utf8');
    } catch {
      // Missing counts as different.
    }
    if (committed !== text) {
      stale++;
      process.stderr.write(
        `deploy/grafana/${name}.json differs from the code: run npm run dashboards\n`,
      );
    }
  } else {
    writeFileSync(file, text);
    process.stdout.write(`wrote deploy/grafana/${name}.json\n`);
  }
}
process.exit(stale ? 1 : 0);
