/**
 * Lua scripts: each is one round trip and atomic, so counters can never disagree with the
 * per-recipient bitmaps even when BullMQ runs a job twice.
 */
import { SUPPRESS_LUA } from './suppression-scripts.ts';

/**
 * Lua function: after final outcomes were counted, completes a running campaign whose every
 * recipient has one, or says that the window has room (fewer than `lowWater` recipients in
 * flight). Returns signal (0 nothing, 1 refill, 2 completed now) and the cursor.
 */
export const WINDOW_LUA = `
local function windowSignal(campaign, running, finished, id, now, lowWater)
  local h = redis.call('HMGET', campaign, 'total', 'cursor', 'sent', 'bounced', 'suppressed', 'failed', 'deferred', 'status')
  local total = tonumber(h[1]) or 0
  local cursor = tonumber(h[2]) or 0
  local final = (tonumber(h[3]) or 0) + (tonumber(h[4]) or 0) + (tonumber(h[5]) or 0) + (tonumber(h[6]) or 0)
  local deferred = tonumber(h[7]) or 0
  if final >= total and h[8] == 'running' then
    redis.call('HSET', campaign, 'status', 'completed', 'completedAt', now)
    redis.call('SREM', running, id)
    redis.call('ZADD', finished, now, id)
    return 2, cursor
  elseif cursor < total and (cursor - final - deferred) <= lowWater then
    return 1, cursor
  end
  return 0, cursor
end
`;

/**
 * Lua function: appends an event to a campaign's stream, capped at about `cap` entries (the
 * oldest go; `~` lets Redis trim whole nodes, which costs next to nothing) unless `cap` is '0'.
 */
export const EVENTS_LUA = `
local function addEvent(stream, cap, ...)
  if cap ~= '0' then return redis.call('XADD', stream, 'MAXLEN', '~', cap, '*', ...) end
  return redis.call('XADD', stream, '*', ...)
end
`;

/**
 * Records final outcomes for several recipients of one campaign, each exactly once, in one
 * round trip: a sender batches the outcomes of a few milliseconds (see Recorder).
 * KEYS: campaign hash, done bitmap, deferred bitmap, events stream, suppression set, running set,
 *       reasons hash, pace hash, suppression log, suppression info, claimed bitmap, finished set
 * Once the campaign is cancelled, only claimed recipients (in flight at the cancel) are recorded.
 * ARGV: now, lowWater, campaign id, events cap (0: none), then per recipient: index, outcome,
 *       email, reason, detail,
 *       suppress ('1'/'0')
 * Returns {signal, cursor, recorded1, recorded2, ...}: signal 0 nothing, 1 refill the window,
 * 2 completed by this call; recordedN is 1 when entry N was recorded now, 0 when it already was.
 */
export const FINALIZE = `${SUPPRESS_LUA}${WINDOW_LUA}${EVENTS_LUA}
local now = ARGV[1]
local out = {0, 0}
local byOutcome, byReason = {}, {}
local n, wasDeferred = 0, 0
local cancelled = redis.call('HGET', KEYS[1], 'status') == 'cancelled'
for k = 5, #ARGV, 6 do
  local idx = tonumber(ARGV[k])
  if cancelled and redis.call('GETBIT', KEYS[11], idx) == 0 then
    -- Counted as cancelled when the cancel came: a sender with a stale status must not move it.
    out[#out + 1] = 0
  elseif redis.call('SETBIT', KEYS[2], idx, 1) == 1 then
    out[#out + 1] = 0
  else
    out[#out + 1] = 1
    n = n + 1
    if redis.call('GETBIT', KEYS[3], idx) == 1 then
      redis.call('SETBIT', KEYS[3], idx, 0)
      wasDeferred = wasDeferred + 1
    end
    local o, r = ARGV[k + 1], ARGV[k + 3]
    byOutcome[o] = (byOutcome[o] or 0) + 1
    local why = o .. ':' .. r
    byReason[why] = (byReason[why] or 0) + 1
    addEvent(KEYS[4], ARGV[4], 'i', ARGV[k], 'e', ARGV[k + 2], 'o', o, 'r', r, 'd', ARGV[k + 4], 't', now)
    if ARGV[k + 5] == '1' then
      suppress(KEYS[5], KEYS[9], KEYS[10], string.lower(ARGV[k + 2]), now, entry('bounce', r, ARGV[3], ARGV[k + 4]))
    end
  end
end
if n == 0 then return out end
for o, c in pairs(byOutcome) do redis.call('HINCRBY', KEYS[1], o, c) end
if wasDeferred > 0 then redis.call('HINCRBY', KEYS[1], 'deferred', -wasDeferred) end
for why, c in pairs(byReason) do redis.call('HINCRBY', KEYS[7], why, c) end
local sec = math.floor(tonumber(now) / 1000)
local slot = sec % 64
if tonumber(redis.call('HGET', KEYS[8], 's' .. slot) or '-1') == sec then
  redis.call('HINCRBY', KEYS[8], 'n' .. slot, n)
else
  redis.call('HSET', KEYS[8], 's' .. slot, sec, 'n' .. slot, n)
end
out[1], out[2] = windowSignal(KEYS[1], KEYS[6], KEYS[12], ARGV[3], now, tonumber(ARGV[2]))
return out
`;

/**
 * Marks a recipient as waiting for a retry (once per wait) and records the event. A deferred
 * recipient is no longer in flight: its claim is dropped, and if the campaign was cancelled
 * while it was, it counts as cancelled, since it will never be retried.
 * KEYS: campaign hash, done bitmap, deferred bitmap, events stream, claimed bitmap
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
addEvent(KEYS[4], ARGV[7], 'i', ARGV[1], 'e', ARGV[2], 'o', 'deferred', 'r', ARGV[3], 'd', ARGV[4], 't', ARGV[5])
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
 * Idempotency-Key) changes nothing of a campaign that may have started since.
 * KEYS: campaign hash, tenant's campaign set   ARGV: now, campaign id, then field, value, ...
 * Returns 1 when created now, 0 when it existed.
 */
