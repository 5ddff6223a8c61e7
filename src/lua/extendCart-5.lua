--[[
  cart.checkout-started: the shopper reached payment; the cart's hold lasts at least until
  now + ttlMs (never shortened). Nothing moves; the hold's new expiry is saved (and goes to the
  expiry set, so its expiry job and "expire first" follow it).
    KEYS[1..3] meta, marker, outbox (see includes/base.lua)
    KEYS[4]    cart hold hash
    KEYS[5]    cart expiry set (see includes/holds.lua)
    ARGV[1]    JSON { ...base, pairs = {}, cartId, ttlMs, ttlFromEvent? }
               ttlMs: the event's (ttlFromEvent), else the environment's, which the tenant's
               checkoutTtlSeconds in meta (configureTenant-3.lua) replaces
  Output: see includes/base.lua. A cart that is not open (none, converted, released, expired)
  is ignored, and so is one whose expiry is already as late.
]]
--- @include "includes/base"
--- @include "includes/stock"
--- @include "includes/holds"

local a, early = begin(5)
CART_EXP = 5
if not a then return early end
if not a.ttlFromEvent then
  local tenantTtl = rcall('HGET', KEYS[1], 'cfg:checkoutTtlSeconds')
  if tenantTtl then a.ttlMs = tonumber(tenantTtl) * 1000 end
end
local cart = loadHold(KEYS[4])
if cart.st ~= 'open' then
  return finish({ result = 'ignored',
    reason = cart.st == 'converted' and 'cart-converted' or 'no-cart-hold' })
end
local until_ = a.now + a.ttlMs
if cart.exp and tonumber(cart.exp) >= until_ then
  return finish({ result = 'ignored', reason = 'expires-later' })
end
cart.exp = until_
saveHold(KEYS[4], 'cart', a.cartId, cart)
return finish()
