--[[
  transfer.shipped: source on-hand drops, destination incoming rises; all lines or none, and
  never below what the source has available (held units do not leave with a transfer).
  A transfer created before (transfer.created) ships these lines in place of the planned ones;
  one never created is created and shipped at once. Lines: h = in transit, o = shipped,
  s = received so far.
    KEYS[1..3] meta, marker, outbox (see includes/base.lua)
    KEYS[4]    transfer record hash
    KEYS[5..]  stock hashes: each SKU at the source, then at the destination
    ARGV[1]    JSON { ...base, pairs, transferId, fromLocationId, toLocationId,
                      lines = {{sku, quantity}} }
  Output: see includes/base.lua
]]
--- @include "includes/base"
--- @include "includes/stock"
--- @include "includes/holds"
--- @include "includes/lines"

local a, early = begin(4)
if not a then return early end
local tr = loadHold(KEYS[4])
if tr.exists and tr.st ~= 'created' then
  return finish({ result = 'ignored',
    reason = tr.st == 'cancelled' and 'transfer-cancelled' or 'transfer-exists' })
end
if tr.exists and (tr.from ~= a.fromLocationId or tr.to ~= a.toLocationId) then
  return finish({ result = 'rejected', reason = 'transfer-mismatch', referenceType = 'transfer',
    referenceId = a.transferId })
end
local qty = {}
for _, l in ipairs(a.lines) do
  qty[l.sku] = (qty[l.sku] or 0) + l.quantity
end
local out = {}
for sku, q in pairs(qty) do
  out[pairOf(sku, a.fromLocationId)] = q
end
local short = shortLines(out)
if #short > 0 then
  return finish({ result = 'rejected', reason = 'insufficient-stock', short = short,
    referenceType = 'transfer', referenceId = a.transferId })
end
-- the planned lines give way to what shipped
for _, p in ipairs(holdPairs(tr)) do
  tr.lines[p].ordered = 0
end
for _, sku in ipairs(sortedKeys(qty)) do
  local q = qty[sku]
  move(pairOf(sku, a.fromLocationId), 'transfer_out', -q, 0, 0, 0, 0, 'transfer', a.transferId, '')
  move(pairOf(sku, a.toLocationId), 'transfer_in_transit', 0, 0, 0, 0, q, 'transfer',
    a.transferId, '')
  local l = line(tr, pairOf(sku, a.toLocationId))
  l.held, l.ordered = q, q
end
tr.st, tr.from, tr.to = 'shipped', a.fromLocationId, a.toLocationId
saveHold(KEYS[4], 'transfer', a.transferId, tr)
return finish()
