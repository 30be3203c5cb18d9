/**
 * The container image's contents, tested without a container engine. scripts/build-image-root.sh,
 * the script the Dockerfile's build stage runs, is run in a clean copy of the source tree (the
 * files git tracks, as the build context holds them), and the services are started from its
 * output as the image starts them: `node services/<name>/dist/main.js` in that folder, as a user
 * who cannot write anywhere in it, with nothing but their environment.
 *
 * Run by .ci/run as `npm run image:check`: it installs and compiles the whole tree, minutes on
 * this machine, too slow for every `npm test`. The image itself runs the current Node LTS; this
 * runs the machine's Node.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { freePort } from '@volley/redis';
import { launch, ROOT, type ChildHandle } from '@volley/runtime';
import { startCaptureServer, startRedis, waitUntil } from '@volley/testkit';

/** A user with no rights on the image's files: `nobody`, as root; ourselves otherwise. */
const RUN_AS = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : undefined;
const API_KEY = 'image-check-key-0123456789';
/** Installing and compiling the tree from scratch on a busy 2-core machine. */
const BUILD_TIMEOUT_MS = 15 * 60_000;

const work = mkdtempSync(join(tmpdir(), 'volley-image-'));
const src = join(work, 'src');
const app = join(work, 'app');

/** The build context: every file git tracks or would track, none it ignores (node_modules, dist). */
function copySourceTree(): void {
  const files = execFileSync(
    'git',
    ['ls-files', '-z', '--cached', '--others', '--exclude-standard'],
    {
      cwd: ROOT,
      encoding: 'utf8',
    },
  )
    .split('\0')
    .filter((f) => f !== '' && existsSync(join(ROOT, f)));
  for (const f of files) cpSync(join(ROOT, f), join(src, f));
}

/** Files under `dir` (relative paths), skipping node_modules. */
function filesOf(dir: string, prefix = ''): string[] {
  return readdirSync(join(dir, prefix), { withFileTypes: true }).flatMap((e) => {
    const rel = join(prefix, e.name);
    if (e.name === 'node_modules') return [];
    return e.isDirectory() ? filesOf(dir, rel) : [rel];
  });
}

before(async () => {
  // The user the services run as must reach the folder (mkdtemp makes it private).
  chmodSync(work, 0o755);
  copySourceTree();
  const build = launch('build-image-root', 'bash', ['scripts/build-image-root.sh', app], {
    cwd: src,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp' },
    keepLines: 2000,
  });
  const timer = setTimeout(() => build.child.kill('SIGKILL'), BUILD_TIMEOUT_MS);
  const code = await build.exited;
  clearTimeout(timer);
  assert.equal(code, 0, `build-image-root.sh failed:\n${build.lines.slice(-40).join('\n')}`);
  // Read-only as a read-only root filesystem is: no write bit anywhere, and not our files.
  execFileSync('chmod', ['-R', 'a-w', app]);
});

after(() => {
  execFileSync('chmod', ['-R', 'u+w', work]);
  rmSync(work, { recursive: true, force: true });
});

