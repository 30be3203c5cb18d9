import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Shaper, parsePolicy } from '@volley/shaping';
import { apiFixture, auth, type ApiFixture } from './fixture.ts';

const POLICY = [
  'version: 1',
  'defaults: { rate: unlimited }',
  'domains:',
  '  slow.example: { rate: 20/s, burst: 5, connections: 2 }',
  'adaptive:',
  "  - { name: later, match: { code: 4xx, text: 'try again later' }, threshold: 2, action: suspend, duration: 10m }",
  '',
].join('\n');

let fx: ApiFixture;
let shaper: Shaper;

before(async () => {
  fx = await apiFixture({}, (redis, keys) => {
    shaper = new Shaper({ redis, prefix: keys.prefix, policy: parsePolicy(POLICY, 'policy.yaml') });
    return { shaper };
  });
});
after(async () => {
  await shaper.close();
  await fx.close();
});

test('GET /v1/shaping shows current limits and suspended destinations', async () => {
  const plan = shaper.plan('busy.example');
  for (let i = 0; i < 2; i++)
    await shaper.observe(plan, { code: 421, text: '4.7.0 try again later' });
  const res = await fx.app.inject({ url: '/v1/shaping', headers: auth });
  assert.equal(res.statusCode, 200);
  const body = res.json<{
    enabled: boolean;
    destinations: {
      key: string;
      ratePerSec?: number;
      connections?: number;
      suspensions: unknown[];
    }[];
  }>();
  assert.equal(body.enabled, true);
  const slow = body.destinations.find((d) => d.key === 'domain:slow.example');
  assert.equal(slow?.ratePerSec, 20);
  assert.equal(slow?.connections, 2);
  const busy = body.destinations.find((d) => d.key === 'default:busy.example');
  assert.equal(busy?.suspensions.length, 1, JSON.stringify(body.destinations));
});
