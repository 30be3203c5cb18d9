import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '@volley/testkit';
import {
  ADMIN_KEY,
  DEFINITION,
  file,
  finished,
  inProcess,
  jsonLines,
  runCli,
  sendAndWatch,
  spawnCli,
  startEngine,
  type Engine,
} from './helpers.ts';

let engine: Engine;

const ESC = '\u001b';

/** While set, the capture server defers busy@ (4.2.2), so a campaign with it keeps running. */
let holdBusy = false;

before(async () => {
  engine = await startEngine(
    1,
    {},
    {
      // Deferred recipients come back within half a second, not minutes.
      env: { VOLLEY_RETRY_BASE: '100ms', VOLLEY_RETRY_MAX: '500ms' },
      capture: {
        onRecipient: (address) =>
          address.startsWith('busy@') && holdBusy
            ? { code: 452, message: '4.2.2 mailbox full' }
            : undefined,
      },
    },
  );
  file(engine.dir, 'body.html', '<p>Hi {{name}}</p>');
  file(engine.dir, 'campaign.yaml', DEFINITION);
});
after(() => engine.stop());

function csv(rows: number, bad: number[] = []): string {
  const lines = ['email,name'];
  for (let i = 0; i < rows; i++) {
    lines.push(bad.includes(i) ? `not-an-address-${i},X` : `user${i}@one.example,Name${i}`);
  }
  return `${lines.join('\n')}\n`;
}

