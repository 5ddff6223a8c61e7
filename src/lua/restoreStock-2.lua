--[[
  Reconciliation repair of one stock hash, only while the tenant still runs on the epoch the
  reconciliation read. Two modes:
  - shift: adds a correction to each figure of an existing hash. The caller read the figures
    and the outbox in one atomic step and computed correction = truth - figures; an event
    applied since adds to the figures and to the outbox alike, so the correction stays exact
    and a hot pair is repaired however busy it is.
  - set: compare-and-set, for a hash to create or delete: written only if the hash still holds
    what was read (an event applied in between is never overwritten; the caller retries).
    KEYS[1]  tenant meta hash
    KEYS[2]  stock hash
    ARGV[1]  JSON { epoch,
                    shift = { onHand, reserved, committed, unavailable, incoming, backordered,
                              preordered } to add, or
                    expected = the seven figures as read, or false when the hash was missing,
                    set = the seven figures to write, or false to delete the hash,
                    reorderLevel?, reorderQuantity?, policy? = { field, value, ... } of the
                    selling policy (pol, plim, pto); written only when the hash is created }
  A figure missing from shift, expected or set counts as 0.
  The SKU's count of in-stock locations (<base>instock) follows the pair across zero.
  Output: 1 restored; 0 the hash or the epoch changed since it was read: nothing written
]]
local rcall = redis.call
local FIGURES = { 'onHand', 'reserved', 'committed', 'unavailable', 'incoming', 'backordered',
  'preordered' }

local a = cjson.decode(ARGV[1])
local meta = rcall('HMGET', KEYS[1], 'epoch', 'isc')
if meta[1] ~= tostring(a.epoch) then
  return 0
end
-- the SKU's count of in-stock locations (<base>instock, see includes/stock) follows the
-- pair's available across zero
local function available()
  local v = rcall('HMGET', KEYS[2], 'onHand', 'reserved', 'unavailable')
  return (tonumber(v[1]) or 0) - (tonumber(v[2]) or 0) - (tonumber(v[3]) or 0)
end
local before = available()
local function restored()
  local after = available()
  if meta[2] and (after > 0) ~= (before > 0) then
    local key = string.sub(KEYS[1], 1, -5) .. 'instock'
    local pair = string.sub(KEYS[2], #string.sub(KEYS[1], 1, -5) + 7)
    local sku = string.sub(pair, 1, string.find(pair, '\31', 1, true) - 1)
    if rcall('HINCRBY', key, sku, after > 0 and 1 or -1) <= 0 then rcall('HDEL', key, sku) end
  end
  return 1
end
local exists = rcall('EXISTS', KEYS[2]) == 1
if a.shift then
  if not exists then return 0 end
  for _, f in ipairs(FIGURES) do
    local d = a.shift[f] or 0
    if d ~= 0 then rcall('HINCRBY', KEYS[2], f, d) end
  end
  return restored()
end
if not a.expected then
  if exists then return 0 end
else
  if not exists then return 0 end
  local v = rcall('HMGET', KEYS[2], unpack(FIGURES))
  for i, f in ipairs(FIGURES) do
    if (tonumber(v[i]) or 0) ~= (a.expected[f] or 0) then return 0 end
  end
end
if not a.set then
  rcall('DEL', KEYS[2])
  return restored()
end
local fields = {}
for _, f in ipairs(FIGURES) do
  table.insert(fields, f)
  table.insert(fields, a.set[f] or 0)
end
if not exists then
  if a.reorderLevel then table.insert(fields, 'reorderLevel'); table.insert(fields, a.reorderLevel) end
  if a.reorderQuantity then table.insert(fields, 'reorderQuantity'); table.insert(fields, a.reorderQuantity) end
  for _, v in ipairs(a.policy or {}) do table.insert(fields, v) end
end
rcall('HSET', KEYS[2], unpack(fields))
return restored()