export const CREATE = `
redis.call('ZADD', KEYS[2], 'NX', ARGV[1], ARGV[2])
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 3))
return 1
`;

/**
 * Freezes the recipient set and moves a draft or scheduled campaign to running, unless an
 * upload is still adding recipients (its rows, or its rollback, would change a frozen list).
 * KEYS: campaign hash, recipients list, seen set, running set, upload lock, finished set
 * ARGV: now, campaign id
 * Returns {started (1/0), total, status}; status `uploading` when an upload holds the lock.
 */
export const START = `
local status = redis.call('HGET', KEYS[1], 'status')
if status ~= 'draft' and status ~= 'scheduled' then return {0, 0, status or ''} end
if redis.call('EXISTS', KEYS[5]) == 1 then return {0, 0, 'uploading'} end
local total = redis.call('LLEN', KEYS[2])
redis.call('HSET', KEYS[1], 'status', 'running', 'total', total, 'cursor', 0, 'startedAt', ARGV[1])
redis.call('DEL', KEYS[3])
if total == 0 then
  redis.call('HSET', KEYS[1], 'status', 'completed', 'completedAt', ARGV[1])
  redis.call('ZADD', KEYS[6], ARGV[1], ARGV[2])
  return {1, 0, 'completed'}
end
redis.call('SADD', KEYS[4], ARGV[2])
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
 * KEYS: campaign hash, recipients list, seen set
 * ARGV: the deduplication keys, one a line; the recipients' JSON, one a line, in the same order
 * (neither holds a line break: keys are normalized addresses, JSON is one line by construction).
 * Two arguments rather than two a recipient: each argument costs the caller and Redis more to
 * encode and decode than splitting it here. One SMISMEMBER, one SADD and one RPUSH a call (at
 * most STEP arguments each: unpack is bounded by the Lua stack) rather than two commands a row.
 * Returns {added, duplicates} or an error when the campaign no longer takes recipients.
 */
export const ADD_RECIPIENTS = `
local status = redis.call('HGET', KEYS[1], 'status')
if status ~= 'draft' and status ~= 'scheduled' then return redis.error_reply('NOT_DRAFT ' .. tostring(status)) end
local keys, rows = {}, {}
local n, m = 0, 0
for k in string.gmatch(ARGV[1], '[^\\n]+') do n = n + 1; keys[n] = k end
for r in string.gmatch(ARGV[2], '[^\\n]+') do m = m + 1; rows[m] = r end
if n ~= m then return redis.error_reply('BAD_BATCH ' .. n .. ' keys for ' .. m .. ' rows') end
local STEP = 1000
local fresh, out, taken = {}, {}, {}
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
      out[#out + 1] = rows[i]
    end
  end
end
for j = 1, #fresh, STEP do
  local last = math.min(#fresh, j + STEP - 1)
  redis.call('SADD', KEYS[3], unpack(fresh, j, last))
  redis.call('RPUSH', KEYS[2], unpack(out, j, last))
end
return {#fresh, dup}
`;

/**
 * Moves a campaign between lifecycle states if it is in one of the allowed ones. A cancel counts
 * its cancelled recipients here, atomically with the status every claim checks: those neither
 * done nor claimed by a sender. Claimed ones are in flight and end as whatever SMTP answers.
 * KEYS: campaign hash, running set, recipients list, done bitmap, claimed bitmap, scratch key,
 *       finished set
 * ARGV: allowed (comma-separated), target, now, campaign id, field to stamp with now
 * Returns {changed (1/0), status before}.
 */
export const TRANSITION = `
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return {0, ''} end
local allowed = ',' .. ARGV[1] .. ','
if not string.find(allowed, ',' .. status .. ',', 1, true) then return {0, status} end
redis.call('HSET', KEYS[1], 'status', ARGV[2], ARGV[5], ARGV[3])
if ARGV[2] == 'cancelled' then
  redis.call('SREM', KEYS[2], ARGV[4])
  local total = tonumber(redis.call('HGET', KEYS[1], 'total') or '0')
  if status == 'draft' or status == 'scheduled' then
    -- The list was never frozen by a start: freeze it now, so the counts add up.
    total = redis.call('LLEN', KEYS[3])
    redis.call('HSET', KEYS[1], 'total', total)
  end
  redis.call('BITOP', 'OR', KEYS[6], KEYS[4], KEYS[5])
  local touched = redis.call('BITCOUNT', KEYS[6])
  redis.call('DEL', KEYS[6])
  redis.call('HSET', KEYS[1], 'cancelled', math.max(0, total - touched))
  redis.call('ZADD', KEYS[7], ARGV[3], ARGV[4])
end
return {1, status}
`;

/**
 * Claims recipients before their messages are handed to SMTP, unless the campaign is
 * cancelled. Cancelled: claims this caller still holds on them (recipients waiting for a
 * connection, say) are turned into cancelled ones, since they will never be sent.
 * KEYS: campaign hash, done bitmap, claimed bitmap   ARGV: recipient indices
 * Returns 1 when claimed, 0 when the campaign is cancelled.
 */
export const CLAIM = `
if redis.call('HGET', KEYS[1], 'status') ~= 'cancelled' then
  for i = 1, #ARGV do redis.call('SETBIT', KEYS[3], tonumber(ARGV[i]), 1) end
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
