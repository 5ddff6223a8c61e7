--[[
  shipment.created: the shipped units leave. Held units of the order are shipped first
  (reserved and on-hand drop; committed too when paid); units beyond the hold (an order never
  reserved, or shipped beyond it) leave on-hand only, and a shortage is announced if that
  leaves available below zero. Partial shipments are allowed; when nothing is held any more
  the order is fulfilled.
    KEYS[1..3] meta, marker, outbox (see includes/base.lua)
    KEYS[4]    order hold hash
    KEYS[5..]  stock hashes of the shipment's pairs
    ARGV[1]    JSON { ...base, pairs, shipmentId, orderId, lines }
  Output: see includes/base.lua
]]
--- @include "includes/base"
--- @include "includes/stock"
--- @include "includes/holds"
--- @include "includes/lines"

local a, early = begin(4)
if not a then return early end
local order = loadHold(KEYS[4])
local paid = order.c == '1'
local ship = sumLines(a.lines)
for _, p in ipairs(sortedKeys(ship)) do
  local q = ship[p]
  local l = line(order, p)
  local fromHold = math.min(q, l.held)
  move(p, 'shipped', -q, -fromHold, paid and -fromHold or 0, 0, 0, 'order', a.orderId, '')
  l.held = l.held - fromHold
  l.shipped = l.shipped + q
end
local holding = false
for _, p in ipairs(holdPairs(order)) do
  if order.lines[p].held > 0 then holding = true end
end
if order.st == nil or order.st == 'prepaid' or order.st == 'payfailed' then
  -- shipped before order.placed reached us: a later order.placed must not hold again
  order.st = 'fulfilled'
elseif not holding and (order.st == 'placed' or order.st == 'paid') then
  order.st = 'fulfilled'
end
-- a cancelled order keeps the expiry releaseOrder gave it (saveHold rewrites the key whole)
saveHold(KEYS[4], 'order', a.orderId, order, order.st == 'cancelled' and a.dedupTtl or nil)
return finish()
