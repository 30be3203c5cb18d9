// `npm run rules:check`: `promtool check rules` and `promtool test rules` on deploy/prometheus,
// as CI runs them. promtool comes with Debian's `prometheus` package.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './lib/test-files.ts';

const DIR = join(ROOT, 'deploy/prometheus');
const promtool = ['/usr/bin/promtool', '/usr/local/bin/promtool'].find((p) => existsSync(p));
if (!promtool) {
  console.error(
    'rules:check: promtool not found; install it with `apt-get install prometheus` (Debian package)',
  );
  process.exit(1);
}
for (const args of [
  ['check', 'rules', 'volley-alerts.yml'],
  ['test', 'rules', 'volley-alerts.test.yml'],
]) {
  const r = spawnSync(promtool, args, { cwd: DIR, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
