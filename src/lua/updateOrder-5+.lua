--[[
  order.updated: the order's complete new lines (not a diff). The hold at each pair becomes
  the new quantity less what shipped there: what grows is reserved, all or nothing over the
  event (beyond what is available, what the pair's policy lets wait; backed units committed
  at once when the order is paid, waiting ones as they are filled); what shrinks, or is left
  out, is released (waiting units first; reason order-updated; committed too when paid). A
  line below what shipped refuses the event (below-shipped), a short one too
  (insufficient-stock); nothing changes. Before order.placed (no state, prepaid, payfailed):
  NOT_YET, retried. After order.cancelled: ignored (order-cancelled). A released order
  (payment failed) records the new lines only (applied, order-released). Lines equal to what
  the order has: ignored (unchanged), so a late duplicate changes nothing.
    KEYS[1..3] meta, marker, outbox (see includes/base.lua)
    KEYS[4]    order hold hash
    KEYS[5]    cart expiry set (see includes/holds.lua): read only, on a refusal
    KEYS[6..]  stock hashes: every pair the order has, of `lines`, and of `fallbacks`
    ARGV[1]    JSON { ...base, pairs, orderId, lines, unlocated?, fallbacks?, due? }
  `unlocated` lines named no location: each goes to the order's first pair of the SKU (byte
  order), else to fallbacks[sku] (the planner's: see updateFallback in domain/model-ops.ts).
  RETRY when the order has a pair not passed.
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
local st = order.st
if st == 'cancelled' then
  return finish({ result = 'ignored', reason = 'order-cancelled' })
end
if st == nil or st == 'prepaid' or st == 'payfailed' then
  return { NOT_YET, 'order-not-placed' }
end
local had = holdPairs(order)
if not covers(had) then return { RETRY } end
local want = sumLines(a.lines)
local unlocated = a.unlocated
if unlocated and #unlocated > 0 then
  for _, l in ipairs(unlocated) do
    local p
    for _, q in ipairs(had) do
      if splitPair(q) == l.sku then
        p = q
        break
      end
    end
    p = p or pairOf(l.sku, a.fallbacks[l.sku])
    want[p] = (want[p] or 0) + l.quantity
  end
end
local seen = {}
for _, p in ipairs(had) do seen[p] = true end
for p in pairs(want) do seen[p] = true end
local all = sortedKeys(seen)
if not covers(all) then return { RETRY } end
local changed = false
for _, p in ipairs(all) do
  local l = order.lines[p]
  local q = want[p] or 0
  if q < (l and l.shipped or 0) then
    return finish({ result = 'rejected', reason = 'below-shipped' })
  end
  if q ~= (l and l.ordered or 0) then changed = true end
end
local holding = st == 'placed' or st == 'paid' or st == 'fulfilled'
-- the hold each pair grows to (need), beyond what it has (credit)
local need, credit, needPairs = {}, {}, {}
for _, p in ipairs(all) do
  local l = order.lines[p]
  local cur = l and l.held + l.bo + l.po or 0
  local target = (want[p] or 0) - (l and l.shipped or 0)
  if holding and target ~= cur then changed = true end
  if holding and target > cur then
    need[p], credit[p] = target, cur
    needPairs[#needPairs + 1] = p
  end
end
if not changed then
  return finish({ result = 'ignored', reason = 'unchanged' })
end
local supplies, short = supplyLines(needPairs, need, credit)
if #short > 0 then return refuseShort(short, 'order', a.orderId) end
local paid = order.c == '1'
for _, p in ipairs(all) do
  local l = line(order, p)
  if holding then
    local cur = l.held + l.bo + l.po
    local target = (want[p] or 0) - l.shipped
    if target > cur then
      local sup = supplies[p]
      move(p, 'reserved', 0, sup.backed, 0, 0, 0, 'order', a.orderId, '')
      if paid then move(p, 'committed', 0, 0, sup.backed, 0, 0, 'order', a.orderId, '') end
      l.held = l.held + sup.backed
      if sup.rest > 0 then wait(order, 'order', a.orderId, p, sup.rest, sup.backing) end
    elseif target < cur then
      local wb, wp = unwait(l, 'order', a.orderId, p, cur - target)
      local dh = cur - target - wb - wp
      move(p, 'released', 0, -dh, paid and -dh or 0, 0, 0, 'order', a.orderId, 'order-updated',
        -wb, -wp)
      l.held = l.held - dh
    end
  end
  l.ordered = want[p] or 0
end
if holding then
  local holds = false
  for _, p in ipairs(all) do
    local l = order.lines[p]
    if l.held + l.bo + l.po > 0 then
      holds = true
      break
    end
  end
  order.st = holds and (paid and 'paid' or 'placed') or 'fulfilled'
end
saveHold(KEYS[4], 'order', a.orderId, order)
if holding then return finish() end
return finish({ result = 'applied', reason = 'order-released' })
