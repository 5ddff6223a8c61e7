--[[
  order.placed: the order's lines become an order hold, all lines or none. The cart's hold
  converts (what the order takes), what the cart lacked is reserved, what the order does not
  take is released. Payments seen before the order are honoured (prepaid: commit now;
  payfailed: release now), so out-of-order delivery ends as in-order delivery would; when the
  order already has its hold (a payment with lines, a cancellation or a shipment came first),
  only the cart's hold is released.
    KEYS[1..3] meta, marker, outbox (see includes/base.lua)
    KEYS[4]    order hold hash
    KEYS[5]    cart hold hash (a key that never exists when the order has no cart)
    KEYS[6]    cart expiry set (see includes/holds.lua): a converted cart leaves it
    KEYS[7..]  stock hashes: every pair of the lines and of the cart's hold
               (and every candidate pair of the route)
    KEYS[#KEYS] with `at`: the cart's removals hash (cartrm:<cartId>), after the wait queues
    ARGV[1]    JSON { ...base, pairs, orderId, cartId? , lines = {{sku, locationId, quantity}},
                      routed? = {{sku, quantity}}, route? = { locs, skus }, due?,
                      at?, rememberMs? (with cartId: the event's time; how long it is kept) }
  `routed` lines have no location: includes/route allocates them (what a pair can give is its
  available, plus what the cart holds there, minus what the located lines take), preferring
  one location for all of them. Output: see includes/base.lua; rejected/insufficient-stock
  with locationId '*' for a routed SKU the network cannot fill; with `due`, EXPIRE_FIRST
  instead of that refusal while a cart is past its expiry (see includes/holds.lua).
  With `at`, a cart not open yet (this order overtook its additions) remembers the order's time
  as a clearing (see releaseCart, cart removals): its additions earlier than it are not held.
]]
--- @include "includes/base"
--- @include "includes/stock"
--- @include "includes/holds"
--- @include "includes/lines"
--- @include "includes/route"

local a, early = begin(6)
CART_EXP = 6
if not a then return early end
local order = loadHold(KEYS[4])
local cart = loadHold(KEYS[5])
if not covers(holdPairs(cart)) then return { RETRY } end
local prior = order.st
-- the cart's additions this order overtook are not held when they come (see the header)
local function rememberTakeover()
  if not a.at or cart.st == 'open' or cart.st == 'converted' then return end
  local key = KEYS[#KEYS]
  local was = tonumber(rcall('HGET', key, '*'))
  if not was or was < a.at then rcall('HSET', key, '*', a.at) end
  rcall('PEXPIRE', key, a.rememberMs)
end
if prior ~= nil and prior ~= 'prepaid' and prior ~= 'payfailed' then
  local why = prior == 'cancelled' and 'order-cancelled' or 'order-exists'
  if cart.st ~= 'open' then
    rememberTakeover()
    return finish({ result = 'ignored', reason = why })
  end
  -- A payment with lines, a cancellation or a shipment reached the order first. The cart still
  -- became this order: its hold goes now, as in-order delivery would have it, not at expiry.
  for _, p in ipairs(holdPairs(cart)) do
    local l = cart.lines[p]
    local wb, wp = unwait(l, 'cart', a.cartId, p, l.bo + l.po)
    move(p, 'released', 0, -l.held, 0, 0, 0, 'cart', a.cartId, why, -wb, -wp)
    l.held = 0
  end
  cart.st, cart.lk, cart.exp = 'converted', a.orderId, nil
  saveHold(KEYS[5], 'cart', a.cartId, cart, a.dedupTtl)
  return finish({ result = 'applied', reason = why })
end
local cartOpen = cart.st == 'open'
local need = sumLines(a.lines)
-- what the order takes over from the cart: held units first, then waiting ones (takeW)
local take, takeW = {}, {}
local function takeOver(p)
  local l = cartOpen and cart.lines[p]
  take[p] = l and math.min(l.held, need[p]) or 0
  takeW[p] = l and math.min(l.bo + l.po, need[p] - take[p]) or 0
end
for p in pairs(need) do takeOver(p) end
local routed = a.routed
if routed and #routed > 0 then
  local want, skus = {}, {}
  for _, l in ipairs(routed) do
    if not want[l.sku] then skus[#skus + 1] = l.sku end
    want[l.sku] = (want[l.sku] or 0) + l.quantity
  end
  table.sort(skus)
  local alloc, rshort = allocate(a.route, want, skus, function(p)
    local s = stock(p)
    local held = (cartOpen and cart.lines[p]) and cart.lines[p].held or 0
    return s.onHand - s.reserved - s.unavailable + held - (need[p] or 0)
  end)
  if #rshort > 0 then
    if expireFirst() then return { -5 } end -- EXPIRE_FIRST
    return finish({ result = 'rejected', reason = 'insufficient-stock', short = rshort,
      referenceType = 'order', referenceId = a.orderId })
  end
  for p, q in pairs(alloc) do
    need[p] = (need[p] or 0) + q
    takeOver(p)
  end
end
-- beyond what the cart gives, what is available; beyond that what the policy lets wait
local needPairs = sortedKeys(need)
local credit = {}
for _, p in ipairs(needPairs) do credit[p] = take[p] + takeW[p] end
local supplies, short = supplyLines(needPairs, need, credit)
if #short > 0 then return refuseShort(short, 'order', a.orderId) end
for _, p in ipairs(needPairs) do
  local sup = supplies[p]
  move(p, 'reserved', 0, sup.backed, 0, 0, 0, 'order', a.orderId, '')
  local l = line(order, p)
  l.held, l.ordered = take[p] + sup.backed, need[p]
  if takeW[p] > 0 then
    -- the cart's waiting units become the order's, in the cart's place in the queue
    local cl = cart.lines[p]
    local score = rcall('ZSCORE', waitKey(p), 'cart:' .. a.cartId)
    local wb, wp = unwait(cl, 'cart', a.cartId, p, takeW[p])
    l.bo, l.po = l.bo + wb, l.po + wp
    enqueue(p, 'order', a.orderId, score)
  end
  if sup.rest > 0 then wait(order, 'order', a.orderId, p, sup.rest, sup.backing) end
end
if cartOpen then
  for _, p in ipairs(holdPairs(cart)) do
    local cl = cart.lines[p]
    local left = cl.held - (take[p] or 0)
    local wb, wp = unwait(cl, 'cart', a.cartId, p, cl.bo + cl.po)
    move(p, 'released', 0, -left, 0, 0, 0, 'cart', a.cartId, 'not-ordered', -wb, -wp)
    cl.held = 0
  end
  cart.st, cart.lk, cart.exp = 'converted', a.orderId, nil
  saveHold(KEYS[5], 'cart', a.cartId, cart, a.dedupTtl)
  order.lk = a.cartId
else
  rememberTakeover()
end
order.st = 'placed'
if prior == 'prepaid' then
  -- the backed units are committed now; waiting ones when they are filled
  for _, p in ipairs(needPairs) do
    move(p, 'committed', 0, 0, order.lines[p].held, 0, 0, 'order', a.orderId, '')
  end
  order.st = 'paid'
elseif prior == 'payfailed' then
  for _, p in ipairs(needPairs) do
    local l = order.lines[p]
    local wb, wp = unwait(l, 'order', a.orderId, p, l.bo + l.po)
    move(p, 'released', 0, -l.held, 0, 0, 0, 'order', a.orderId, 'payment-failed', -wb, -wp)
    l.held = 0
  end
  order.st = 'released'
end
saveHold(KEYS[4], 'order', a.orderId, order)
return finish()
