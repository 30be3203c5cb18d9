/**
 * The production manifests' grace period, measured: a sender in the middle of a campaign gets
 * SIGTERM, as the kubelet sends it, with the drain timeout the rendered sender Deployment sets;
 * it must exit by itself within the Deployment's terminationGracePeriodSeconds (after which the
 * kubelet would SIGKILL it), having recorded every message the server accepted, so that the
 * sender that takes over sends nobody a second copy.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { CAMPAIGN, Harness, recipients, sharedRedis } from '@volley/sender/test-harness';
import { render } from '../tools/render.ts';
import { deployments, environment, serviceOf, type Container } from '../tools/workloads.ts';

let shared: Awaited<ReturnType<typeof sharedRedis>>;
before(async () => {
  shared = await sharedRedis();
});
after(async () => {
  await shared.stop();
});

const RECIPIENTS = 3000;
/** A slow receiver (each 250 held this long), so that batches are in flight at SIGTERM. */
const REPLY_DELAY_MS = 100;

test("SIGTERM mid-campaign with the production manifest's drain: the sender exits within its grace period, and no recipient gets two messages", async (t) => {
  const objects = render('production');
  const deployment = deployments(objects).find((d) => serviceOf(d) === 'sender');
  assert.ok(deployment, 'production renders a sender Deployment');
  const graceS = deployment.spec.template.spec.terminationGracePeriodSeconds;
  const drain = environment(deployment.spec.template.spec.containers[0] as Container, objects).get(
    'VOLLEY_DRAIN_TIMEOUT',
  );
  assert.ok(graceS !== undefined && drain !== undefined, 'grace period and drain are both set');

  const received = new Map<string, number>();
  const h = new Harness(shared.redis, shared.url);
  await h.start({
    senders: 1,
    env: { VOLLEY_DRAIN_TIMEOUT: drain, VOLLEY_BATCH_SIZE: '20', VOLLEY_EXPAND_WINDOW: '1000' },
    capture: {
      keep: false,
      replyDelayMs: REPLY_DELAY_MS,
      onMessage: (m) => {
        const to = m.to[0] ?? '';
        received.set(to, (received.get(to) ?? 0) + 1);
      },
    },
  });
  try {
    const id = await h.create({ ...CAMPAIGN, recipients: recipients(RECIPIENTS) });
    await h.capture.waitFor(300, 60_000);
    const first = h.senders[0];
    assert.ok(first);
    const atSignal = received.size;
    const t0 = Date.now();
    const code = await first.stop('SIGTERM');
    const exitS = (Date.now() - t0) / 1000;
    const atExit = received.size;
    t.diagnostic(
      `drain ${drain}, grace ${graceS} s: exited in ${exitS.toFixed(1)} s; ` +
        `${atExit - atSignal} messages accepted after SIGTERM, ${atExit} before exit`,
    );
    assert.equal(code, 0, 'a draining sender exits 0');
    assert.ok(exitS < graceS, `exit after ${exitS} s, past the ${graceS} s grace period`);
    assert.ok(atExit > atSignal, 'batches in flight at SIGTERM were finished, not cut');
    assert.ok(
      !first.lines.some((l) => /drain deadline passed/.test(l)),
      'the drain ended by itself, before its deadline',
    );
    // Drained: everything the server accepted is recorded as sent, so nothing is sent again.
    assert.equal((await h.store.get(id))?.counts.sent, atExit);
    assert.ok(atExit < RECIPIENTS, 'the campaign was cut mid-way');

    await h.addSender().waitForLine(/sender started/);
    await h.completed(id, 120_000);
    assert.equal(received.size, RECIPIENTS, 'every recipient received the message');
    const twice = [...received].filter(([, n]) => n > 1).map(([to]) => to);
    assert.deepEqual(twice, [], 'no recipient received two messages');
  } finally {
    await h.stop();
  }
});
