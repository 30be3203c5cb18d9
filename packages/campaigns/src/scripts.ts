/**
 * Lua scripts: each is one round trip and atomic, so counters can never disagree with the
 * per-recipient bitmaps even when BullMQ runs a job twice.
 */

/**
 * Records final outcomes for several recipients of one campaign, each exactly once, in one
 * round trip: a sender batches the outcomes of a few milliseconds (see Recorder).
 * KEYS: campaign hash, done bitmap, deferred bitmap, events stream, suppression set, running set,
 *       reasons hash, pace hash
 * ARGV: now, lowWater, campaign id, then per recipient: index, outcome, email, reason, detail,
 *       suppress ('1'/'0')
 * Returns {signal, cursor, recorded1, recorded2, ...}: signal 0 nothing, 1 refill the window,
 * 2 completed by this call; recordedN is 1 when entry N was recorded now, 0 when it already was.
 */
export const FINALIZE = `
local now = ARGV[1]
local out = {0, 0}
local byOutcome, byReason = {}, {}
local n, wasDeferred = 0, 0
for k = 4, #ARGV, 6 do
  local idx = tonumber(ARGV[k])
  if redis.call('SETBIT', KEYS[2], idx, 1) == 1 then
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
    redis.call('XADD', KEYS[4], '*', 'i', ARGV[k], 'e', ARGV[k + 2], 'o', o, 'r', r, 'd', ARGV[k + 4], 't', now)
    if ARGV[k + 5] == '1' then redis.call('SADD', KEYS[5], string.lower(ARGV[k + 2])) end
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
local h = redis.call('HMGET', KEYS[1], 'total', 'cursor', 'sent', 'bounced', 'suppressed', 'failed', 'deferred', 'status')
local total = tonumber(h[1]) or 0
local cursor = tonumber(h[2]) or 0
local final = (tonumber(h[3]) or 0) + (tonumber(h[4]) or 0) + (tonumber(h[5]) or 0) + (tonumber(h[6]) or 0)
local deferred = tonumber(h[7]) or 0
out[2] = cursor
if final >= total and h[8] == 'running' then
  redis.call('HSET', KEYS[1], 'status', 'completed', 'completedAt', now)
  redis.call('SREM', KEYS[6], ARGV[3])
  out[1] = 2
elseif cursor < total and (cursor - final - deferred) <= tonumber(ARGV[2]) then
  out[1] = 1
end
return out
`;

/**
 * Marks a recipient as waiting for a retry (once per wait) and records the event.
 * KEYS: campaign hash, done bitmap, deferred bitmap, events stream
 * ARGV: index, email, reason, detail, now, lowWater
 * Returns {recorded, signal, cursor} like FINALIZE (deferral frees a window place).
 */
export const DEFER = `
local idx = tonumber(ARGV[1])
if redis.call('GETBIT', KEYS[2], idx) == 1 then return {0, 0, 0} end
if redis.call('GETBIT', KEYS[3], idx) == 0 then
  redis.call('SETBIT', KEYS[3], idx, 1)
  redis.call('HINCRBY', KEYS[1], 'deferred', 1)
end
redis.call('XADD', KEYS[4], '*', 'i', ARGV[1], 'e', ARGV[2], 'o', 'deferred', 'r', ARGV[3], 'd', ARGV[4], 't', ARGV[5])
local h = redis.call('HMGET', KEYS[1], 'total', 'cursor', 'sent', 'bounced', 'suppressed', 'failed', 'deferred')
local total = tonumber(h[1]) or 0
local cursor = tonumber(h[2]) or 0
local final = (tonumber(h[3]) or 0) + (tonumber(h[4]) or 0) + (tonumber(h[5]) or 0) + (tonumber(h[6]) or 0)
local deferred = tonumber(h[7]) or 0
if cursor < total and (cursor - final - deferred) <= tonumber(ARGV[6]) then return {1, 1, cursor} end
return {1, 0, cursor}
`;

/**
 * Freezes the recipient set and moves a draft or scheduled campaign to running.
 * KEYS: campaign hash, recipients list, seen set, running set   ARGV: now, campaign id
 * Returns {started (1/0), total, status}.
 */
export const START = `
local status = redis.call('HGET', KEYS[1], 'status')
if status ~= 'draft' and status ~= 'scheduled' then return {0, 0, status or ''} end
local total = redis.call('LLEN', KEYS[2])
redis.call('HSET', KEYS[1], 'status', 'running', 'total', total, 'cursor', 0, 'startedAt', ARGV[1])
redis.call('DEL', KEYS[3])
if total == 0 then
  redis.call('HSET', KEYS[1], 'status', 'completed', 'completedAt', ARGV[1])
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
 * as normalized by the caller).
 * KEYS: campaign hash, recipients list, seen set   ARGV: key1, json1, key2, json2, ...
 * Returns {added, duplicates} or an error when the campaign no longer takes recipients.
 */
export const ADD_RECIPIENTS = `
local status = redis.call('HGET', KEYS[1], 'status')
if status ~= 'draft' and status ~= 'scheduled' then return redis.error_reply('NOT_DRAFT ' .. tostring(status)) end
local added, dup = 0, 0
for i = 1, #ARGV, 2 do
  if redis.call('SADD', KEYS[3], ARGV[i]) == 1 then
    redis.call('RPUSH', KEYS[2], ARGV[i + 1])
    added = added + 1
  else
    dup = dup + 1
  end
end
return {added, dup}
`;

/**
 * Moves a campaign between lifecycle states if it is in one of the allowed ones.
 * KEYS: campaign hash, running set
 * ARGV: allowed (comma-separated), target, now, campaign id, field to stamp with now
 * Returns {changed (1/0), status before}.
 */
export const TRANSITION = `
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return {0, ''} end
local allowed = ',' .. ARGV[1] .. ','
if not string.find(allowed, ',' .. status .. ',', 1, true) then return {0, status} end
redis.call('HSET', KEYS[1], 'status', ARGV[2], ARGV[5], ARGV[3])
if ARGV[2] == 'cancelled' then redis.call('SREM', KEYS[2], ARGV[4]) end
return {1, status}
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
