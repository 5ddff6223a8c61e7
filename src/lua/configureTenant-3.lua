--[[
  tenant.configured: the tenant's settings, kept in its meta hash (KEYS[1]) where the scripts
  that use them read them: field `cfg:<name>` the value (absent: the environment's default,
  passed by the caller), field `cfgAt:<name>` the CloudEvents time (ms) of the event that last
  set or cleared it. Names: cartTtlSeconds (reserveCart), checkoutTtlSeconds (extendCart),
  defaultReorderLevel.
    KEYS[1..3] meta, marker, outbox (see includes/base.lua)
    ARGV[1]    JSON { ...base, pairs = {}, at (ms), cartTtlSeconds?, checkoutTtlSeconds?,
                      defaultReorderLevel? } (each a number, or null: clear it)
  Each named setting is written unless an event with a later time set it (the same time: the
  one applied last wins). The payload's `settings` is the whole result (values, null when
  absent, and setAt); an event that changed nothing (every setting it names was set later) is
  ignored/older-settings and its payload has no settings.
  Output: see includes/base.lua. Writes its own payload (nothing moves, no hold changes).
]]
--- @include "includes/base"

local a, early = begin(3)
if not a then return early end
local NAMES = { 'cartTtlSeconds', 'checkoutTtlSeconds', 'defaultReorderLevel' }
local changed = false
for _, name in ipairs(NAMES) do
  local v = a[name]
  if v ~= nil then
    local at = tonumber(rcall('HGET', KEYS[1], 'cfgAt:' .. name))
    if not at or at <= a.at then
      if v == cjson.null then
        rcall('HDEL', KEYS[1], 'cfg:' .. name)
      else
        rcall('HSET', KEYS[1], 'cfg:' .. name, v)
      end
      rcall('HSET', KEYS[1], 'cfgAt:' .. name, a.at)
      changed = true
    end
  end
end
local payload = { tenant = a.tenant, source = a.source, id = a.id, type = a.type,
  occurredAt = a.occurredAt, epoch = EPOCH, traceId = a.traceId,
  movements = {}, holds = {}, config = {} }
if changed then
  payload.outcome = { result = 'applied' }
  local setAt, settings = {}, {}
  for _, name in ipairs(NAMES) do
    local v = rcall('HMGET', KEYS[1], 'cfg:' .. name, 'cfgAt:' .. name)
    settings[name] = v[1] and tonumber(v[1]) or cjson.null
    if v[2] then setAt[name] = tonumber(v[2]) end
  end
  settings.setAt = setAt
  payload.settings = settings
else
  payload.outcome = { result = 'ignored', reason = 'older-settings' }
end
local text = cjson.encode(payload)
local entryId = rcall('XADD', KEYS[3], '*', 'p', text)
rcall('SET', KEYS[2], entryId, 'EX', a.dedupTtl)
return { 1, entryId, text } -- APPLIED
