import assert from 'node:assert/strict';
import { ConfigError } from '@volley/config';

/** The least environment every service accepts. */
export const base = {
  REDIS_URL: 'redis://127.0.0.1:6379',
  VOLLEY_API_KEY: 'a-long-enough-key-123',
};

/** The problems a load reports; fails the test when it loads without one. */
export function problems(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err.problems;
  }
  assert.fail('expected a ConfigError');
}
