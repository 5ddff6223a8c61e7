--[[
  payment.succeeded: the order's hold is committed. The first success commits; later ones
  (split payments) change nothing. An order with no hold is reserved now from `lines`, or
  from the lines it was placed with, less what already shipped; with neither it waits as
  `prepaid` for order.placed.
    KEYS[1..3] meta, marker, outbox (see includes/base.lua)
    KEYS[4]    order hold hash
    KEYS[5]    cart expiry set (see includes/holds.lua): read only, on a refusal
    KEYS[6..]  stock hashes: every pair the order holds or ordered, and of `lines`
    ARGV[1]    JSON { ...base, pairs, orderId, paymentId, lines?, due? }
  Output: see includes/base.lua; with `due`, EXPIRE_FIRST instead of a refusal for want of
  stock while a cart is past its expiry (see includes/holds.lua)
]]
--- @include "includes/base"
--- @include "includes/stock"
--- @include "includes/holds"
--- @include "includes/lines"

local a, early = begin(5)
CART_EXP = 5
if not a then return early end
local order = loadHold(KEYS[4])
if not covers(holdPairs(order)) then return { RETRY } end
if order.c == '1' then
  return finish({ result = 'ignored', reason = 'already-committed' })
end
if order.st == 'cancelled' then
  return finish({ result = 'ignored', reason = 'order-cancelled' })
end
order.c, order.pay = '1', a.paymentId
if order.st == 'placed' then
  for _, p in ipairs(holdPairs(order)) do
    move(p, 'committed', 0, 0, order.lines[p].held, 0, 0, 'order', a.orderId, '')
  end
  order.st = 'paid'
elseif order.st == 'fulfilled' then
  -- shipped before it was paid: nothing is held any more, the payment is only recorded
  order.st = 'fulfilled'
else
  -- no hold (unknown, prepaid, payfailed or released): reserve now if we know the lines
  local need = {}
  if a.lines ~= nil and #a.lines > 0 then
    need = sumLines(a.lines)
  else
    for _, p in ipairs(holdPairs(order)) do
      if order.lines[p].ordered > 0 then need[p] = order.lines[p].ordered end
    end
  end
  -- units already shipped (payment.failed after a partial shipment) are not held again
  for _, p in ipairs(sortedKeys(need)) do
    local l = order.lines[p]
    if l and l.shipped > 0 then
      need[p] = need[p] > l.shipped and need[p] - l.shipped or nil
    end
  end
  local needPairs = sortedKeys(need)
  if #needPairs == 0 and order.st == 'released' then
    -- placed, released, and every unit shipped since: only the payment is recorded
    order.st = 'fulfilled'
    saveHold(KEYS[4], 'order', a.orderId, order)
    return finish()
  end
  if #needPairs == 0 then
    order.st = 'prepaid'
    saveHold(KEYS[4], 'order', a.orderId, order)
    return finish({ result = 'applied', reason = 'awaiting-order' })
  end
  -- what is available, and beyond it what the pair's policy lets wait
  local supplies, short = supplyLines(needPairs, need)
  if #short > 0 then return refuseShort(short, 'order', a.orderId) end
  for _, p in ipairs(needPairs) do
    local sup = supplies[p]
    move(p, 'reserved', 0, sup.backed, 0, 0, 0, 'order', a.orderId, '')
    move(p, 'committed', 0, 0, sup.backed, 0, 0, 'order', a.orderId, '')
    local l = line(order, p)
    l.held = sup.backed
    if l.ordered == 0 then l.ordered = need[p] end
    if sup.rest > 0 then wait(order, 'order', a.orderId, p, sup.rest, sup.backing) end
  end
  order.st = 'paid'
end
saveHold(KEYS[4], 'order', a.orderId, order)
return finish()
