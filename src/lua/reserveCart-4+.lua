--[[
  cart.added: hold `quantity` more units for the cart if available (cumulative, sliding expiry).
    KEYS[1..3] meta, marker, outbox (see includes/base.lua)
    KEYS[4]    cart hold hash
    KEYS[5]    stock hash of the one pair
    ARGV[1]    JSON { ...base, pairs = {pair}, cartId, quantity, ttlMs }
  Output: see includes/base.lua. Outcome rejected/insufficient-stock names the short line;
  ignored/cart-converted when the cart already became an order.

  This is the busiest script, so the common case (a new or open cart holding only h: lines,
  nothing to escape in JSON) takes a fast path that works on the HGETALL reply directly. Any
  other cart takes the generic path: the same steps with the hold helpers of includes/holds,
  which are defined only when it runs. Both leave the same hash and write the same payload;
  the fast path decides before it writes anything.
]]
--- @include "includes/base"

local a, early = begin(4)
if not a then return early end
local cartKey = KEYS[4]
local flat = rcall('HGETALL', cartKey)
local n = #flat
local p, q = a.pairs[1], a.quantity
local mine = 'h:' .. p
-- the cart as read: st, v, our line's held, the other lines (pair -> held as JSON text)
local st, ver, held, hasMine
-- others: [1..no] the other lines' pairs, and pair -> held as JSON text
local others, no, olen = {}, 0, 0
local plain = CLEAN
for i = 1, n, 2 do
  local f, v = flat[i], flat[i + 1]
  if f == 'st' then
    st = v
  elseif f == 'v' then
    ver = v
  elseif f == 'exp' then
    -- rewritten below
  elseif f == mine then
    held, hasMine = tonumber(v), true
    plain = plain and held ~= nil
  else
    local k1, k2 = string.byte(f, 1, 2)
    local num = k1 == 104 and k2 == 58 and tonumber(v)
    if num and num ~= 0 then
      local op = string.sub(f, 3)
      no = no + 1
      others[no] = op
      olen = olen + #op
      others[op] = jnum(num)
    else
      -- o:/s: lines, other fields, a zero or unreadable held: the generic path
      plain = false
    end
  end
end
if st == 'converted' then
  return finish({ result = 'ignored', reason = 'cart-converted' })
end
held = (held or 0) + q
if not (plain and (st == 'open' or n == 0) and q > 0 and held ~= 0
    -- the other lines' pairs, which go into the JSON, need no escaping: cjson writes them
    -- with \u001f for each separator and nothing else escaped
    and (no == 0 or #cjson.encode(table.concat(others, '', 1, no)) == olen + 2 + 5 * no)) then
  -- the generic path
--- @include "includes/holds"
  local cart = loadHold(cartKey)
  if q > 0 then
    -- shortLines({ [p] = q }) for the one pair
    local s = stock(p)
    local av = s.onHand - s.reserved - s.unavailable
    if av < q then
      return finish({ result = 'rejected', reason = 'insufficient-stock',
        short = { { sku = s.sku, locationId = s.loc, requested = q, available = 0 + math.max(av, 0) } },
        referenceType = 'cart', referenceId = a.cartId })
    end
  end
  move(p, 'reserved', 0, q, 0, 0, 0, 'cart', a.cartId, '')
  local l = line(cart, p)
  l.held = l.held + q
  cart.st = 'open'
  cart.exp = a.now + a.ttlMs
  saveHold(cartKey, 'cart', a.cartId, cart)
  return finish()
end

-- as generic from here on: availability, movement, hold, payload
local s = stock(p)
local av = s.onHand - s.reserved - s.unavailable
if av < q then
  return finish({ result = 'rejected', reason = 'insufficient-stock',
    short = { { sku = s.sku, locationId = s.loc, requested = q, available = 0 + math.max(av, 0) } },
    referenceType = 'cart', referenceId = a.cartId })
end
move(p, 'reserved', 0, q, 0, 0, 0, 'cart', a.cartId, '')
local version = (tonumber(ver) or 0) + 1
local exp = a.now + a.ttlMs
local ht, vt, et = jnum(held), jnum(version), jnum(exp)
-- the hash: our line, state, expiry, version (see saveHold in includes/holds)
if st == 'open' then
  rcall('HSET', cartKey, mine, rtext(held, ht), 'exp', rtext(exp, et), 'v', rtext(version, vt))
else
  rcall('HSET', cartKey, mine, rtext(held, ht), 'st', 'open', 'exp', rtext(exp, et),
    'v', rtext(version, vt))
end
-- the snapshot: lines sorted by pair
no = no + 1
others[no] = p
others[p] = ht
local body
if no == 1 then
  body = '{"sku":"' .. s.sku .. '","locationId":"' .. s.loc .. '","held":' .. ht .. '}'
else
  table.sort(others)
  local parts = { nil, nil, nil, nil }
  for i = 1, no do
    local op = others[i]
    local j = string.find(op, SEP, 1, true)
    parts[i] = '{"sku":"' .. string.sub(op, 1, j - 1) .. '","locationId":"' .. string.sub(op, j + 1)
      .. '","held":' .. others[op] .. '}'
  end
  body = table.concat(parts, ',', 1, no)
end
HOLDS[1] = '{"kind":"cart","id":"' .. a.cartId .. '","state":"open","lines":[' .. body
  .. '],"version":' .. vt .. ',"expiresAt":' .. et .. '}'
return finish()
