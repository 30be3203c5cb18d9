// Runs every *.test.ts under packages/, services/, benchmarks/ and deploy/ with Node's own test runner (through tsx),
// so there is one runner and its summary line ends the output.
import { spawnSync } from 'node:child_process';
import { ROOT, runnerArgs, testFiles } from './lib/test-files.ts';

const filter = process.argv.slice(2);
const files = testFiles(filter);
if (files.length === 0) {
  console.error(`no test files matched ${filter.join(' ')}`);
  process.exit(1);
}
const res = spawnSync(process.execPath, runnerArgs(files), { cwd: ROOT, stdio: 'inherit' });
process.exit(res.status ?? 1);
