--[[
  location.bound / location.unbound: which SKUs a location stocks.
    KEYS[1..3] meta, marker, outbox (see includes/base.lua)
    KEYS[4]    locations hash
    KEYS[5]    bindings hash: "sku\31location" -> 1
    KEYS[6..]  stock hashes of each SKU at the location
    ARGV[1]    JSON { ...base, nv, pairs, locationId, skus (sorted, unique), bound }
  Output: see includes/base.lua. Rejected unknown-location (not upserted first), and, when
  unbinding, location-has-stock (a figure of one of the SKUs there is not zero: nothing changes).
  Bumps meta `nv`.
]]
--- @include "includes/base"
--- @include "includes/stock"
--- @include "includes/lines"

local a, early = begin(5)
if not a then return early end
if rcall('HEXISTS', KEYS[4], a.locationId) == 0 then
  return finish({ result = 'rejected', reason = 'unknown-location' })
end
local skus = a.skus
if not a.bound then
  local busy = false
  for _, sku in ipairs(skus) do
    local s = stock(pairOf(sku, a.locationId))
    if s.onHand ~= 0 or s.reserved ~= 0 or s.unavailable ~= 0 or (tonumber(s.raw[5]) or 0) ~= 0
      or s.bo ~= 0 or s.po ~= 0 then
      busy = true
    end
  end
  if busy then
    return finish({ result = 'rejected', reason = 'location-has-stock' })
  end
end
NET = {}
for i, sku in ipairs(skus) do
  local p = pairOf(sku, a.locationId)
  if a.bound then
    rcall('HSET', KEYS[5], p, '1')
  else
    rcall('HDEL', KEYS[5], p)
  end
  NET[i] = { kind = 'binding', sku = sku, locationId = a.locationId, bound = a.bound }
end
rcall('HINCRBY', KEYS[1], 'nv', 1)
return finish()
