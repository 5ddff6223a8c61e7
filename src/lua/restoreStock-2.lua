--[[
  Reconciliation repair: restores the figures of one stock hash, but only if the hash still
  holds the figures the reconciliation read and the tenant still runs on the epoch it read:
  an event applied in between is never overwritten (the caller reads again and retries later).
    KEYS[1]  tenant meta hash
    KEYS[2]  stock hash
    ARGV[1]  JSON { epoch,
                    expected = { onHand, reserved, committed, unavailable, incoming } as read,
                               or false when the hash was missing,
                    set = the five figures to write, or false to delete the hash,
                    reorderLevel?, reorderQuantity? (written only when the hash is created) }
  Output: 1 restored; 0 the hash or the epoch changed since it was read: nothing written
]]
local rcall = redis.call
local FIGURES = { 'onHand', 'reserved', 'committed', 'unavailable', 'incoming' }

local a = cjson.decode(ARGV[1])
if rcall('HGET', KEYS[1], 'epoch') ~= tostring(a.epoch) then
  return 0
end
local exists = rcall('EXISTS', KEYS[2]) == 1
if not a.expected then
  if exists then return 0 end
else
  if not exists then return 0 end
  local v = rcall('HMGET', KEYS[2], unpack(FIGURES))
  for i, f in ipairs(FIGURES) do
    if (tonumber(v[i]) or 0) ~= a.expected[f] then return 0 end
  end
end
if not a.set then
  rcall('DEL', KEYS[2])
  return 1
end
local fields = {}
for _, f in ipairs(FIGURES) do
  table.insert(fields, f)
  table.insert(fields, a.set[f])
end
if not exists then
  if a.reorderLevel then table.insert(fields, 'reorderLevel'); table.insert(fields, a.reorderLevel) end
  if a.reorderQuantity then table.insert(fields, 'reorderQuantity'); table.insert(fields, a.reorderQuantity) end
end
rcall('HSET', KEYS[2], unpack(fields))
return 1
