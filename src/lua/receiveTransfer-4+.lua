--[[
  transfer.received: destination incoming drops and on-hand rises by what was shipped.
  Received before its transfer.shipped: NOT_YET (nothing written; the consumer retries later).
    KEYS[1..3] meta, marker, outbox (see includes/base.lua)
    KEYS[4]    transfer record hash
    KEYS[5..]  stock hashes of the transfer's destination pairs
    ARGV[1]    JSON { ...base, pairs, transferId }
  Output: see includes/base.lua
]]
--- @include "includes/base"
--- @include "includes/stock"
--- @include "includes/holds"
--- @include "includes/lines"

local a, early = begin(4)
if not a then return early end
local tr = loadHold(KEYS[4])
if not tr.exists then return { NOT_YET, 'transfer-not-shipped' } end
if not covers(holdPairs(tr)) then return { RETRY } end
if tr.st == 'received' then
  return finish({ result = 'ignored', reason = 'transfer-received' })
end
for _, p in ipairs(holdPairs(tr)) do
  local q = tr.lines[p].held
  move(p, 'transfer_received', q, 0, 0, 0, -q, 'transfer', a.transferId, '')
  tr.lines[p].held = 0
  tr.lines[p].ordered = q
end
tr.st = 'received'
saveHold(KEYS[4], 'transfer', a.transferId, tr)
return finish()
