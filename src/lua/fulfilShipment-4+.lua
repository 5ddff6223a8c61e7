--[[
  shipment.created: the shipped units leave. Held units of the order are shipped first
  (reserved and on-hand drop; committed too when paid); units beyond the hold (an order never
  reserved, or shipped beyond it) leave on-hand only, and a shortage is announced if that
  leaves available below zero. Partial shipments are allowed; when nothing is held any more
  the order is fulfilled. What it moved is kept in the order's hold (x:<shipmentId>, see
  includes/holds) for shipment.cancelled; a shipment id already there is ignored.
    KEYS[1..3] meta, marker, outbox (see includes/base.lua)
    KEYS[4]    order hold hash
    KEYS[5..]  stock hashes of the shipment's pairs
    ARGV[1]    JSON { ...base, pairs, shipmentId, orderId, lines, unlocated?, fallback? }
  `unlocated` lines named no location: they ship from what the order holds of the SKU (pairs in
  order), the rest from the first location the order has the SKU at, else `fallback`; the
  planner then passes every pair of the order too (RETRY if the order gained one since).
  Output: see includes/base.lua
]]
--- @include "includes/base"
--- @include "includes/stock"
--- @include "includes/holds"
--- @include "includes/lines"

local a, early = begin(4)
if not a then return early end
local order = loadHold(KEYS[4])
if order.ships[a.shipmentId] then
  return finish({ result = 'ignored', reason = 'shipment-exists' })
end
local paid = order.c == '1'
local ship = sumLines(a.lines)
local unlocated = a.unlocated
if unlocated and #unlocated > 0 then
  local ps = holdPairs(order)
  if not covers(ps) then return { RETRY } end
  local want, skus = {}, {}
  for _, l in ipairs(unlocated) do
    if not want[l.sku] then skus[#skus + 1] = l.sku end
    want[l.sku] = (want[l.sku] or 0) + l.quantity
  end
  table.sort(skus)
  for _, sku in ipairs(skus) do
    local rem, first = want[sku], nil
    for _, p in ipairs(ps) do
      if splitPair(p) == sku then
        first = first or p
        -- what the order holds there, backed or waiting
        local l = order.lines[p]
        local t = math.min(math.max(l.held + l.bo + l.po - (ship[p] or 0), 0), rem)
        if t > 0 then
          ship[p] = (ship[p] or 0) + t
          rem = rem - t
        end
      end
    end
    if rem > 0 then
      local p = first or pairOf(sku, a.fallback)
      ship[p] = (ship[p] or 0) + rem
    end
  end
end
local record = {}
for _, p in ipairs(sortedKeys(ship)) do
  local q = ship[p]
  local l = line(order, p)
  local fromHold = math.min(q, l.held)
  -- beyond the held units, waiting ones: they were there after all
  local wb, wp = unwait(l, 'order', a.orderId, p, math.min(q - fromHold, l.bo + l.po))
  local owed = fromHold + wb + wp
  record[p] = { held = owed, beyond = q - owed }
  move(p, 'shipped', -q, -fromHold, paid and -fromHold or 0, 0, 0, 'order', a.orderId, '', -wb, -wp)
  l.held = l.held - fromHold
  l.shipped = l.shipped + q
end
local holding = false
for _, p in ipairs(holdPairs(order)) do
  local l = order.lines[p]
  if l.held > 0 or l.bo + l.po > 0 then holding = true end
end
if order.st == nil or order.st == 'prepaid' or order.st == 'payfailed' then
  -- shipped before order.placed reached us: a later order.placed must not hold again
  order.st = 'fulfilled'
elseif not holding and (order.st == 'placed' or order.st == 'paid') then
  order.st = 'fulfilled'
end
setShipment(order, a.shipmentId, encodeShipment(record))
-- a cancelled order keeps the expiry releaseOrder gave it (saveHold rewrites the key whole)
saveHold(KEYS[4], 'order', a.orderId, order, order.st == 'cancelled' and a.dedupTtl or nil)
return finish()
