--[[
  cart.removed, cart.cleared and cart expiry: release (part of) a cart's hold.
    KEYS[1..3] meta, marker, outbox (see includes/base.lua)
    KEYS[4]    cart hold hash
    KEYS[5]    cart expiry set (see includes/holds.lua): the cart leaves it when released
    KEYS[6..]  stock hashes of every pair the cart holds
    KEYS[#KEYS] with `at`: the cart's removals hash (cartrm:<cartId>), after the wait queues
    ARGV[1]    JSON { ...base, pairs, cartId, mode = 'remove'|'clear'|'expire',
                      sku? (remove), quantity? (remove; absent = all of the SKU),
                      kit? = { components = {{sku, quantity}} } (remove: `sku` is a kit,
                      `quantity` kits; absent quantity = every whole kit the cart holds),
                      expiresAt? (expire: the expiry the job was scheduled for),
                      at?, rememberMs? (remove, clear: the event's time, and how long what it
                      could not find is remembered) }
  Output: see includes/base.lua. An expiry whose cart was refreshed, converted or released
  is ignored, so a late or duplicate job changes nothing.

  Cart removals: with several workers, a removal or clearing may be applied before an addition
  that happened earlier (by the events' CloudEvents `time`). A timed one remembers what it did
  not find for `rememberMs`: a clearing its time (field `*`), a removal its time and the units it
  could not release (field <sku>: '<at>|<units>', or '<at>|all' without a quantity). reserveCart
  takes them off an earlier addition that comes later. Two removals of one SKU remembered at
  once add up, under the later time; `all` outweighs units.
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
-- what a timed removal did not find is remembered (unfound: units, or 'all')
local function remember(unfound)
  if not a.at or a.mode == 'expire' then return end
  local key = KEYS[#KEYS]
  if a.mode == 'clear' then return rememberCleared(key, a.at, a.rememberMs) end
  if unfound ~= 'all' and unfound <= 0 then return end
  local at, units = a.at, unfound
  local was = rcall('HGET', key, a.sku)
  if was then
    local bar = string.find(was, '|', 1, true)
    local t, u = tonumber(string.sub(was, 1, bar - 1)), string.sub(was, bar + 1)
    if t > at then at = t end
    if u == 'all' or units == 'all' then units = 'all' else units = units + tonumber(u) end
  end
  rcall('HSET', key, a.sku, at .. '|' .. units)
  rcall('PEXPIRE', key, a.rememberMs)
end
if cart.st ~= 'open' then
  remember(a.quantity or 'all')
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
-- a kit: units to release by component SKU, quantity x its own (no quantity: every whole kit
-- the cart holds, the least over the components of floor(units held / quantity))
local takes
if a.kit then
  local n = a.quantity
  if n == nil then
    for _, k in ipairs(a.kit.components) do
      local u = 0
      for _, p in ipairs(held) do
        if splitPair(p) == k[1] then
          local l = cart.lines[p]
          u = u + l.held + l.bo + l.po
        end
      end
      local whole = math.floor(u / k[2])
      if n == nil or whole < n then n = whole end
    end
  end
  takes = {}
  for _, k in ipairs(a.kit.components) do takes[k[1]] = n * k[2] end
end
for _, p in ipairs(held) do
  local l = cart.lines[p]
  local sku = splitPair(p)
  local lim = left
  if takes then lim = takes[sku] end
  if a.mode ~= 'remove' or (takes and lim ~= nil) or (not takes and sku == a.sku) then
    -- waiting units go first, then held ones
    local w = l.bo + l.po
    if lim ~= nil then w = math.min(w, lim); lim = lim - w end
    local wb, wp = unwait(l, 'cart', a.cartId, p, w)
    local q = l.held
    if lim ~= nil then q = math.min(q, lim); lim = lim - q end
    if takes then takes[sku] = lim else left = lim end
    if q > 0 or w > 0 then
      move(p, kind, 0, -q, 0, 0, 0, 'cart', a.cartId, '', -wb, -wp)
      l.held = l.held - q
    end
  end
end
if takes and a.quantity then
  -- kits not found: the most any component still lacks, in kits
  left = 0
  for _, k in ipairs(a.kit.components) do
    left = math.max(left, math.ceil(takes[k[1]] / k[2]))
  end
end
remember(a.quantity and left or 'all')
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
