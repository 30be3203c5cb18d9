#!/usr/bin/env node
// `volley` as npm links it (node_modules/.bin/volley, `npx volley`): the built CLI when
// `npm run build` has made dist/main.js, else the TypeScript source through tsx exactly as
// `npm run volley` runs it, so a fresh checkout has a working `volley` right after `npm ci`.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import process from 'node:process';
import { URL, fileURLToPath } from 'node:url';

const built = fileURLToPath(new URL('../dist/main.js', import.meta.url));

if (existsSync(built)) {
  await import(built);
} else {
  const source = fileURLToPath(new URL('./main.ts', import.meta.url));
  // tsx as this checkout has it, so the command works from any folder (paths stay the user's).
  const tsx = import.meta.resolve('tsx');
  const child = spawn(
    process.execPath,
    ['--import', tsx, '--conditions=@volley/source', source, ...process.argv.slice(2)],
    { stdio: 'inherit' },
  );
  // Ctrl-C reaches the whole process group, so the CLI gets it itself and decides (a watch
  // stops, anything else ends with 130); this process only waits for its answer.
  process.on('SIGINT', () => {});
  process.on('SIGTERM', () => child.kill('SIGTERM'));
  child.on('exit', (code, signal) => {
    if (signal) process.kill(process.pid, signal);
    else process.exit(code ?? 1);
  });
}
