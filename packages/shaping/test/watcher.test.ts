import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PolicyError, PolicyWatcher, type Policy } from '../src/index.ts';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'volley-shaping-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const policy = (rate: string): string => `defaults:\n  rate: ${rate}\n  connections: 3\n`;

/** Replaces the file the way editors and ConfigMaps do: write aside, then rename over it. */
async function replace(path: string, text: string): Promise<void> {
  await writeFile(`${path}.tmp`, text);
  await rename(`${path}.tmp`, path);
}

describe('policy watcher', () => {
  test('reloads on change; an invalid file is refused and the previous policy stays', async () => {
    const path = join(dir, 'shaping.yaml');
    await writeFile(path, policy('10/s'));
    const w = await PolicyWatcher.open(path, { debounceMs: 20 });
    try {
      assert.equal(w.policy.defaults.ratePerSec, 10);

      const changed = once(w, 'change') as Promise<[Policy]>;
      await replace(path, policy('20/s'));
      const [p] = await changed;
      assert.equal(p.defaults.ratePerSec, 20);
      assert.equal(w.policy, p);

      const refused = once(w, 'invalid') as Promise<[PolicyError]>;
      await replace(path, 'defaults:\n  connections: 3\n  rate: -1/s\n');
      const [err] = await refused;
      assert.equal(err.line, 3);
      assert.match(err.reason, /defaults\.rate cannot be negative/);
      assert.match(err.message, /^shaping\.yaml:3:9: /);
      assert.equal(w.policy.defaults.ratePerSec, 20, 'the previous policy stays in force');

      // Written in place (not renamed) this time.
      const fixed = once(w, 'change') as Promise<[Policy]>;
      await writeFile(path, policy('30/s'));
      assert.equal((await fixed)[0].defaults.ratePerSec, 30);
    } finally {
      w.close();
    }
  });

  test('reload() (the SIGHUP path) reports changed, unchanged and invalid', async () => {
    const path = join(dir, 'hup.yaml');
    await writeFile(path, policy('5/s'));
    // A debounce longer than the test: only the explicit reloads read the file.
    const w = await PolicyWatcher.open(path, { debounceMs: 600_000 });
    try {
      assert.equal((await w.reload()).status, 'unchanged');
      await writeFile(path, policy('6/s'));
      const r = await w.reload();
      assert.equal(r.status, 'changed');
      assert.equal(w.policy.defaults.ratePerSec, 6);

      const events: string[] = [];
      w.on('invalid', (e) => events.push(e.reason));
      await writeFile(path, 'defaults:\n  rate: [\n');
      const bad = await w.reload();
      assert.equal(bad.status, 'invalid');
      assert.equal(bad.status === 'invalid' && bad.error.line, 2);
      assert.equal(events.length, 1, 'listeners hear of it too');
      assert.equal(w.policy.defaults.ratePerSec, 6);

      await rm(path);
      const gone = await w.reload();
      assert.equal(gone.status === 'invalid' && gone.error.reason.includes('does not exist'), true);
      assert.equal(w.policy.defaults.ratePerSec, 6);
    } finally {
      w.close();
    }
  });

  test('a service does not start on a missing or invalid file', async () => {
    await assert.rejects(PolicyWatcher.open(join(dir, 'nope.yaml')), (err: unknown) => {
      assert.ok(err instanceof PolicyError);
      assert.match(err.reason, /does not exist; check VOLLEY_SHAPING_POLICY/);
      return true;
    });
    const path = join(dir, 'bad.yaml');
    await writeFile(path, 'defaults:\n  rate: 10\n');
    await assert.rejects(PolicyWatcher.open(path), (err: unknown) => {
      assert.ok(err instanceof PolicyError);
      assert.deepEqual([err.line, err.column], [2, 9]);
      return true;
    });
  });
});
