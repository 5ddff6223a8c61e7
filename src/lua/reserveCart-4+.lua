--[[
  cart.added: hold `quantity` more units for the cart if available (cumulative, sliding expiry).
    KEYS[1..3] meta, marker, outbox (see includes/base.lua)
    KEYS[4]    cart hold hash
    KEYS[5]    stock hash of the one pair
    ARGV[1]    JSON { ...base, pairs = {pair}, cartId, quantity, ttlMs }
  Output: see includes/base.lua. Outcome rejected/insufficient-stock names the short line;
  ignored/cart-converted when the cart already became an order.
]]
--- @include "includes/base"

local ctx, early = begin(4)
if not ctx then return early end
local a = ctx.a
local cart = loadHold(KEYS[4])
if cart.st == 'converted' then
  return finish(ctx, { result = 'ignored', reason = 'cart-converted' })
end
local p = a.pairs[1]
local short = shortLines(ctx, { [p] = a.quantity })
if #short > 0 then
  return finish(ctx, { result = 'rejected', reason = 'insufficient-stock', short = short,
    referenceType = 'cart', referenceId = a.cartId })
end
move(ctx, p, 'reserved', { 0, a.quantity }, 'cart', a.cartId, '')
line(cart, p).held = line(cart, p).held + a.quantity
cart.st = 'open'
cart.exp = a.now + a.ttlMs
saveHold(ctx, KEYS[4], 'cart', a.cartId, cart)
return finish(ctx, { result = 'applied' })
