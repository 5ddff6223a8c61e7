--[[
  shipment.cancelled: a shipment voided before it left. Its units come back on hand; those the
  order was owed (held or waiting when it shipped) go back into the order's hold, committed
  when paid, while the order still holds (placed, paid, fulfilled: a fulfilled order holds
  again); an order cancelled or released since gets nothing back and the units become
  available. One `shipped` movement per pair with the shipment's signs turned (reason
  shipment-cancelled). The record (x:<shipmentId>, see includes/holds) becomes 'c': a second
  cancellation is ignored (shipment-cancelled), an unknown shipment too (unknown-shipment).
    KEYS[1..3] meta, marker, outbox (see includes/base.lua)
    KEYS[4]    order hold hash
    KEYS[5..]  stock hashes of the order's pairs (RETRY when the shipment has a pair not passed)
    ARGV[1]    JSON { ...base, pairs, shipmentId, orderId }
  Output: see includes/base.lua
]]
--- @include "includes/base"
--- @include "includes/stock"
--- @include "includes/holds"
--- @include "includes/lines"

local a, early = begin(4)
if not a then return early end
local order = loadHold(KEYS[4])
local text = order.ships[a.shipmentId]
if text == nil then
  return finish({ result = 'ignored', reason = 'unknown-shipment' })
end
local record = decodeShipment(text)
if record == nil then
  return finish({ result = 'ignored', reason = 'shipment-cancelled' })
end
local ps = sortedKeys(record)
if not covers(ps) then return { RETRY } end
local paid = order.c == '1'
local st = order.st
local holding = st == 'placed' or st == 'paid' or st == 'fulfilled'
for _, p in ipairs(ps) do
  local r = record[p]
  local back = holding and r.held or 0
  local l = line(order, p)
  move(p, 'shipped', r.held + r.beyond, back, paid and back or 0, 0, 0, 'order', a.orderId,
    'shipment-cancelled')
  l.held = l.held + back
  l.shipped = l.shipped - r.held - r.beyond
end
if st == 'fulfilled' then
  for _, p in ipairs(holdPairs(order)) do
    if order.lines[p].held > 0 then
      order.st = paid and 'paid' or 'placed'
      break
    end
  end
end
setShipment(order, a.shipmentId, CANCELLED_SHIPMENT)
saveHold(KEYS[4], 'order', a.orderId, order, st == 'cancelled' and a.dedupTtl or nil)
return finish()