describe('volley campaign send (piped: JSON lines)', () => {
  test('creates, uploads with invalid rows named by line, starts, watches to completion; exit 0', async () => {
    const list = file(engine.dir, 'list.csv', csv(30, [4, 9]));
    const before = engine.harness.capture.messages.length;
    const r = await runCli(sendAndWatch(engine.dir, list), engine.env);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(!r.stdout.includes(ESC) && !r.stderr.includes(ESC), 'no escape codes when piped');
    const lines = jsonLines(r.stdout);
    const [created, upload, started] = lines;
    assert.equal(created?.type, 'created');
    assert.equal(created?.status, 'draft');
    const id = String(created?.id);
    assert.equal(upload?.type, 'upload');
    assert.equal(upload?.rows, 30);
    assert.equal(upload?.added, 28);
    assert.equal(upload?.invalid, 2);
    // Line 1 is the header: row i is on line i + 2.
    assert.deepEqual(
      (upload?.errors as { line: number }[]).map((e) => e.line),
      [6, 11],
    );
    assert.deepEqual(started, { type: 'started', id, status: 'running' });
    const progress = lines.slice(3);
    assert.ok(progress.length >= 1);
    for (const p of progress) assert.equal(p.type, 'progress');
    const last = progress.at(-1) as { status: string; counts: { sent: number; total: number } };
    assert.equal(last.status, 'completed');
    assert.equal(last.counts.sent, 28);
    assert.equal(engine.harness.capture.messages.length - before, 28);
    const sent = engine.harness.capture.messages.slice(before).map((m) => m.raw.toString());
    assert.ok(sent.every((m) => /X-Campaign: cli-test/.test(m)));
  });

  test('list, show, stats and events answer what the API holds', async () => {
    const list = file(
      engine.dir,
      'few.ndjson',
      '{"email":"a@two.example"}\n{"email":"b@two.example"}\n',
    );
    const sent = await runCli(sendAndWatch(engine.dir, list), engine.env);
    assert.equal(sent.code, 0, sent.stderr);
    const id = String(jsonLines(sent.stdout)[0]?.id);
    const listed = jsonLines(
      (await runCli(['campaign', 'list', '--limit', '1'], engine.env)).stdout,
    );
    assert.equal(listed[0]?.id, id, 'newest first');
    assert.deepEqual(listed[1]?.type, 'next');
    const completed = jsonLines(
      (await runCli(['campaign', 'list', '--status', 'completed', '--all'], engine.env)).stdout,
    );
    assert.ok(completed.length >= 2 && completed.every((c) => c.status === 'completed'));
    const show = jsonLines((await runCli(['campaign', 'show', id], engine.env)).stdout);
    assert.equal(show[0]?.id, id);
    assert.deepEqual((show[0]?.counts as { sent: number }).sent, 2);
    const stats = jsonLines((await runCli(['campaign', 'stats', id, '--json'], engine.env)).stdout);
    assert.equal((stats[0]?.progress as { fraction: number }).fraction, 1);
    const events = jsonLines((await runCli(['campaign', 'events', id], engine.env)).stdout);
    assert.deepEqual(events.map((e) => e.email).sort(), ['a@two.example', 'b@two.example']);
    assert.ok(events.every((e) => e.outcome === 'sent'));
  });

  test('a draft through its life: send without --start, upload more, start, pause, resume, cancel; each answers the status the API then holds', async () => {
    holdBusy = true;
    try {
      const first = file(engine.dir, 'life.ndjson', '{"email":"busy@life.example"}\n');
      const sent = await runCli(
        ['campaign', 'send', join(engine.dir, 'campaign.yaml'), '--recipients', first],
        engine.env,
      );
      assert.equal(sent.code, 0, sent.stderr);
      const created = jsonLines(sent.stdout)[0];
      assert.deepEqual([created?.type, created?.status], ['created', 'draft']);
      const id = String(created?.id);
      const shown = async (): Promise<Record<string, unknown> | undefined> =>
        jsonLines((await runCli(['campaign', 'show', id], engine.env)).stdout)[0];

      const more = file(engine.dir, 'life.csv', 'email,name\nok@life.example,Ok\n');
      const up = await runCli(['campaign', 'upload', id, '--recipients', more], engine.env);
      assert.equal(up.code, 0, up.stderr);
      const uploaded = jsonLines(up.stdout).at(-1);
      assert.deepEqual([uploaded?.type, uploaded?.added, uploaded?.total], ['upload', 1, 2]);
      assert.equal((await shown())?.status, 'draft', 'an upload does not start a draft');

      // busy@ is deferred while holdBusy is set: the campaign stays running until cancelled.
      for (const [action, type, status] of [
        ['start', 'started', 'running'],
        ['pause', 'pause', 'paused'],
        ['resume', 'resume', 'running'],
        ['cancel', 'cancel', 'cancelled'],
      ] as const) {
        const r = await runCli(['campaign', action, id], engine.env);
        assert.equal(r.code, 0, `${action}: ${r.stderr}`);
        const line = jsonLines(r.stdout)[0];
        assert.deepEqual([line?.type, line?.id, line?.status], [type, id, status], action);
        assert.equal((await shown())?.status, status, `the API after ${action}`);
      }
      const counts = (await shown())?.counts as { total: number; cancelled: number };
      assert.equal(counts.total, 2);
      assert.ok(counts.cancelled >= 1, 'the deferred recipient is cancelled, not left waiting');
      // A second cancel is a wrong state: 1, with the API's reason.
      const again = await runCli(['campaign', 'cancel', id], engine.env);
      assert.equal(again.code, 1);
      assert.match(again.stdout + again.stderr, /409/);
    } finally {
      holdBusy = false;
    }
  });

  test('Ctrl-C stops the watch of a running campaign with status 130; the campaign goes on to completion', async () => {
    holdBusy = true;
    const id = await engine.harness.create({
      ...CAMPAIGN_RUNNING,
      recipients: [{ email: 'busy@one.example' }, { email: 'ready@one.example' }],
    });
    try {
      const child = spawnCli(['campaign', 'watch', id, '--interval', '100'], engine.env);
      const done = finished(child);
      await new Promise<void>((resolve) => {
        child.stdout?.on('data', (b: Buffer) => {
          if (b.toString().includes('"status":"running"')) resolve();
        });
      });
      child.kill('SIGINT');
      const r = await done;
      assert.equal(r.code, 130, r.stderr);
      assert.match(r.stderr, new RegExp(`campaign ${id} goes on \\(running\\)`));
      // busy@ is still deferred: the campaign cannot have ended, and Ctrl-C did not stop it.
      assert.equal(await engine.harness.store.status(id), 'running');
    } finally {
      holdBusy = false;
    }
    await engine.harness.completed(id);
    assert.equal((await engine.harness.store.get(id))?.counts.sent, 2);
  });
});

/** Started at once: its busy@ recipient is deferred while holdBusy is set (see the engine). */
const CAMPAIGN_RUNNING = {
  from: 'Volley Test <news@sender.example>',
  subject: 'Running',
  text: 'x',
};

