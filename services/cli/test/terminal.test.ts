import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, TSX_NODE_ARGS, startDnsStub, waitUntil } from '@volley/testkit';
import { CLI, DEFINITION, file, sendAndWatch, startEngine, type Engine } from './helpers.ts';

/**
 * What a person sees: the CLI in a real pseudo-terminal (tmux, from Debian), its screen read
 * back with the escape codes it drew.
 */
let engine: Engine;
let socket: string;

function tmux(...args: string[]): string {
  return execFileSync('tmux', ['-S', socket, ...args], { encoding: 'utf8', env: engine.env });
}

const quote = (s: string): string => `'${s.replaceAll("'", "'\\''")}'`;

/**
 * The CLI running in a fresh tmux window: its screen now, and (`exited`) its exit status and
 * last screen once it ends.
 */
function inTerminalWindow(args: string[], env: Record<string, string> = {}) {
  const rc = join(engine.dir, `rc-${Date.now()}-${Math.random().toString(36).slice(2)}`);
  const command = [process.execPath, ...TSX_NODE_ARGS, CLI, ...args].map(quote).join(' ');
  const vars = Object.entries({ ...engine.env, ...env })
    .map(([k, v]) => `${k}=${quote(v)}`)
    .join(' ');
  // The window stays open after the command so its screen can be read.
  const index = tmux(
    'new-window',
    '-d',
    '-P',
    '-F',
    '#{window_index}',
    `cd ${quote(ROOT)} && env ${vars} ${command}; echo $? > ${quote(rc)}; sleep 600`,
  ).trim();
  const target = `:${index}`;
  const screen = (): string => tmux('capture-pane', '-p', '-e', '-J', '-S', '-100', '-t', target);
  const exited = async () => {
    await waitUntil(
      () => existsSync(rc) && readFileSync(rc, 'utf8').endsWith('\n'),
      'the CLI to exit',
      60_000,
    );
    const last = screen();
    tmux('kill-window', '-t', target);
    return { code: Number(readFileSync(rc, 'utf8').trim()), screen: last };
  };
  return { screen, exited };
}

/** Runs the CLI in a fresh tmux window; resolves to its exit status and the screen. */
function inTerminal(args: string[], env: Record<string, string> = {}) {
  return inTerminalWindow(args, env).exited();
}

/**
 * Addresses the capture server answers for: gone@ bounces (5.1.1), busy@ is deferred (4.2.2)
 * for as long as `holdBusy` is set, so a campaign with it stays running until the test lets go.
 */
let holdBusy = false;

before(async () => {
  engine = await startEngine(
    1,
    {},
    {
      // Deferred recipients come back within half a second, not minutes.
      env: { VOLLEY_RETRY_BASE: '100ms', VOLLEY_RETRY_MAX: '500ms' },
      capture: {
        onRecipient(address) {
          if (address.startsWith('gone@'))
            return { code: 550, message: '5.1.1 <gone@four.example>: user unknown' };
          if (address.startsWith('busy@') && holdBusy)
            return { code: 452, message: '4.2.2 mailbox full' };
          return undefined;
        },
      },
    },
  );
  socket = join(engine.dir, 'tmux.sock');
  file(engine.dir, 'body.html', '<p>Hi {{name}}</p>');
  file(engine.dir, 'campaign.yaml', DEFINITION);
  // A session whose first window idles: the test's windows come and go beside it.
  execFileSync('tmux', ['-S', socket, 'new-session', '-d', '-x', '160', '-y', '50', 'sleep 600'], {
    env: engine.env,
  });
});
after(async () => {
  if (socket) execFileSync('tmux', ['-S', socket, 'kill-server']);
  await engine.stop();
});

const ESC = `${String.fromCharCode(27)}[`;
/** Escape codes of the terminal (CSI sequences), to read the screen as text. */
const CSI = new RegExp(`${String.fromCharCode(27)}\\[[0-9;?]*[A-Za-z]`, 'g');
/** A foreground colour. */
const COLOUR = new RegExp(`${String.fromCharCode(27)}\\[3\\dm`);
const plain = (s: string): string => s.replace(CSI, '');

test('in a terminal: upload and watch bars, coloured outcomes, invalid rows with their line', async () => {
  const rows = [
    'email,name',
    ...Array.from({ length: 40 }, (_, i) => (i === 7 ? 'nobody,X' : `t${i}@three.example,N${i}`)),
  ];
  const list = file(engine.dir, 'tty.csv', `${rows.join('\n')}\n`);
  const { code, screen } = await inTerminal(sendAndWatch(engine.dir, list));
  const text = plain(screen);
  assert.equal(code, 0, text);
  assert.match(text, /created campaign [a-f0-9]{20} \(draft\)/);
  // The upload's bar at its end: all bytes, the rows counted, a rate and an ETA.
  assert.match(text, /upload .*100% \| .* of .* \| 41 rows, [\d,]+ rows\/s \| ETA/);
  assert.match(text, /uploaded 40 rows .* 39 added, 0 duplicates, 1 invalid/);
  assert.match(text, /line 9: /);
  assert.match(text, /100% \| 39 of 39 \| .*\/s \| ETA .* \| completed/);
  assert.match(text, /completed: sent 39, deferred 0, bounced 0/);
  assert.match(text, /top bounce reasons: -/);
  assert.ok(screen.includes(`${ESC}32m`), 'outcomes in colour');
});

