/**
 * Lua scripts: each is one round trip and atomic, so counters can never disagree with the
 * per-recipient bitmaps even when BullMQ runs a job twice.
 */
import { DESTINATIONS_LUA } from './destinations.ts';

/**
 * Lua function `windowSignal`: after final outcomes were counted, completes a running campaign
 * whose every recipient has one, or says that the window has room (fewer than `lowWater`
 * recipients in flight). Returns signal (0 nothing, 1 refill, 2 completed now) and the cursor.
 * `windowSignalOf` decides from the fields `windowFields` read, which a script that read them
 * first and kept them up to date with its own changes passes instead of reading again. The caller
 * takes a completed campaign out of the running set (another slot of a cluster; a crash in
 * between leaves it to the sweep, which drops finished campaigns from the set).
 */
export const WINDOW_LUA = `
local function windowFields(campaign)
  return redis.call('HMGET', campaign, 'total', 'cursor', 'sent', 'bounced', 'suppressed', 'failed', 'deferred', 'status')
end
local function windowSignalOf(campaign, h, now, lowWater)
  local total = tonumber(h[1]) or 0
  local cursor = tonumber(h[2]) or 0
  local final = (tonumber(h[3]) or 0) + (tonumber(h[4]) or 0) + (tonumber(h[5]) or 0) + (tonumber(h[6]) or 0)
  local deferred = tonumber(h[7]) or 0
  if final >= total and h[8] == 'running' then
    redis.call('HSET', campaign, 'status', 'completed', 'completedAt', now)
    return 2, cursor
  elseif cursor < total and (cursor - final - deferred) <= lowWater then
    return 1, cursor
  end
  return 0, cursor
end
local function windowSignal(campaign, now, lowWater)
  return windowSignalOf(campaign, windowFields(campaign), now, lowWater)
end
`;

/**
 * How many times its cap a stream may hold while a collector has not read its oldest events:
 * past it they go all the same (a collector that stopped must not let Redis fill up), counted.
 */
const EVENTS_UNREAD_FACTOR = 2;

/**
 * Lua functions: `addEvent` appends an event to a campaign's stream; `capEvents`, once after a
 * script's appends, keeps the stream at `cap` entries (the newest) unless `cap` is '0'. Exact,
 * not `~`: with `~` a stream stays up to a node (100 entries) over its cap.
 *
 * While a collector holds the stream (its hold, `Keys.eventHold`, is renewed every round and
 * names the last event it consumed), the oldest events go only once it has read them: webhooks
 * and feedback metrics come from them. Up to EVENTS_UNREAD_FACTOR times the cap; past that, and
 * when the hold lapsed (the collector stopped), the oldest go unread, and the hold counts them
 * (`l`) for the collector to report. A stream no collector ever held is only capped. The
 * consumed entries are the oldest ones (ids up to the position), so XRANGE to it, with COUNT,
 * reads only what is removed next: in the steady state one entry an append.
 */
export const EVENTS_LUA = `
local function addEvent(stream, ...)
  return redis.call('XADD', stream, '*', ...)
end
local function capEvents(stream, hold, cap)
  local n = tonumber(cap)
  if n == 0 then return end
  local len = redis.call('XLEN', stream)
  if len <= n then return end
  local h = redis.call('HMGET', hold, 'p', 'u')
  if not h[1] then
    redis.call('XTRIM', stream, 'MAXLEN', n)
    return
  end
  local read = #redis.call('XRANGE', stream, '-', h[1], 'COUNT', len - n)
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  local keep = n
  if (tonumber(h[2]) or 0) > now then keep = math.min(len - read, n * ${EVENTS_UNREAD_FACTOR}) end
  if keep < len then redis.call('XTRIM', stream, 'MAXLEN', keep) end
  if len - keep > read then redis.call('HINCRBY', hold, 'l', len - keep - read) end
end
`;

/**
 * Renews the collector's hold on a stream (see EVENTS_LUA) at the last event it consumed, for
 * `lease` ms of Redis time, and answers the events the cap removed unread since it last asked
 * (taking them off). A stream that does not exist (not started, or removed by retention) gets
 * no hold, so a collector that watches longer than the retention leaves nothing behind.
 * KEYS: hold, events stream
 * ARGV: position ('0-0' before the first event), lease ms
 */
export const HOLD_EVENTS = `
local lost = tonumber(redis.call('HGET', KEYS[1], 'l') or '0')
if redis.call('EXISTS', KEYS[2]) == 0 then
  redis.call('DEL', KEYS[1])
  return lost
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('HSET', KEYS[1], 'p', ARGV[1], 'u', now + tonumber(ARGV[2]))
if lost > 0 then redis.call('HDEL', KEYS[1], 'l') end
return lost
`;

