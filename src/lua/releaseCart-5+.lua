--[[
  cart.removed, cart.cleared and cart expiry: release (part of) a cart's hold.
    KEYS[1..3] meta, marker, outbox (see includes/base.lua)
    KEYS[4]    cart hold hash
    KEYS[5]    cart expiry set (see includes/holds.lua): the cart leaves it when released
    KEYS[6..]  stock hashes of every pair the cart holds
    ARGV[1]    JSON { ...base, pairs, cartId, mode = 'remove'|'clear'|'expire',
                      sku? (remove), quantity? (remove; absent = all of the SKU),
                      expiresAt? (expire: the expiry the job was scheduled for) }
  Output: see includes/base.lua. An expiry whose cart was refreshed, converted or released
  is ignored, so a late or duplicate job changes nothing.
]]
--- @include "includes/base"
--- @include "includes/stock"
--- @include "includes/holds"
--- @include "includes/lines"

local a, early = begin(5)
CART_EXP = 5
if not a then return early end
local cart = loadHold(KEYS[4])
local held = holdPairs(cart)
if not covers(held) then return { RETRY } end
if cart.st ~= 'open' then
  -- a set entry without an open cart (a hash lost or rewritten behind the scripts' back) goes
  -- too, or every refusal would ask to expire it again
  rcall('ZREM', KEYS[5], a.cartId)
  return finish({ result = 'ignored', reason = 'no-cart-hold' })
end
if a.mode == 'expire' and tonumber(cart.exp) ~= a.expiresAt then
  if cart.exp then rcall('ZADD', KEYS[5], cart.exp, a.cartId) end
  return finish({ result = 'ignored', reason = 'cart-refreshed' })
end
local kind = a.mode == 'expire' and 'expired' or 'released'
local left = a.quantity
for _, p in ipairs(held) do
  local l = cart.lines[p]
  local sku = splitPair(p)
  if a.mode ~= 'remove' or sku == a.sku then
    -- waiting units go first, then held ones
    local w = l.bo + l.po
    if left ~= nil then w = math.min(w, left); left = left - w end
    local wb, wp = unwait(l, 'cart', a.cartId, p, w)
    local q = l.held
    if left ~= nil then q = math.min(q, left); left = left - q end
    if q > 0 or w > 0 then
      move(p, kind, 0, -q, 0, 0, 0, 'cart', a.cartId, '', -wb, -wp)
      l.held = l.held - q
    end
  end
end
if #MOVES == 0 then
  -- an open cart holding nothing has nothing to expire: it need not be found again
  if a.mode == 'expire' then rcall('ZREM', KEYS[5], a.cartId) end
  return finish({ result = 'ignored', reason = 'nothing-held' })
end
local any = false
for _, p in ipairs(held) do
  local l = cart.lines[p]
  if l.held > 0 or l.bo + l.po > 0 then any = true end
end
if any then
  saveHold(KEYS[4], 'cart', a.cartId, cart)
else
  cart.st = a.mode == 'expire' and 'expired' or 'released'
  saveHold(KEYS[4], 'cart', a.cartId, cart, nil, true)
end
return finish()