describe('the image root built by scripts/build-image-root.sh', () => {
  test('holds compiled JavaScript and production dependencies only', () => {
    const files = filesOf(app);
    const sources = files.filter((f) => /\.(m|c)?ts$/.test(f));
    assert.deepEqual(sources, [], 'no TypeScript (sources or declarations) outside node_modules');
    for (const service of ['api', 'sender', 'bounce', 'collector']) {
      assert.ok(files.includes(`services/${service}/dist/main.js`), `${service} is compiled`);
    }
    assert.ok(
      files.includes('packages/shaping/dist/default-policy.yaml'),
      'the default shaping policy sits next to the compiled code that reads it',
    );
    for (const dev of ['tsx', 'typescript', 'eslint', 'nodemailer', 'esbuild']) {
      assert.ok(!existsSync(join(app, 'node_modules', dev)), `${dev} (a devDependency) is absent`);
    }
    for (const prod of ['fastify', 'bullmq', 'ioredis', 'yaml']) {
      assert.ok(existsSync(join(app, 'node_modules', prod)), `${prod} is installed`);
    }
  });

  test('as a user who cannot write to it, every service starts from it against a real Redis, a campaign is delivered, and SIGTERM stops each with status 0', async () => {
    const redis = await startRedis();
    const capture = await startCaptureServer();
    const running: ChildHandle[] = [];
    const start = async (service: string, env: Record<string, string>) => {
      const metricsPort = await freePort();
      const p = launch(service, process.execPath, [`services/${service}/dist/main.js`], {
        cwd: app,
        ...(RUN_AS ? { user: RUN_AS } : {}),
        keepLines: 2000,
        env: {
          PATH: process.env.PATH ?? '',
          // As in the image: no home to write into.
          HOME: '/nonexistent',
          REDIS_URL: redis.url,
          VOLLEY_METRICS_PORT: String(metricsPort),
          // The image listens on 0.0.0.0; tests on this machine listen on loopback only.
          VOLLEY_METRICS_HOST: '127.0.0.1',
          ...env,
        },
      });
      running.push(p);
      return { p, metricsPort };
    };
    try {
      const apiPort = await freePort();
      const api = await start('api', {
        VOLLEY_API_KEY: API_KEY,
        VOLLEY_API_PORT: String(apiPort),
        VOLLEY_API_HOST: '127.0.0.1',
      });
      // The default shaping policy (YAML next to the compiled code) is loaded, not switched off.
      const sender = await start('sender', {
        VOLLEY_SMTP_RELAY: `smtp://127.0.0.1:${capture.port}`,
      });
      // The bounce service takes mail for the bounce domain only, with the senders' VERP secret.
      const bounce = await start('bounce', {
        VOLLEY_BOUNCE_DOMAIN: 'bounces.image.example',
        VOLLEY_VERP_SECRET: 'image-check-verp-secret-0123',
        VOLLEY_BOUNCE_SMTP_PORT: String(await freePort()),
      });
      const collector = await start('collector', {});
      await Promise.all([
        api.p.waitForLine(/api listening/, 60_000),
        sender.p.waitForLine(/sender started/, 60_000),
        bounce.p.waitForLine(/bounce started/, 60_000),
        collector.p.waitForLine(/collector started/, 60_000),
      ]);
      for (const s of [api, sender, bounce, collector]) {
        await waitUntil(
          async () => (await fetch(`http://127.0.0.1:${s.metricsPort}/readyz`)).status === 200,
          `${s.p.name} to be ready`,
        );
      }

      const auth = { authorization: `Bearer ${API_KEY}` };
      const res = await fetch(`http://127.0.0.1:${apiPort}/v1/campaigns`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json' },
        body: JSON.stringify({
          from: 'Image Check <news@image.example>',
          subject: 'Hello {{name}}',
          text: 'Hi {{name}}',
          recipients: Array.from({ length: 20 }, (_, i) => ({
            email: `user${i}@image${i % 3}.example`,
            vars: { name: `N${i}` },
          })),
        }),
      });
      const body = await res.text();
      assert.equal(res.status, 202, body);
      const { id } = JSON.parse(body) as { id: string };
      let last: { status: string; counts: { sent: number } } | undefined;
      await waitUntil(
        async () => {
          const r = await fetch(`http://127.0.0.1:${apiPort}/v1/campaigns/${id}`, {
            headers: auth,
          });
          last = (await r.json()) as typeof last;
          return last?.status === 'completed';
        },
        'the campaign to complete',
        120_000,
      );
      assert.equal(last?.counts.sent, 20);
      assert.equal(capture.messages.length, 20, 'every message reached the relay');

      const codes = await Promise.all(running.map((p) => p.stop('SIGTERM', 30_000)));
      assert.deepEqual(codes, [0, 0, 0, 0], 'each service exits 0 on SIGTERM');
      for (const p of running) {
        assert.ok(
          !p.lines.some((l) => /EACCES|EROFS/.test(l)),
          `${p.name} tried to write: ${p.lines.find((l) => /EACCES|EROFS/.test(l))}`,
        );
      }
    } finally {
      await Promise.all(running.map((p) => p.stop('SIGKILL')));
      await capture.close();
      await redis.stop();
    }
  });
});
