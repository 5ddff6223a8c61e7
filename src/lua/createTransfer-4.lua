--[[
  transfer.created: a planned transfer. Only the record: neither location changes until it
  ships (so cancelling it before then changes neither).
    KEYS[1..3] meta, marker, outbox (see includes/base.lua)
    KEYS[4]    transfer record hash
    ARGV[1]    JSON { ...base, pairs = {}, transferId, fromLocationId, toLocationId,
                      lines = {{sku, quantity}} }
  The record: st created, from, to, and o:<sku at destination> = units planned.
  Output: see includes/base.lua; ignored/transfer-exists when the record exists (created,
  shipped or cancelled before).
]]
--- @include "includes/base"
--- @include "includes/stock"
--- @include "includes/holds"
--- @include "includes/lines"

local a, early = begin(4)
if not a then return early end
local tr = loadHold(KEYS[4])
if tr.exists then
  return finish({ result = 'ignored', reason = 'transfer-exists' })
end
local qty = {}
for _, l in ipairs(a.lines) do
  qty[l.sku] = (qty[l.sku] or 0) + l.quantity
end
for _, sku in ipairs(sortedKeys(qty)) do
  line(tr, pairOf(sku, a.toLocationId)).ordered = qty[sku]
end
tr.st, tr.from, tr.to = 'created', a.fromLocationId, a.toLocationId
saveHold(KEYS[4], 'transfer', a.transferId, tr)
return finish()