describe('exit status', () => {
  test('wrong usage is 2, with the reason on stderr and nothing created', async () => {
    const before = await engine.harness.store.redis.zcard(
      engine.harness.keys.tenantCampaigns('default'),
    );
    const yaml = join(engine.dir, 'campaign.yaml');
    const cases: [string[], RegExp][] = [
      [['campaign', 'launch'], /unknown command/],
      [['campaign', 'send', yaml], /--recipients/],
      [['campaign', 'send', yaml, '--recipients', 'x.txt'], /--format/],
      [['campaign', 'send', yaml, '--recipients', 'x.csv', '--watch'], /--start/],
      [['campaign', 'list', '--status', 'sending'], /status/],
      [['campaign', 'list', '--limit', '0'], /limit/],
      [['campaign', 'list', '--created-after', 'yesterday'], /created-after/],
      [['campaign', 'show'], /missing required argument/],
      [['campaign', 'list', '--bogus'], /unknown option/],
      [[], /Usage/],
    ];
    for (const [args, why] of cases) {
      const r = await inProcess(args, engine.env);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, why, args.join(' '));
    }
    assert.equal(
      await engine.harness.store.redis.zcard(engine.harness.keys.tenantCampaigns('default')),
      before,
    );
  });

  test('a failure is 1: refused key, unknown campaign, a bad definition file, no API', async () => {
    const yaml = file(engine.dir, 'bad.yaml', 'from: a@sender.example\nsubjet: typo\ntext: x\n');
    const list = file(engine.dir, 'one.csv', 'email\na@one.example\n');
    const cases: [string[], Record<string, string>, RegExp][] = [
      [['campaign', 'list'], { VOLLEY_API_KEY: 'wrong-key-0123456789' }, /401/],
      [['campaign', 'show', 'ab'.repeat(10)], {}, /404/],
      [['campaign', 'pause', 'ab'.repeat(10)], {}, /404/],
      [['campaign', 'send', yaml, '--recipients', list], {}, /unknown field subjet/],
      [
        [
          'campaign',
          'send',
          join(engine.dir, 'campaign.yaml'),
          '--recipients',
          join(engine.dir, 'missing.csv'),
        ],
        {},
        /cannot read/,
      ],
      [['campaign', 'list'], { VOLLEY_API_URL: 'http://127.0.0.1:9' }, /cannot reach the API/],
    ];
    for (const [args, env, why] of cases) {
      const r = await runCli(args, { ...engine.env, ...env });
      assert.equal(r.code, 1, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, why, args.join(' '));
      const err = JSON.parse(r.stderr.trim().split('\n').at(-1) ?? '') as { type: string };
      assert.equal(err.type, 'error', 'piped: the error is a JSON line too');
    }
  });

  test(
    'Ctrl-C outside a watch ends the CLI at once with 130: a list hung on an API that never answers',
    { timeout: 30_000 },
    async () => {
      // Accepts the connection and never answers: the CLI waits on its request.
      const sockets = new Set<Socket>();
      const silent = createServer((s) => sockets.add(s));
      const connected = once(silent, 'connection');
      await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
      try {
        const { port } = silent.address() as AddressInfo;
        const child = spawnCli(['campaign', 'list'], {
          ...engine.env,
          VOLLEY_API_URL: `http://127.0.0.1:${port}`,
        });
        const done = finished(child);
        await connected;
        child.kill('SIGINT');
        // One Ctrl-C is enough: without it the test times out waiting on the request.
        const r = await done;
        assert.equal(r.code, 130, r.stderr);
      } finally {
        for (const s of sockets) s.destroy();
        silent.close();
      }
    },
  );

  test('the volley bin npm links (node_modules/.bin/volley) runs the CLI from any folder, with its exit status', async () => {
    const bin = join(ROOT, 'node_modules/.bin/volley');
    const run = (args: string[]) =>
      finished(
        spawn(bin, args, { cwd: tmpdir(), env: engine.env, stdio: ['ignore', 'pipe', 'pipe'] }),
      );
    const help = await run(['--help']);
    assert.equal(help.code, 0, help.stderr);
    assert.match(help.stdout, /Usage: volley \[options\] \[command\]/);
    const wrong = await run(['campaign', 'launch']);
    assert.equal(wrong.code, 2, wrong.stderr);
  });

  test('--help works on every command and exits 0', async () => {
    const top = await inProcess(['--help'], engine.env);
    assert.equal(top.code, 0);
    const commands = [
      ...[
        'send',
        'upload',
        'watch',
        'list',
        'show',
        'stats',
        'events',
        'start',
        'pause',
        'resume',
        'cancel',
      ].map((c) => ['campaign', c]),
      ...['list', 'add', 'remove', 'import', 'export'].map((c) => ['suppression', c]),
      ['tenant', 'create'],
      ['tenant', 'list'],
      ['key', 'create'],
      ['key', 'list'],
      ['key', 'revoke'],
      ['domain', 'add'],
      ['domain', 'list'],
      ['domain', 'remove'],
      ['dns', 'check'],
      ['dkim', 'keygen'],
      ['campaign'],
      ['suppression'],
      ['tenant'],
      ['key'],
      ['domain'],
      ['dns'],
      ['dkim'],
    ];
    for (const c of commands) {
      const r = await inProcess([...c, '--help'], engine.env);
      assert.equal(r.code, 0, c.join(' '));
      assert.match(r.stdout, new RegExp(`Usage: volley ${c.join(' ')}`), c.join(' '));
    }
  });
});

