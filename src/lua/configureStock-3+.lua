--[[
  stock.configured: sets the low-stock threshold; absent fields stay as they were.
    KEYS[1..3] meta, marker, outbox (see includes/base.lua)
    KEYS[4]    stock hash of the one pair
    ARGV[1]    JSON { ...base, pairs = {pair}, reorderLevel?, reorderQuantity? }
  Output: see includes/base.lua
]]
--- @include "includes/base"
--- @include "includes/stock"

local a, early = begin(3)
if not a then return early end
local s = stock(a.pairs[1])
s.cfgDirty, s.levelBefore = true, s.reorderLevel
if a.reorderLevel ~= nil then s.reorderLevel = a.reorderLevel end
if a.reorderQuantity ~= nil then s.reorderQuantity = a.reorderQuantity end
CONFIG = { { sku = s.sku, locationId = s.loc,
  reorderLevel = s.reorderLevel or cjson.null, reorderQuantity = s.reorderQuantity or cjson.null } }
return finish()
