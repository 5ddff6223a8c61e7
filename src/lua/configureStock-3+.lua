--[[
  stock.configured: sets the low-stock threshold; absent fields stay as they were.
    KEYS[1..3] meta, marker, outbox (see includes/base.lua)
    KEYS[4]    stock hash of the one pair
    ARGV[1]    JSON { ...base, pairs = {pair}, reorderLevel?, reorderQuantity? }
  Output: see includes/base.lua
]]
--- @include "includes/base"

local ctx, early = begin(3)
if not ctx then return early end
local a = ctx.a
local s = stock(ctx, a.pairs[1])
if a.reorderLevel ~= nil then s.reorderLevel = a.reorderLevel end
if a.reorderQuantity ~= nil then s.reorderQuantity = a.reorderQuantity end
s.cfgDirty = true
table.insert(ctx.config, { sku = s.sku, locationId = s.loc,
  reorderLevel = s.reorderLevel or cjson.null, reorderQuantity = s.reorderQuantity or cjson.null })
return finish(ctx, { result = 'applied' })
