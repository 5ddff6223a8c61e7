--[[
  transfer.received: destination incoming drops and on-hand rises, by `lines` (a partial
  receipt) or, without lines, by everything still in transit.
  Received before its transfer.shipped: NOT_YET (nothing written; the consumer retries later).
    KEYS[1..3] meta, marker, outbox (see includes/base.lua)
    KEYS[4]    transfer record hash
    KEYS[5..]  stock hashes of the transfer's destination pairs
    ARGV[1]    JSON { ...base, pairs, transferId, lines? = {{sku, quantity}} }
  Output: see includes/base.lua; rejected/exceeds-in-transit (nothing changes) when a line
  asks for more than is in transit. State receiving until nothing is in transit.
]]
--- @include "includes/base"
--- @include "includes/stock"
--- @include "includes/holds"
--- @include "includes/lines"

local a, early = begin(4)
if not a then return early end
local tr = loadHold(KEYS[4])
if not tr.exists or tr.st == 'created' then return { NOT_YET, 'transfer-not-shipped' } end
if not covers(holdPairs(tr)) then return { RETRY } end
if tr.st == 'received' then
  return finish({ result = 'ignored', reason = 'transfer-received' })
end
if tr.st == 'cancelled' then
  return finish({ result = 'ignored', reason = 'transfer-cancelled' })
end
local take = {}
if a.lines then
  local qty = {}
  for _, l in ipairs(a.lines) do
    qty[l.sku] = (qty[l.sku] or 0) + l.quantity
  end
  for _, sku in ipairs(sortedKeys(qty)) do
    local p = pairOf(sku, tr.to)
    local l = tr.lines[p]
    if not l or l.held < qty[sku] then
      return finish({ result = 'rejected', reason = 'exceeds-in-transit',
        referenceType = 'transfer', referenceId = a.transferId })
    end
    take[p] = qty[sku]
  end
else
  for _, p in ipairs(holdPairs(tr)) do
    take[p] = tr.lines[p].held
  end
end
local left = 0
for _, p in ipairs(holdPairs(tr)) do
  local l = tr.lines[p]
  local q = take[p] or 0
  move(p, 'transfer_received', q, 0, 0, 0, -q, 'transfer', a.transferId, '')
  l.held = l.held - q
  l.shipped = l.shipped + q
  left = left + l.held
end
tr.st = left > 0 and 'receiving' or 'received'
saveHold(KEYS[4], 'transfer', a.transferId, tr)
return finish()
