--[[
  stock.configured: sets the low-stock threshold and the policy for selling ahead of stock;
  absent fields stay as they were.
    KEYS[1..3] meta, marker, outbox (see includes/base.lua)
    KEYS[4]    stock hash of the one pair
    ARGV[1]    JSON { ...base, pairs = {pair}, reorderLevel?, reorderQuantity?,
                      policy? ('deny'|'backorder'|'preorder'), policyLimit?,
                      preorderUntil? (ms, or null: no end) }
  A policy change applies to new holds: units already waiting keep waiting.
  Output: see includes/base.lua
]]
--- @include "includes/base"
--- @include "includes/stock"

local a, early = begin(3)
if not a then return early end
local s = stockPolicy(a.pairs[1])
s.cfgDirty, s.levelBefore = true, s.reorderLevel
if a.reorderLevel ~= nil then s.reorderLevel = a.reorderLevel end
if a.reorderQuantity ~= nil then s.reorderQuantity = a.reorderQuantity end
if a.policy ~= nil then s.pol = a.policy ~= 'deny' and a.policy or nil end
if a.policyLimit ~= nil then s.plim = a.policyLimit end
if a.preorderUntil == cjson.null then
  s.pto = nil
elseif a.preorderUntil ~= nil then
  s.pto = a.preorderUntil
end
CONFIG = { { sku = s.sku, locationId = s.loc,
  reorderLevel = s.reorderLevel or cjson.null, reorderQuantity = s.reorderQuantity or cjson.null,
  policy = s.pol or 'deny', policyLimit = s.plim, preorderUntil = s.pto or cjson.null } }
return finish()