/**
 * Records final outcomes for several recipients of one campaign, each exactly once, in one
 * round trip: a sender batches the outcomes of a few milliseconds (see Recorder). Addresses to
 * suppress are suppressed by the caller before this runs (the tenant's list is in another slot
 * of a cluster; suppressing first and again is harmless, recording twice is not).
 * KEYS: campaign hash, done bitmap, deferred bitmap, events stream, reasons hash, pace hash,
 *       claimed bitmap, destinations (backlog per domain, see destinations.ts), events hold
 * Once the campaign is cancelled, only claimed recipients (in flight at the cancel) are recorded.
 * ARGV: now, lowWater, campaign id, events cap (0: none), then per recipient: index, outcome,
 *       email, reason, detail
 * Returns {signal, cursor, recorded1, recorded2, ...}: signal 0 nothing, 1 refill the window,
 * 2 completed by this call; recordedN is 1 when entry N was recorded now, 0 when it already was.
 */
export const FINALIZE = `${WINDOW_LUA}${EVENTS_LUA}${DESTINATIONS_LUA}
local now = ARGV[1]
local out = {0, 0}
local byOutcome, byReason, byDest = {}, {}, {}
local n, wasDeferred = 0, 0
-- Read once: the status now, and the counts the window signal needs after this call's.
local h = windowFields(KEYS[1])
local cancelled = h[8] == 'cancelled'
-- The deferred count is the deferred bitmap's population (DEFER, this script and the feedback
-- script change both together): at 0 no recipient has a bit to clear, and the usual campaign,
-- with nothing waiting for a retry, saves a GETBIT per recipient.
local anyDeferred = (tonumber(h[7]) or 0) > 0
for k = 5, #ARGV, 5 do
  local idx = tonumber(ARGV[k])
  if cancelled and redis.call('GETBIT', KEYS[7], idx) == 0 then
    -- Counted as cancelled when the cancel came: a sender with a stale status must not move it.
    out[#out + 1] = 0
  elseif redis.call('SETBIT', KEYS[2], idx, 1) == 1 then
    out[#out + 1] = 0
  else
    out[#out + 1] = 1
    n = n + 1
    if anyDeferred and redis.call('GETBIT', KEYS[3], idx) == 1 then
      redis.call('SETBIT', KEYS[3], idx, 0)
      wasDeferred = wasDeferred + 1
    end
    local o, r = ARGV[k + 1], ARGV[k + 3]
    byOutcome[o] = (byOutcome[o] or 0) + 1
    local why = o .. ':' .. r
    byReason[why] = (byReason[why] or 0) + 1
    local d = domainOf(ARGV[k + 2])
    byDest[d] = (byDest[d] or 0) + 1
    addEvent(KEYS[4], 'i', ARGV[k], 'e', ARGV[k + 2], 'o', o, 'r', r, 'd', ARGV[k + 4], 't', now)
  end
end
if n == 0 then return out end
capEvents(KEYS[4], KEYS[9], ARGV[4])
countDomains(KEYS[8], byDest, -1)
local at = {sent = 3, bounced = 4, suppressed = 5, failed = 6, deferred = 7}
local function add(field, c)
  redis.call('HINCRBY', KEYS[1], field, c)
  local p = at[field]
  if p then h[p] = (tonumber(h[p]) or 0) + c end
end
for o, c in pairs(byOutcome) do add(o, c) end
if wasDeferred > 0 then add('deferred', -wasDeferred) end
for why, c in pairs(byReason) do redis.call('HINCRBY', KEYS[5], why, c) end
local sec = math.floor(tonumber(now) / 1000)
local slot = sec % 64
if tonumber(redis.call('HGET', KEYS[6], 's' .. slot) or '-1') == sec then
  redis.call('HINCRBY', KEYS[6], 'n' .. slot, n)
else
  redis.call('HSET', KEYS[6], 's' .. slot, sec, 'n' .. slot, n)
end
out[1], out[2] = windowSignalOf(KEYS[1], h, now, tonumber(ARGV[2]))
return out
`;

/**
 * Marks a recipient as waiting for a retry (once per wait) and records the event. A deferred
 * recipient is no longer in flight: its claim is dropped, and if the campaign was cancelled
 * while it was, it counts as cancelled, since it will never be retried.
 * KEYS: campaign hash, done bitmap, deferred bitmap, events stream, claimed bitmap, events hold
 * ARGV: index, email, reason, detail, now, lowWater, events cap (0: none)
 * Returns {recorded, signal, cursor} like FINALIZE (deferral frees a window place).
 */
