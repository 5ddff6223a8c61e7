--[[
  location.upserted: creates or replaces one of the tenant's locations.
    KEYS[1..3] meta, marker, outbox (see includes/base.lua)
    KEYS[4]    locations hash: locationId -> JSON { name, priority, shipsTo }
    ARGV[1]    JSON { ...base, nv, pairs = {}, locationId, name, priority, shipsTo }
  Output: see includes/base.lua. Bumps meta `nv` (the network version planners check).
]]
--- @include "includes/base"
--- @include "includes/stock"

local a, early = begin(4)
if not a then return early end
rcall('HSET', KEYS[4], a.locationId,
  cjson.encode({ name = a.name, priority = a.priority, shipsTo = a.shipsTo }))
rcall('HINCRBY', KEYS[1], 'nv', 1)
NET = { { kind = 'location', locationId = a.locationId, name = a.name, priority = a.priority,
  shipsTo = a.shipsTo } }
return finish()
