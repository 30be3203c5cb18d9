/**
 * Lua for a tenant's suppression list. An address is suppressed when it is a member of the set
 * the sender checks (`Keys.suppression`); each member also has its date in a sorted set
 * (`suppressionLog`, for ordered paging) and its source and reason in a hash (`suppressionInfo`).
 * Every write touches the three in one script, so they never disagree.
 */

/**
 * Lua functions shared by every script that suppresses: `entry` builds the stored description
 * (`{s: source, r: reason, c?: campaign, d?: detail}`), `suppress` adds an address once (the
 * first entry stands: a second suppression of the same address changes nothing).
 */
export const SUPPRESS_LUA = `
local function entry(source, reason, campaign, detail)
  local e = {s = source, r = reason}
  if campaign ~= '' then e.c = campaign end
  if detail ~= '' then e.d = string.sub(string.gsub(detail, '[%c]', ' '), 1, 200) end
  return cjson.encode(e)
end
local function suppress(set, log, info, email, at, value)
  if redis.call('SADD', set, email) == 0 then return 0 end
  redis.call('ZADD', log, at, email)
  redis.call('HSET', info, email, value)
  return 1
end
`;

/**
 * Suppresses addresses given with their date and stored description.
 * KEYS: suppression set, log, info   ARGV: (email, at, description) for each address
 * Returns {added, existing}.
 */
export const SUPPRESS_MANY = `${SUPPRESS_LUA}
local added, existing = 0, 0
for k = 1, #ARGV, 3 do
  if suppress(KEYS[1], KEYS[2], KEYS[3], ARGV[k], ARGV[k + 1], ARGV[k + 2]) == 1 then
    added = added + 1
  else
    existing = existing + 1
  end
end
return {added, existing}
`;

/**
 * Moves up to ARGV[1] staged rows (`email TAB at TAB description`) of an import onto the list.
 * KEYS: staged list, suppression set, log, info
 * Returns {added, existing, left}.
 */
export const COMMIT_IMPORT = `${SUPPRESS_LUA}
local rows = redis.call('LPOP', KEYS[1], tonumber(ARGV[1]))
local added, existing = 0, 0
if rows then
  for _, row in ipairs(rows) do
    local email, at, value = string.match(row, '^([^\\t]*)\\t([^\\t]*)\\t(.*)$')
    if email and suppress(KEYS[2], KEYS[3], KEYS[4], email, at, value) == 1 then
      added = added + 1
    else
      existing = existing + 1
    end
  end
end
return {added, existing, redis.call('LLEN', KEYS[1])}
`;

/**
 * Removes an address from the list, with its soft-bounce count (an address put back starts
 * afresh). KEYS: suppression set, log, info, soft-bounce set   ARGV: email
 * Returns 1 when it was on the list.
 */
export const UNSUPPRESS = `
if redis.call('SREM', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
redis.call('DEL', KEYS[4])
return 1
`;

/**
 * Gives members of the set that have no date or description (suppressed before they were
 * kept) a date of 0 and the description `LEGACY`, so paging finds them.
 * KEYS: suppression set, log, info   ARGV: description, then the members to look at
 * Returns how many were given one.
 */
export const BACKFILL = `
local n = 0
for k = 2, #ARGV do
  local m = ARGV[k]
  if redis.call('SISMEMBER', KEYS[1], m) == 1 and not redis.call('ZSCORE', KEYS[2], m) then
    redis.call('ZADD', KEYS[2], 0, m)
    redis.call('HSETNX', KEYS[3], m, ARGV[1])
    n = n + 1
  end
end
return n
`;

/**
 * One page of the list, oldest first, optionally only the entries of one reason and/or source.
 * The cursor is the (date, address) of the last entry examined, and paging goes on after it.
 * If it was removed meanwhile, its place is found again among the entries of its date, which a
 * sorted set keeps in byte order (a bulk add gives thousands the same date): so removals during
 * a walk neither skip nor repeat an entry. At most `budget` entries are examined per call, so
 * a filter that matches little returns a short (even empty) page with a cursor to go on from.
 * KEYS: log, info
 * ARGV: after date ('' from the start), after address, limit, budget, reason ('' any), source ('' any)
 * Returns {more (0/1), last date, last address, {address, date, description, ...}}.
 */
export const PAGE = `
local log, info = KEYS[1], KEYS[2]
local afterS, afterM = ARGV[1], ARGV[2]
local limit, budget = tonumber(ARGV[3]), tonumber(ARGV[4])
local reason, source = ARGV[5], ARGV[6]
local filtered = reason ~= '' or source ~= ''
-- Byte order, as the sorted set orders members of one score (Lua's < follows the locale).
local function later(a, b)
  for i = 1, math.min(#a, #b) do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then return x > y end
  end
  return #a > #b
end
local pos = 0
if afterS ~= '' then
  local sc = redis.call('ZSCORE', log, afterM)
  if sc and tonumber(sc) == tonumber(afterS) then
    pos = redis.call('ZRANK', log, afterM) + 1
  else
    local lo = redis.call('ZCOUNT', log, '-inf', '(' .. afterS)
    local hi = redis.call('ZCOUNT', log, '-inf', afterS)
    while lo < hi do
      local mid = math.floor((lo + hi) / 2)
      if later(redis.call('ZRANGE', log, mid, mid)[1], afterM) then hi = mid else lo = mid + 1 end
    end
    pos = lo
  end
end
local out, found, seen = {}, 0, 0
local lastS, lastM = afterS, afterM
while found < limit and seen < budget do
  local want = filtered and math.min(200, budget - seen) or math.min(200, limit - found)
  local batch = redis.call('ZRANGE', log, pos, pos + want - 1, 'WITHSCORES')
  if #batch == 0 then return {0, lastS, lastM, out} end
  local members = {}
  for j = 1, #batch, 2 do members[#members + 1] = batch[j] end
  local infos = redis.call('HMGET', info, unpack(members))
  for j = 1, #members do
    local m, s, v = members[j], batch[2 * j], infos[j] or ''
    seen = seen + 1
    pos = pos + 1
    lastS, lastM = s, m
    local keep = true
    if filtered then
      local ok, e = pcall(cjson.decode, v)
      if not ok or type(e) ~= 'table' then e = {} end
      keep = (reason == '' or e.r == reason) and (source == '' or e.s == source)
    end
    if keep then
      out[#out + 1] = m
      out[#out + 1] = s
      out[#out + 1] = v
      found = found + 1
      if found >= limit then break end
    end
  end
end
local more = #redis.call('ZRANGE', log, pos, pos) > 0 and 1 or 0
return {more, lastS, lastM, out}
`;
