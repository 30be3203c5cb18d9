/**
 * Lua for feedback that arrives after a send: a reported bounce, a complaint, an unsubscribe.
 * Each applies in one atomic script, so a report applied twice (a DSN delivered twice, a
 * one-click POST repeated) changes nothing the second time.
 */
import { EVENTS_LUA, WINDOW_LUA } from './scripts.ts';
import { SUPPRESS_LUA } from './suppression-scripts.ts';

/**
 * Lua function: records a soft bounce of the message `member` in an address's window and
 * answers how many messages to the address soft-bounced since `since`, and whether this one
 * was new there (0: the same message was counted already).
 */
const SOFT_LUA = `
local function countSoft(key, member, now, since, windowMs)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', '(' .. since)
  local added = redis.call('ZADD', key, 'NX', now, member)
  redis.call('PEXPIRE', key, windowMs)
  return redis.call('ZCARD', key), added
end
local SOURCE = {bounced = 'bounce', complained = 'complaint', unsubscribed = 'unsubscribe'}
`;

/**
 * Feedback about one recipient of a campaign. The first report of each kind counts (bounce,
 * complaint, unsubscribe: one bit each in the feedback bitmap; a hard bounce after a soft one
 * adds its own bit, so it still suppresses without counting the recipient twice).
 *
 * A bounce of a recipient that has no final state yet (the server accepted the message but its
 * answer was lost, so the recipient waits for a retry) makes it final there: counted `bounced`,
 * and the retry skips it. A bounce of a recipient already final (normally `sent`) leaves it
 * counted there and counts `lateBounced`; complaints and unsubscribes count `complained` and
 * `unsubscribed` the same way. None of these is part of `total`'s breakdown, so nothing is
 * counted twice and no count goes down.
 *
 * What the report does to the address (suppression, the soft-bounce count) is FEEDBACK_ADDRESS,
 * run by the caller before this one: the tenant's keys are in another slot of a cluster than
 * the campaign's, and that script applied twice changes nothing, so a crash in between is
 * made good by the report's redelivery.
 *
 * KEYS: campaign hash, done bitmap, deferred bitmap, events stream, reasons hash, feedback bitmap,
 *       events hold
 * ARGV: now, campaign id, index, address as stored, kind, reason, detail, hard ('1'/'0'),
 *       source, status, reply code, events cap (0: none)
 * Returns {applied (1, 0 already recorded, -1 no such campaign, or its per-recipient data
 *          removed by retention), late, finalized, window signal (2: the campaign completed now)}.
 */
export const FEEDBACK_RECIPIENT = `${WINDOW_LUA}${EVENTS_LUA}
local now, id, idx = ARGV[1], ARGV[2], tonumber(ARGV[3])
local email, kind, reason, detail = ARGV[4], ARGV[5], ARGV[6], ARGV[7]
local hard = ARGV[8] == '1'
local status = redis.call('HGET', KEYS[1], 'status')
-- Once retention removed the campaign's per-recipient data, a bitmap or stream written here
-- would come back with nothing to remove it again.
if not status or redis.call('HEXISTS', KEYS[1], 'purgedAt') == 1 then return {-1, 0, 0, 0} end
local bits = {bounced = 0, complained = 2, unsubscribed = 3}
local base = idx * 4
local first = redis.call('SETBIT', KEYS[6], base + bits[kind], 1) == 0
local escalated = kind == 'bounced' and hard and redis.call('SETBIT', KEYS[6], base + 1, 1) == 0
if not first and not escalated then return {0, 0, 0, 0} end
local finalized, signal = 0, 0
if first then
  if kind == 'bounced' and (status == 'running' or status == 'paused')
      and redis.call('SETBIT', KEYS[2], idx, 1) == 0 then
    if redis.call('GETBIT', KEYS[3], idx) == 1 then
      redis.call('SETBIT', KEYS[3], idx, 0)
      redis.call('HINCRBY', KEYS[1], 'deferred', -1)
    end
    redis.call('HINCRBY', KEYS[1], 'bounced', 1)
    redis.call('HINCRBY', KEYS[5], 'bounced:' .. reason, 1)
    signal = windowSignal(KEYS[1], now, -1)
    finalized = 1
  else
    local field = kind == 'bounced' and 'lateBounced' or kind
    redis.call('HINCRBY', KEYS[1], field, 1)
    redis.call('HINCRBY', KEYS[5], field .. ':' .. reason, 1)
  end
end
local late = (kind == 'bounced' and finalized == 0) and 1 or 0
local ev = {'i', ARGV[3], 'e', email, 'o', kind, 'r', reason, 'd', detail, 't', now, 's', ARGV[9]}
if kind == 'bounced' then
  for _, f in ipairs({'x', ARGV[10], 'y', ARGV[11], 'h', hard and '1' or '0', 'l', tostring(late)}) do
    ev[#ev + 1] = f
  end
end
addEvent(KEYS[4], unpack(ev))
capEvents(KEYS[4], KEYS[7], ARGV[12])
return {1, late, finalized, signal}
`;

/**
 * Feedback about an address of a tenant: its suppression (and, for a soft bounce, its count;
 * `ref` names the message so a report applied twice counts once). Alone for feedback outside
 * any campaign; before FEEDBACK_RECIPIENT for a campaign's recipient.
 * KEYS: suppression set, log, info, soft-bounce set
 * ARGV: now, address (lower-cased), kind, reason, detail, hard ('1'/'0'), ref, soft limit,
 *       window start, window ms, detail of a suppression by the soft limit, campaign id ('' none)
 * Returns {applied, suppressed now, 0, 0, soft bounces in the window}.
 */
export const FEEDBACK_ADDRESS = `${SUPPRESS_LUA}${SOFT_LUA}
local now, email, kind, reason, detail = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
if kind ~= 'bounced' or ARGV[6] == '1' then
  local sup = suppress(KEYS[1], KEYS[2], KEYS[3], email, now, entry(SOURCE[kind], reason, ARGV[12], detail))
  return {sup, sup, 0, 0, 0}
end
local soft, added = countSoft(KEYS[4], ARGV[7], now, ARGV[9], tonumber(ARGV[10]))
local sup = 0
if added == 1 and tonumber(ARGV[8]) > 0 and soft >= tonumber(ARGV[8]) then
  sup = suppress(KEYS[1], KEYS[2], KEYS[3], email, now, entry('bounce', reason, ARGV[12], ARGV[11]))
end
return {added, sup, 0, 0, soft}
`;