export const DEFER = `${EVENTS_LUA}
local idx = tonumber(ARGV[1])
if redis.call('GETBIT', KEYS[2], idx) == 1 then return {0, 0, 0} end
local claimed = redis.call('SETBIT', KEYS[5], idx, 0)
if redis.call('HGET', KEYS[1], 'status') == 'cancelled' then
  if claimed == 1 then redis.call('HINCRBY', KEYS[1], 'cancelled', 1) end
  return {0, 0, 0}
end
if redis.call('GETBIT', KEYS[3], idx) == 0 then
  redis.call('SETBIT', KEYS[3], idx, 1)
  redis.call('HINCRBY', KEYS[1], 'deferred', 1)
end
addEvent(KEYS[4], 'i', ARGV[1], 'e', ARGV[2], 'o', 'deferred', 'r', ARGV[3], 'd', ARGV[4], 't', ARGV[5])
capEvents(KEYS[4], KEYS[6], ARGV[7])
local h = redis.call('HMGET', KEYS[1], 'total', 'cursor', 'sent', 'bounced', 'suppressed', 'failed', 'deferred')
local total = tonumber(h[1]) or 0
local cursor = tonumber(h[2]) or 0
local final = (tonumber(h[3]) or 0) + (tonumber(h[4]) or 0) + (tonumber(h[5]) or 0) + (tonumber(h[6]) or 0)
local deferred = tonumber(h[7]) or 0
if cursor < total and (cursor - final - deferred) <= tonumber(ARGV[6]) then return {1, 1, cursor} end
return {1, 0, cursor}
`;

/**
 * Creates a campaign unless it exists: a create run again under the same id (a retried
 * Idempotency-Key) changes nothing of a campaign that may have started since. The caller has
 * put the id in the tenant's campaign index first (another slot of a cluster), so a listed id
 * may lack its campaign for a moment, never the other way round.
 * KEYS: campaign hash   ARGV: field, value, ...
 * Returns 1 when created now, 0 when it existed.
 */
export const CREATE = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV))
return 1
`;

/**
 * Freezes the recipient set and moves a draft or scheduled campaign to running, unless an
 * upload is still adding recipients (its rows, or its rollback, would change a frozen list).
 * The caller has added the id to the running set first (another slot of a cluster): a sweep
 * never misses a running campaign, and skips a listed one that did not start.
 * KEYS: campaign hash, recipients list, seen set, upload lock
 * ARGV: now
 * Returns {started (1/0), total, status}; status `uploading` when an upload holds the lock.
 */
export const START = `
local status = redis.call('HGET', KEYS[1], 'status')
if status ~= 'draft' and status ~= 'scheduled' then return {0, 0, status or ''} end
if redis.call('EXISTS', KEYS[4]) == 1 then return {0, 0, 'uploading'} end
local total = redis.call('LLEN', KEYS[2])
redis.call('HSET', KEYS[1], 'status', 'running', 'total', total, 'cursor', 0, 'startedAt', ARGV[1])
redis.call('DEL', KEYS[3])
if total == 0 then
  redis.call('HSET', KEYS[1], 'status', 'completed', 'completedAt', ARGV[1])
  return {1, 0, 'completed'}
