import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { freePort } from '@volley/redis';
import type { LocalEngineRecord } from '@volley/runtime';
import { ROOT, SmtpTestClient, TSX_NODE_ARGS, waitUntil } from '@volley/testkit';

/**
 * The README's promise: `npm start` brings the whole engine up on embedded defaults, `npm run
 * demo` delivers every demo message into the capture folder, the unsubscribe links in those
 * messages work against the local API, their mailto addresses against the local bounce
 * service, and Ctrl-C stops everything.
 */
test('npm start runs the engine, the demo delivers every message with working unsubscribe links, SIGINT stops it all', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'volley-local-'));
  const ports = {
    api: await freePort(),
    capture: await freePort(),
    bounce: await freePort(),
  };
  const env = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '/tmp',
    VOLLEY_LOCAL_DIR: dir,
    VOLLEY_API_PORT: String(ports.api),
    VOLLEY_CAPTURE_PORT: String(ports.capture),
    // Free ports for every /metrics; the engine's record says which.
    VOLLEY_METRICS_PORT: '0',
    VOLLEY_MAIL_VIEW_PORT: '0',
    VOLLEY_BOUNCE_SMTP_PORT: String(ports.bounce),
  };
  const engine = spawn(
    process.execPath,
    [...TSX_NODE_ARGS, resolve(ROOT, 'services/local/src/main.ts')],
    {
      cwd: ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const lines: string[] = [];
  let onLine: ((l: string) => void) | undefined;
  for (const s of [engine.stdout, engine.stderr]) {
    createInterface({ input: s }).on('line', (l) => {
      lines.push(l);
      onLine?.(l);
    });
  }
  const exited = new Promise<number | null>((r) => engine.once('exit', (code) => r(code)));
  try {
    await new Promise<void>((res, rej) => {
      const timer = setTimeout(
        () => rej(new Error(`engine did not start:\n${lines.join('\n')}`)),
        60_000,
      );
      // Said once every service serves and the engine's record is written.
      const check = (l: string): void => {
        if (/engine running/.test(l)) {
          clearTimeout(timer);
          res();
        }
      };
      lines.forEach(check);
      onLine = check;
      void exited.then((code) => rej(new Error(`engine exited (${code}):\n${lines.join('\n')}`)));
    });

    const demo = spawn(
      process.execPath,
      [...TSX_NODE_ARGS, resolve(ROOT, 'services/local/src/demo.ts')],
      {
        cwd: ROOT,
        env: { ...env, VOLLEY_API_URL: `http://127.0.0.1:${ports.api}` },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    demo.stdout.on('data', (b: Buffer) => (out += b.toString()));
    demo.stderr.on('data', (b: Buffer) => (out += b.toString()));
    const code = await new Promise<number | null>((r) => demo.once('exit', (c) => r(c)));
    assert.equal(code, 0, out);
    assert.match(out, /done in [\d.]+ s: 1000 sent, 0 bounced, 0 failed/);

    const mail = join(dir, 'mail');
    const files = readdirSync(mail).filter((f) => f.endsWith('.eml'));
    assert.equal(files.length, 1000);
    const first = readFileSync(join(mail, files[0] ?? ''), 'utf8');
    // Stored as a mailbox stores it: the envelope in front of the message as sent.
    assert.match(
      first,
      /^Return-Path: <bounces\+[a-z2-7]+@bounces\.localhost>\r\nDelivered-To: user\d+@[a-z.]+\r\nFrom: "Volley Demo" <demo@volley\.example>\r\n/,
    );

    // The one-click link of a captured message, POSTed as a mailbox provider would.
    assert.match(first, /\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n/);
    const link =
      /\r\nList-Unsubscribe: <(http:\/\/127\.0\.0\.1:\d+\/unsubscribe\/[a-z2-7]+)>,\r\n <mailto:unsubscribe\+[a-z2-7]+@bounces\.localhost>/.exec(
        first,
      )?.[1];
    assert.ok(link, 'the message carries a one-click link to the local API and a mailto');
    assert.ok(link.startsWith(`http://127.0.0.1:${ports.api}/`));
    const to = /\r\nTo: <?([^>\r\n]+)>?\r\n/.exec(first)?.[1] ?? '';
    const clicked = await fetch(link, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'List-Unsubscribe=One-Click',
      redirect: 'manual',
    });
    assert.equal(clicked.status, 200, await clicked.text());
    /** `[source, reason]` of the address's suppression entry, which must exist. */
    const suppression = async (email: string): Promise<[string, string]> => {
      const res = await fetch(
        `http://127.0.0.1:${ports.api}/v1/suppressions/${encodeURIComponent(email)}`,
        { headers: { authorization: 'Bearer volley-local-dev-key' } },
      );
      assert.equal(res.status, 200, `${email} is on the suppression list`);
      const e = (await res.json()) as { source: string; reason: string };
      return [e.source, e.reason];
    };
    assert.deepEqual(await suppression(to), ['unsubscribe', 'one-click']);

    // The mailto of another message, sent to the local bounce service as a mail client would.
    const second = readFileSync(join(mail, files[1] ?? ''), 'utf8');
    const mailto = /<mailto:(unsubscribe\+[a-z2-7]+@bounces\.localhost)>/.exec(second)?.[1] ?? '';
    const from = /\r\nTo: <?([^>\r\n]+)>?\r\n/.exec(second)?.[1] ?? '';
    assert.ok(mailto && from && from !== to, 'a second message with its own mailto');
    const client = new SmtpTestClient({ port: ports.bounce, ignoreTLS: true });
    await client.connect();
    const reply = await client.send(
      { from, to: mailto },
      `From: ${from}\r\nTo: ${mailto}\r\nSubject: unsubscribe\r\n\r\nunsubscribe\r\n`,
    );
    await client.quit();
    assert.equal(reply.code, 250);
    assert.deepEqual(await suppression(from), ['unsubscribe', 'mailto']);

    const record = JSON.parse(readFileSync(join(dir, 'engine.json'), 'utf8')) as LocalEngineRecord;
    const list = await (await fetch(`${record.mailViewUrl}/`)).text();
    assert.match(list, /1000 of 1000 messages, newest 200 shown/);
    const metricsPort = (s: string): number => record.metricsPorts?.[s] ?? 0;
    for (const service of ['api', 'sender', 'bounce', 'collector']) {
      const port = metricsPort(service);
      const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      assert.match(
        metrics,
        new RegExp(`volley_process_cpu_seconds_total\\{service="${service}"\\}`),
      );
    }
    const senderMetrics = await (
      await fetch(`http://127.0.0.1:${metricsPort('sender')}/metrics`)
    ).text();
    assert.match(
      senderMetrics,
      // The demo's domains are none of the policy's providers.
      /volley_messages_total\{outcome="sent",provider="other",reason="delivered",service="sender"\} 1000/,
    );
  } finally {
    const redisPidFile = join(dir, 'redis', 'redis.pid');
    const redisPid = existsSync(redisPidFile)
      ? Number(readFileSync(redisPidFile, 'utf8'))
      : undefined;
    engine.kill('SIGINT');
    const code = await exited;
    assert.equal(code, 0, lines.join('\n'));
    assert.match(lines.join('\n'), /stopped; 1000 messages were captured this run/);
    if (redisPid) {
      await waitUntil(
        () => !existsSync(`/proc/${redisPid}`),
        'the local redis-server to exit',
        10_000,
      );
    }
    rmSync(dir, { recursive: true, force: true });
  }
});
