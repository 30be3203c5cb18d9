import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { loadSenderConfig } from '@volley/config';
import { base, problems } from './helpers.ts';

const SEEDS = 'redis://10.0.0.1:7000, redis://10.0.0.2:7000,redis://10.0.0.3:7000';

describe('REDIS_URL and VOLLEY_REDIS_CLUSTER', () => {
  test('one URL is one Redis; comma-separated seeds with VOLLEY_REDIS_CLUSTER=true are a cluster', () => {
    const one = loadSenderConfig(base);
    assert.deepEqual([one.redisUrl, one.redisCluster], [base.REDIS_URL, false]);
    const c = loadSenderConfig({ ...base, REDIS_URL: SEEDS, VOLLEY_REDIS_CLUSTER: 'true' });
    assert.deepEqual([c.redisUrl, c.redisCluster], [SEEDS, true]);
    // A single seed is enough for the client to discover the others.
    const seed = loadSenderConfig({ ...base, VOLLEY_REDIS_CLUSTER: 'true' });
    assert.equal(seed.redisCluster, true);
  });

  test('several URLs without the flag are refused, saying what the flag is for', () => {
    const p = problems(() => loadSenderConfig({ ...base, REDIS_URL: SEEDS }));
    assert.equal(p.length, 1);
    assert.match(p[0] ?? '', /^REDIS_URL lists 3 servers: .*VOLLEY_REDIS_CLUSTER=true/);
  });

  test('a bad flag, an empty entry, a database number in a cluster, mixed TLS and a bad scheme are each named', () => {
    const flag = problems(() => loadSenderConfig({ ...base, VOLLEY_REDIS_CLUSTER: 'yes' }));
    assert.deepEqual(flag, [
      'VOLLEY_REDIS_CLUSTER="yes" must be true (REDIS_URL names a Redis Cluster\'s seed nodes) or false',
    ]);
    const empty = problems(() =>
      loadSenderConfig({
        ...base,
        REDIS_URL: 'redis://a:1,,redis://b:1',
        VOLLEY_REDIS_CLUSTER: 'true',
      }),
    );
    assert.match(empty[0] ?? '', /has an empty entry/);
    const db = problems(() =>
      loadSenderConfig({
        ...base,
        REDIS_URL: 'redis://a:1/2,redis://b:1',
        VOLLEY_REDIS_CLUSTER: 'true',
      }),
    );
    assert.match(db[0] ?? '', /names database 2, but a Redis Cluster has only database 0/);
    const tls = problems(() =>
      loadSenderConfig({
        ...base,
        REDIS_URL: 'rediss://a:1,redis://b:1',
        VOLLEY_REDIS_CLUSTER: 'true',
      }),
    );
    assert.match(tls[0] ?? '', /mixes redis:\/\/ and rediss:\/\//);
    const scheme = problems(() =>
      loadSenderConfig({
        ...base,
        REDIS_URL: 'redis://a:1,http://b:1',
        VOLLEY_REDIS_CLUSTER: 'true',
      }),
    );
    assert.deepEqual(scheme, ['REDIS_URL="http://b:1" must start with redis:// or rediss://']);
  });

  test('a password in a seed never shows in a problem', () => {
    const p = problems(() =>
      loadSenderConfig({ ...base, REDIS_URL: 'redis://u:s3cret@a:1/4,redis://u:s3cret@b:1' }),
    );
    assert.ok(p.length > 0);
    assert.ok(
      p.every((x) => !x.includes('s3cret')),
      p.join('\n'),
    );
  });
});