test('in a terminal: the watch shows outcome counts and the top bounce and deferral reasons while it runs', async () => {
  const list = file(
    engine.dir,
    'reasons.csv',
    'email,name\ngone@four.example,G\nbusy@four.example,B\nfine@four.example,F\n',
  );
  holdBusy = true;
  const run = inTerminalWindow(sendAndWatch(engine.dir, list));
  try {
    // busy@ is deferred until released, so the campaign cannot end: this is the live view.
    let live = '';
    await waitUntil(() => {
      live = plain(run.screen());
      return /top deferral reasons: \S+ \d/.test(live) && /top bounce reasons: \S+ 1/.test(live);
    }, 'the live view to show a bounce and a deferral reason');
    assert.match(live, /\| running\n/, live);
    // The counts as the API has them at that moment (they may trail the events).
    assert.match(
      live,
      /running: sent \d+, deferred \d+, bounced \d+, suppressed \d+, failed \d+, queued \d+/,
      live,
    );
    assert.match(live, /top bounce reasons: userunknown 1/, live);
    assert.match(live, /top deferral reasons: mailboxfull [1-9]/, live);
  } finally {
    holdBusy = false;
  }
  const { code, screen } = await run.exited();
  const text = plain(screen);
  assert.equal(code, 0, text);
  assert.match(text, /100% \| 3 of 3 \| .*\| completed/);
  assert.match(text, /completed: sent 2, deferred 0, bounced 1/);
  assert.match(text, /top bounce reasons: userunknown 1/);
  assert.match(text, /top deferral reasons: mailboxfull [1-9]/);
});

test('with --json the progress lines carry the outcome counts and the bounce and deferral reasons', async () => {
  const list = file(
    engine.dir,
    'reasons-json.csv',
    'email,name\ngone@five.example,G\nbusy@five.example,B\nfine@five.example,F\n',
  );
  holdBusy = true;
  const run = inTerminalWindow([...sendAndWatch(engine.dir, list), '--json']);
  try {
    await waitUntil(
      () =>
        progressLines(run.screen()).some(
          (p) =>
            p.status === 'running' && p.counts.bounced === 1 && p.reasons.deferred['mailboxfull'],
        ),
      'a progress line of the running campaign with the bounce and a deferral reason',
    );
  } finally {
    holdBusy = false;
  }
  const { code, screen } = await run.exited();
  assert.equal(code, 0, screen);
  assert.ok(!COLOUR.test(screen));
  const last = progressLines(screen).at(-1);
  assert.equal(last?.status, 'completed');
  assert.equal(last?.counts.sent, 2);
  assert.deepEqual(last?.reasons.bounced, { userunknown: 1 });
  assert.ok((last?.reasons.deferred['mailboxfull'] ?? 0) >= 1, JSON.stringify(last));
});

interface Progress {
  status: string;
  counts: Record<string, number>;
  reasons: { bounced: Record<string, number>; deferred: Record<string, number> };
}

/** The --json progress lines on a screen. */
function progressLines(screen: string): Progress[] {
  return plain(screen)
    .split('\n')
    .filter((l) => l.startsWith('{"type":"progress"'))
    .map((l) => JSON.parse(l) as Progress);
}

test('in a terminal with NO_COLOR, or with --json, no colour codes; --json prints JSON lines', async () => {
  const noColour = await inTerminal(['campaign', 'list', '--limit', '3'], { NO_COLOR: '1' });
  assert.equal(noColour.code, 0, noColour.screen);
  assert.match(noColour.screen, /ID\s+STATUS\s+CREATED\s+SENT\/TOTAL\s+SUBJECT/);
  assert.ok(!COLOUR.test(noColour.screen));
  const json = await inTerminal(['campaign', 'list', '--limit', '1', '--json']);
  assert.equal(json.code, 0, json.screen);
  assert.ok(!COLOUR.test(json.screen));
  const first = plain(json.screen)
    .split('\n')
    .find((l) => l.startsWith('{'));
  assert.equal((JSON.parse(first ?? '') as { status: string }).status, 'completed');
});

test('in a terminal: dns check prints coloured verdicts, the record to publish, and a summary', async () => {
  const dns = await startDnsStub({
    'shop.example': {
      mx: [{ preference: 10, exchange: 'mx.shop.example' }],
      txt: ['v=spf1 ip4:198.51.100.0/24 -all'],
    },
    'mx.shop.example': { a: ['198.51.100.20'] },
    's1._domainkey.shop.example': { txt: ['v=DKIM1; k=rsa; p='] },
    '_dmarc.shop.example': { txt: ['v=DMARC1; p=none'] },
  });
  try {
    const { code, screen } = await inTerminal(
      ['dns', 'check', 'shop.example', '--selector', 's1', '--bounce-domain', 'shop.example'],
      { VOLLEY_DNS_SERVERS: `127.0.0.1:${dns.port}` },
    );
    const text = plain(screen);
    assert.equal(code, 1, text);
    assert.match(text, /no --ip given/);
    assert.match(text, /PASS {2}mx +shop\.example: MX mx\.shop\.example/);
    assert.match(
      text,
      /FAIL {2}dkim s1 +s1\._domainkey\.shop\.example: p= is empty, the key is revoked/,
    );
    assert.match(text, /WARN {2}dmarc +_dmarc\.shop\.example: p=none/);
    assert.match(text, /publish: TXT _dmarc\.shop\.example "v=DMARC1; p=quarantine"/);
    assert.match(text, /shop\.example: \d+ passed, \d+ warnings, \d+ failed/);
    assert.ok(screen.includes(`${ESC}31mFAIL`), 'failures in red');
    assert.ok(screen.includes(`${ESC}32mPASS`), 'passes in green');
  } finally {
    await dns.close();
  }
});
