--[[
  transfer.cancelled: a transfer not shipped yet is cancelled; neither location changes.
    KEYS[1..3] meta, marker, outbox (see includes/base.lua)
    KEYS[4]    transfer record hash
    ARGV[1]    JSON { ...base, pairs = {}, transferId, reason? }
  Output: see includes/base.lua. Rejected/transfer-shipped once it shipped; ignored/
  transfer-cancelled the second time. Cancelled before its transfer.created arrived: a
  cancelled record with no lines is kept, so the late creation or shipment is ignored.
]]
--- @include "includes/base"
--- @include "includes/stock"
--- @include "includes/holds"
--- @include "includes/lines"

local a, early = begin(4)
if not a then return early end
local tr = loadHold(KEYS[4])
if tr.st == 'cancelled' then
  return finish({ result = 'ignored', reason = 'transfer-cancelled' })
end
if tr.exists and tr.st ~= 'created' then
  return finish({ result = 'rejected', reason = 'transfer-shipped', referenceType = 'transfer',
    referenceId = a.transferId })
end
local existed = tr.exists
tr.st = 'cancelled'
saveHold(KEYS[4], 'transfer', a.transferId, tr)
if existed then
  return finish()
end
return finish({ result = 'applied', reason = 'cancelled-before-created' })
