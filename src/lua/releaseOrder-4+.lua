--[[
  payment.failed and order.cancelled: release what the order still holds.
  payfail: ignored once a payment succeeded; before order.placed it is remembered (payfailed).
  cancel: releases every unit not yet shipped, paid or not; before order.placed the order is
  remembered as cancelled, so a late order.placed holds nothing.
    KEYS[1..3] meta, marker, outbox (see includes/base.lua)
    KEYS[4]    order hold hash
    KEYS[5..]  stock hashes of every pair the order holds
    ARGV[1]    JSON { ...base, pairs, orderId, mode = 'payfail'|'cancel', reason? }
  Output: see includes/base.lua
]]
--- @include "includes/base"
--- @include "includes/stock"
--- @include "includes/holds"
--- @include "includes/lines"

local a, early = begin(4)
if not a then return early end
local order = loadHold(KEYS[4])
if not covers(holdPairs(order)) then return { RETRY } end
local st = order.st
if a.mode == 'payfail' then
  if order.c == '1' then
    return finish({ result = 'ignored', reason = 'already-committed' })
  end
  if st == nil then
    order.st = 'payfailed'
    saveHold(KEYS[4], 'order', a.orderId, order, a.dedupTtl)
    return finish({ result = 'applied', reason = 'awaiting-order' })
  end
  if st ~= 'placed' then
    return finish({ result = 'ignored', reason = 'nothing-held' })
  end
else
  if st == 'cancelled' then
    return finish({ result = 'ignored', reason = 'order-cancelled' })
  end
end
local paid = order.c == '1'
local kind = 'released'
local why = a.mode == 'payfail' and 'payment-failed' or (a.reason or 'cancelled')
for _, p in ipairs(holdPairs(order)) do
  local l = order.lines[p]
  if l.held > 0 or l.bo + l.po > 0 then
    local wb, wp = unwait(l, 'order', a.orderId, p, l.bo + l.po)
    move(p, kind, 0, -l.held, paid and -l.held or 0, 0, 0, 'order', a.orderId, why, -wb, -wp)
    l.held = 0
  end
end
if a.mode == 'payfail' then
  order.st = 'released'
  saveHold(KEYS[4], 'order', a.orderId, order)
else
  order.st = 'cancelled'
  saveHold(KEYS[4], 'order', a.orderId, order, a.dedupTtl)
end
return finish()