describe('suppressions, tenants and keys', () => {
  test('suppression add, list, import with progress, export and remove', async () => {
    const add = await runCli(['suppression', 'add', 'x@one.example', 'y@one.example'], engine.env);
    assert.equal(add.code, 0, add.stderr);
    assert.deepEqual(jsonLines(add.stdout)[0], { type: 'added', added: 2, existing: 0 });
    const csvFile = file(
      engine.dir,
      'supp.csv',
      'email,reason\nz@one.example,manual\nbad,manual\n',
    );
    const imp = await runCli(['suppression', 'import', csvFile, '--max-invalid', '5'], engine.env);
    assert.equal(imp.code, 0, imp.stderr);
    const imported = jsonLines(imp.stdout)[0] as {
      added: number;
      invalid: number;
      errors: { line: number }[];
    };
    assert.equal(imported.added, 1);
    assert.equal(imported.invalid, 1);
    assert.equal(imported.errors[0]?.line, 3);
    const listed = jsonLines((await runCli(['suppression', 'list', '--all'], engine.env)).stdout);
    assert.deepEqual(listed.map((e) => e.email).sort(), [
      'x@one.example',
      'y@one.example',
      'z@one.example',
    ]);
    const out = join(engine.dir, 'export.csv');
    const exp = await runCli(['suppression', 'export', '--output', out], engine.env);
    assert.equal(exp.code, 0, exp.stderr);
    const exported = readFileSync(out, 'utf8');
    for (const e of ['x@one.example', 'y@one.example', 'z@one.example'])
      assert.ok(exported.includes(e));
    const rm = await runCli(['suppression', 'remove', 'y@one.example'], engine.env);
    assert.equal(rm.code, 0, rm.stderr);
    const after = jsonLines((await runCli(['suppression', 'list'], engine.env)).stdout);
    assert.deepEqual(after.map((e) => e.email).sort(), ['x@one.example', 'z@one.example']);
  });

  test('tenant and key commands go through the admin API; the new key works, and revoked it does not', async () => {
    const admin = { ...engine.env, VOLLEY_ADMIN_KEY: ADMIN_KEY };
    assert.equal((await runCli(['tenant', 'create', 'globex', '--name', 'Globex'], admin)).code, 0);
    const tenants = jsonLines((await runCli(['tenant', 'list'], admin)).stdout);
    assert.ok(tenants.some((t) => t.id === 'globex' && t.name === 'Globex'));
    const created = jsonLines((await runCli(['key', 'create', 'globex'], admin)).stdout)[0] as {
      id: string;
      key: string;
    };
    const asGlobex = { ...engine.env, VOLLEY_API_KEY: created.key };
    const list = await runCli(['campaign', 'list'], asGlobex);
    assert.equal(list.code, 0, list.stderr);
    assert.equal(list.stdout, '', "globex has no campaigns, and sees none of default's");
    const keys = jsonLines((await runCli(['key', 'list', 'globex'], admin)).stdout);
    assert.deepEqual(
      keys.map((k) => k.id),
      [created.id],
    );
    assert.equal((await runCli(['key', 'revoke', created.id], admin)).code, 0);
    assert.equal((await runCli(['campaign', 'list'], asGlobex)).code, 1);
    const noAdmin = await runCli(['tenant', 'list'], engine.env);
    assert.equal(noAdmin.code, 1);
    assert.match(noAdmin.stderr, /VOLLEY_ADMIN_KEY/);
  });
});
