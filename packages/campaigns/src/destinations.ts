/**
 * A campaign's backlog per destination: for each recipient domain, how many of its recipients
 * have no final outcome yet. Kept by the scripts that add recipients and record outcomes (a
 * sorted set, one member a domain), so the ETA can read the largest backlogs in one command
 * instead of counting the list.
 */
import type { RedisClient } from '@volley/redis';
import type { Keys } from '@volley/contracts';
import { domainOf } from '@volley/message';

/**
 * Lua: `domainOf(address)`, the part after the last "@" (as the senders batch and shape by it;
 * stored addresses are normalized, their domain lower-case already: lowering it here again
 * cost a third of the upload's Redis CPU per row), and `countDomains(key, counts, sign)`, which moves each domain's backlog by
 * `sign × count` and drops a domain once nothing of it is left (so the set of a campaign whose
 * every outcome came from a sender is empty, and Redis deletes it; a cancelled campaign's is
 * left to retention). One command per distinct domain of a call.
 */
export const DESTINATIONS_LUA = `
local function domainOf(address)
  return string.match(address, '@([^@]*)$') or ''
end
local function countDomains(key, counts, sign)
  for d, c in pairs(counts) do
    if tonumber(redis.call('ZINCRBY', key, sign * c, d)) <= 0 then redis.call('ZREM', key, d) end
  end
end
`;

/** A destination's recipients still to reach a final outcome. */
export interface DomainBacklog {
  domain: string;
  remaining: number;
}

/** The `limit` recipient domains with the most recipients left, most first. */
export async function largestBacklogs(
  redis: RedisClient,
  keys: Keys,
  id: string,
  limit: number,
): Promise<DomainBacklog[]> {
  const flat = await redis.zrevrange(keys.destinations(id), 0, limit - 1, 'WITHSCORES');
  const out: DomainBacklog[] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) {
    out.push({ domain: flat[i] as string, remaining: Number(flat[i + 1]) });
  }
  return out;
}

/**
 * Forgets recipients an aborted upload added (their lower-cased addresses): out of the
 * deduplication set and off the backlog, in one round trip.
 */
export async function forgetRecipients(
  redis: RedisClient,
  keys: Keys,
  id: string,
  emails: readonly string[],
): Promise<void> {
  const counts = new Map<string, number>();
  for (const e of emails) {
    const d = domainOf(e);
    counts.set(d, (counts.get(d) ?? 0) + 1);
  }
  if (counts.size === 0) return;
  const key = keys.destinations(id);
  const pipe = redis.pipeline().srem(keys.seen(id), ...emails);
  for (const [d, c] of counts) pipe.zincrby(key, -c, d);
  pipe.zremrangebyscore(key, '-inf', 0);
  await pipe.exec();
}
