import { readFileSync } from 'node:fs';
import { parsePolicy } from './policy-parse.ts';
import type { Policy } from './policy.ts';

/** Where the default policy lives: copy it as the starting point of your own. */
const DEFAULT_POLICY_PATH = new URL('./default-policy.yaml', import.meta.url);

/**
 * The documented starting policy for the large providers (Google, Microsoft, Yahoo/AOL,
 * Apple iCloud, ...), read when called (never at import time).
 */
export function defaultPolicy(): Policy {
  return parsePolicy(readFileSync(DEFAULT_POLICY_PATH, 'utf8'), 'default-policy.yaml');
}
