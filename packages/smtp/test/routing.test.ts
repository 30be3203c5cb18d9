import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseRelays } from '@volley/config';
import { startCaptureServer, type CaptureServer } from '@volley/testkit';
import {
  RouteTable,
  createTransport,
  type RoutedDestination,
  type SlotLease,
} from '../src/index.ts';

let sink: CaptureServer;
before(async () => {
  // Each 250 held a little: a backlog of the shared pool takes a while to drain.
  sink = await startCaptureServer({ keep: true, replyDelayMs: 20 });
});
after(async () => {
  await sink.close();
});

function message(to: string): { envelope: { from: string; to: string }; raw: string } {
  return {
    envelope: { from: 'news@sender.example', to },
    raw: `From: news@sender.example\r\nTo: ${to}\r\nSubject: hi\r\n\r\nbody\r\n`,
  };
}

const dest = (key: string, rule: RoutedDestination['rule']): RoutedDestination => ({ key, rule });

describe('routes of shaping destinations', () => {
  test('unlimited destinations share connections; a rate or a cap gets connections of its own, leases only with a cap', async () => {
    const asked: RoutedDestination[] = [];
    const lease: SlotLease = { release() {} };
    const table = new RouteTable<RoutedDestination>((d) => {
      asked.push(d);
      return Promise.resolve(lease);
    });
    assert.equal(table.routeFor(dest('default:free.example', {})), undefined);

    const paced = table.routeFor(dest('domain:paced.example', { ratePerSec: 20 }));
    assert.ok(paced);
    assert.equal(paced.acquireSlot, undefined, 'a rate alone takes no lease');
    assert.equal(table.routeFor(dest('domain:paced.example', { ratePerSec: 20 })), paced);

    const capped = table.routeFor(
      dest('provider:big', { ratePerSec: 50, connections: 2, messagesPerConnection: 25 }),
    );
    assert.ok(capped?.acquireSlot);
    assert.equal(capped.maxMessagesPerConnection, 25);
    // Slots are asked for with the limits the destination was last routed with.
    const raised = dest('provider:big', {
      ratePerSec: 50,
      connections: 4,
      messagesPerConnection: 25,
    });
    assert.equal(table.routeFor(raised), capped);
    assert.equal(await capped.acquireSlot(), lease);
    assert.deepEqual(asked, [raised]);
  });

  test('a cap added by a policy change gets a new pool that takes leases; a changed message limit a new route', () => {
    const table = new RouteTable<RoutedDestination>(() => Promise.resolve(undefined));
    const before = table.routeFor(dest('domain:x.example', { ratePerSec: 10 }));
    const after = table.routeFor(dest('domain:x.example', { ratePerSec: 10, connections: 1 }));
    assert.ok(before && after?.acquireSlot);
    assert.notEqual(before.key, after.key, 'the uncapped pool is not reused for the capped route');
    const limited = table.routeFor(
      dest('domain:x.example', { ratePerSec: 10, connections: 1, messagesPerConnection: 5 }),
    );
    assert.ok(limited && limited !== after);
    assert.equal(limited.maxMessagesPerConnection, 5);
  });

  test("a rate-limited destination's message does not wait behind the shared pool's backlog", async () => {
    const problems: string[] = [];
    const relays = parseRelays(`smtp://127.0.0.1:${sink.port}`, problems);
    assert.deepEqual(problems, []);
    const transport = createTransport({ delivery: 'relay', relays, mxPort: 25, poolSize: 2 });
    const table = new RouteTable<RoutedDestination>(() => Promise.resolve(undefined));
    const route = table.routeFor(dest('domain:paced.example', { ratePerSec: 20 }));
    try {
      const arrivedBefore = async (r: typeof route): Promise<number> => {
        const start = sink.messages.length;
        const backlog = Array.from({ length: 60 }, (_, i) =>
          transport.send(message(`u${i}@free.example`), 'free.example'),
        );
        const res = await transport.send(message('one@paced.example'), 'paced.example', r);
        assert.equal(res.disposition, 'delivered');
        const at = sink.messages.findIndex((m, k) => k >= start && m.to[0] === 'one@paced.example');
        await Promise.all(backlog);
        return at - start;
      };
      // Without its route the message queues behind all 60 (two connections, FIFO); with it,
      // it goes out on a connection of its own while the backlog drains.
      assert.equal(await arrivedBefore(undefined), 60);
      const withRoute = await arrivedBefore(route);
      assert.ok(withRoute < 30, `${withRoute} of the 60 arrived before it`);
    } finally {
      transport.close();
    }
  });
});