end
return {1, total, 'running'}
`;

/**
 * Advances the expansion cursor if nobody else did (compare and set).
 * KEYS: campaign hash   ARGV: expected cursor, new cursor
 */
export const ADVANCE = `
local cur = tonumber(redis.call('HGET', KEYS[1], 'cursor') or '-1')
if cur ~= tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'cursor', ARGV[2])
return 1
`;

/**
 * Appends recipients to a draft, skipping addresses already present (case-insensitive domain,
 * as normalized by the caller) or given twice in the call (the first one is kept).
 * KEYS: campaign hash, recipients list, seen set, destinations (backlog per domain)
 * ARGV: the deduplication keys, one a line; the recipients' JSON, one a line, in the same order
 * (neither holds a line break: keys are normalized addresses, JSON is one line by construction).
 * Two arguments rather than two a recipient: each argument costs the caller and Redis more to
 * encode and decode than splitting it here. One SMISMEMBER, one SADD and one RPUSH a call (at
 * most STEP arguments each: unpack is bounded by the Lua stack) rather than two commands a row.
 * Returns {added, duplicates} or an error when the campaign no longer takes recipients.
 */
export const ADD_RECIPIENTS = `${DESTINATIONS_LUA}
local status = redis.call('HGET', KEYS[1], 'status')
if status ~= 'draft' and status ~= 'scheduled' then return redis.error_reply('NOT_DRAFT ' .. tostring(status)) end
local keys, rows = {}, {}
local n, m = 0, 0
for k in string.gmatch(ARGV[1], '[^\\n]+') do n = n + 1; keys[n] = k end
for r in string.gmatch(ARGV[2], '[^\\n]+') do m = m + 1; rows[m] = r end
if n ~= m then return redis.error_reply('BAD_BATCH ' .. n .. ' keys for ' .. m .. ' rows') end
local STEP = 1000
local fresh, out, taken, byDest = {}, {}, {}, {}
local dup = 0
for j = 1, n, STEP do
  local last = math.min(n, j + STEP - 1)
  local present = redis.call('SMISMEMBER', KEYS[3], unpack(keys, j, last))
  for i = j, last do
    local k = keys[i]
    if present[i - j + 1] == 1 or taken[k] then
      dup = dup + 1
    else
      taken[k] = true
      fresh[#fresh + 1] = k
      local d = domainOf(k)
      byDest[d] = (byDest[d] or 0) + 1
      out[#out + 1] = rows[i]
    end
  end
end
for j = 1, #fresh, STEP do
  local last = math.min(#fresh, j + STEP - 1)
  redis.call('SADD', KEYS[3], unpack(fresh, j, last))
  redis.call('RPUSH', KEYS[2], unpack(out, j, last))
end
countDomains(KEYS[4], byDest, 1)
return {#fresh, dup}
`;

/**
 * Moves a campaign between lifecycle states if it is in one of the allowed ones. A cancel counts
 * its cancelled recipients here, atomically with the status every claim checks: those neither
 * done nor claimed by a sender. Claimed ones are in flight and end as whatever SMTP answers.
 * A cancel is published on the cancels channel from the script: Redis writes it to the
 * subscribed senders before its reply to the caller, so a sender has it before the API answers.
 * The caller takes a cancelled campaign out of the running set (another slot of a cluster).
 * KEYS: campaign hash, recipients list, done bitmap, claimed bitmap, scratch key
 * ARGV: allowed (comma-separated), target, now, field to stamp with now, cancels channel,
 * campaign id
 * Returns {changed (1/0), status before}.
 */
export const TRANSITION = `
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return {0, ''} end
local allowed = ',' .. ARGV[1] .. ','
if not string.find(allowed, ',' .. status .. ',', 1, true) then return {0, status} end
redis.call('HSET', KEYS[1], 'status', ARGV[2], ARGV[4], ARGV[3])
if ARGV[2] == 'cancelled' then
  local total = tonumber(redis.call('HGET', KEYS[1], 'total') or '0')
  if status == 'draft' or status == 'scheduled' then
    -- The list was never frozen by a start: freeze it now, so the counts add up.
    total = redis.call('LLEN', KEYS[2])
    redis.call('HSET', KEYS[1], 'total', total)
  end
  redis.call('BITOP', 'OR', KEYS[5], KEYS[3], KEYS[4])
  local touched = redis.call('BITCOUNT', KEYS[5])
  redis.call('DEL', KEYS[5])
  redis.call('HSET', KEYS[1], 'cancelled', math.max(0, total - touched))
  redis.call('PUBLISH', ARGV[5], ARGV[6])
end
return {1, status}
`;

/**
 * Claims recipients before their messages are handed to SMTP, unless the campaign is
 * cancelled. Cancelled: claims this caller still holds on them (recipients waiting for a
 * connection, say) are turned into cancelled ones, since they will never be sent.
 * KEYS: campaign hash, done bitmap, claimed bitmap   ARGV: recipient indices
 * Returns 1 when claimed, 0 when the campaign is cancelled.
 * The claims are set by one BITFIELD a chunk rather than a SETBIT each: a command per batch
 * instead of one per recipient (bench: 5.0 Redis commands per recipient with SETBIT, where
 * the run before claims existed counted 4.0 to 4.1). A chunk's arguments stay well under
 * what Lua's unpack takes.
 */
export const CLAIM = `
if redis.call('HGET', KEYS[1], 'status') ~= 'cancelled' then
  local ops = {}
  for i = 1, #ARGV do
    local n = #ops
    ops[n + 1], ops[n + 2], ops[n + 3], ops[n + 4] = 'SET', 'u1', ARGV[i], 1
    if #ops >= 4000 then
      redis.call('BITFIELD', KEYS[3], unpack(ops))
      ops = {}
    end
  end
  if #ops > 0 then redis.call('BITFIELD', KEYS[3], unpack(ops)) end
  return 1
end
local n = 0
for i = 1, #ARGV do
  local idx = tonumber(ARGV[i])
  if redis.call('GETBIT', KEYS[2], idx) == 0 and redis.call('SETBIT', KEYS[3], idx, 0) == 1 then
    n = n + 1
  end
end
if n > 0 then redis.call('HINCRBY', KEYS[1], 'cancelled', n) end
return 0
`;

/**
 * Parks a send job of a paused campaign, atomically with the status check, so a resume that
 * runs at the same moment either sees the job in the set or the job sees "running".
 * KEYS: campaign hash, parked set   ARGV: job id
 * Returns the status; the job was parked when it is "paused".
 */
export const PARK = `
local status = redis.call('HGET', KEYS[1], 'status')
if status == 'paused' then redis.call('SADD', KEYS[2], ARGV[1]) end
return status or ''
`;
