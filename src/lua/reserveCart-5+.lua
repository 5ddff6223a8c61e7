--[[
  cart.added: hold `quantity` more units for the cart if available (cumulative, sliding expiry).
    KEYS[1..3] meta, marker, outbox (see includes/base.lua)
    KEYS[4]    cart hold hash
    KEYS[5]    cart expiry set (see includes/holds.lua): the cart's new expiry goes in
    KEYS[6]    stock hash of the one pair (routed: KEYS[6..] each candidate pair)
    KEYS[#KEYS] with `at`: the cart's removals hash (cartrm:<cartId>), after the stock keys
    ARGV[1]    JSON { ...base, pairs = {pair}, cartId, sku, quantity, ttlMs, route?, due?, at?,
                      kit? = { locs, components = {{sku, quantity}} } }
               ttlMs: the environment's cart TTL; the tenant's cartTtlSeconds in meta wins
               kit: `sku` is a kit (src/domain/kits.ts), `quantity` kits; the pairs are every
               component at each of `locs`
  A kit takes `quantity` x its quantity of every component at the first of `locs` where all of
  them are available (stock on hand only: no policy lets kit units wait), or nothing: the
  refusal names the short components at the first location (locationId '*' when there is none).
  With `route` (no location named, a tenant with locations) the SKU is allocated by
  includes/route, and the hold may span locations.
  Output: see includes/base.lua. Outcome rejected/insufficient-stock names the short line;
  ignored/cart-converted when the cart already became an order. With `due`, a refusal while
  another cart is past its expiry is EXPIRE_FIRST instead (see includes/holds.lua).
  With `at` (the event's time), a removal or clearing of the cart applied already but later
  by time takes back what it could not find then (see releaseCart): the addition holds that
  much less, ignored/removed-later when nothing is left.

  This is the busiest script, so the common case (a new or open cart holding only h: lines,
  nothing to escape in JSON) takes a fast path: it works on the HGETALL and HMGET replies
  directly and writes the payload in one concatenation. Any other cart takes the generic path,
  the same steps with the helpers of includes/stock and includes/holds, which are defined
  only when it runs. Both leave the same hashes and write the same payload; the fast path
  decides which path to take before it writes anything.
]]
--- @include "includes/base"

local a, early = begin(5)
if not a then return early end
-- the tenant's cart TTL (tenant.configured, see configureTenant-3.lua) replaces the
-- environment's the caller passed
if CART_TTL_S then a.ttlMs = CART_TTL_S * 1000 end
local cartKey = KEYS[4]
local flat = rcall('HGETALL', cartKey)
local n = #flat
local p, q = a.pairs[1] or '', a.quantity
local mine = 'h:' .. p
-- the cart as read: st, v, our line's held; others: [1..no] the other lines' pairs, and
-- pair -> held as JSON text
local st, ver, held, hasMine
local others, no, olen = {}, 0, 0
local plain = CLEAN and EPOCH ~= nil
-- cut: units of this addition that a removal applied already, but later by time, took back
-- (owed: what that removal is still owed after it, when it named units)
local cut, owed, owedAt
if a.at then
  local rm = rcall('HMGET', KEYS[#KEYS], '*', a.sku)
  local clearedAt = tonumber(rm[1])
  if clearedAt and a.at < clearedAt then
    cut = q
  elseif rm[2] then
    local bar = string.find(rm[2], '|', 1, true)
    local t, u = tonumber(string.sub(rm[2], 1, bar - 1)), string.sub(rm[2], bar + 1)
    if a.at < t then
      if u == 'all' then
        cut = q
      else
        cut = math.min(q, tonumber(u))
        owed, owedAt = tonumber(u) - cut, t
      end
    end
  end
  if cut then plain = false end
end
for i = 1, n, 2 do
  local f, v = flat[i], flat[i + 1]
  if f == 'st' then
    st = v
  elseif f == 'v' then
    ver = v
  elseif f == 'exp' then
    -- rewritten below; one later than this addition's (a checkout's) is kept: the generic path
    local e = tonumber(v)
    if e and e > a.now + a.ttlMs then plain = false end
  elseif f == mine then
    held, hasMine = tonumber(v), true
    plain = plain and held ~= nil
  else
    local k1, k2 = string.byte(f, 1, 2)
    local num = k1 == 104 and k2 == 58 and tonumber(v) -- h:
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
held = (held or 0) + q
local fast = plain and not a.route and (st == 'open' or n == 0) and q > 0 and held ~= 0
  -- the other lines' pairs, which go into the JSON, need no escaping: cjson writes them with
  -- \u001f for each separator and nothing else escaped
  and (no == 0 or #cjson.encode(table.concat(others, '', 1, no)) == olen + 2 + 5 * no)
local stockKey = KEYS[6]
local sv, sku, loc, onHand, reserved, unavailable, av
if fast then
  -- in a batch, the pair's figures as an earlier fast-path event of the batch left them (see
  -- BATCH.stock in includes/base.lua)
  sv = BATCH and BATCH.stock and BATCH.stock[stockKey]
  if not sv then
    sv = rcall('HMGET', stockKey, 'onHand', 'reserved', 'committed', 'unavailable', 'incoming',
      'reorderLevel', 'reorderQuantity')
  end
  onHand, reserved, unavailable = sv[1], sv[2], sv[4]
  onHand = onHand and tonumber(onHand) or 0
  reserved = reserved and tonumber(reserved) or 0
  unavailable = unavailable and tonumber(unavailable) or 0
  av = onHand - reserved - unavailable
  -- a refusal (nothing written but the outcome) takes the generic path too
  fast = av >= q
end
if not fast then
  -- the generic path (it reads the cart and the stock again, and writes stock the batch's
  -- figures would not follow): the batch's held-back writes are made first
  if BATCH then BATCH.flush() end
--- @include "includes/stock"
--- @include "includes/holds"
--- @include "includes/route"
  CART_EXP = 5
  local cart = loadHold(cartKey)
  -- what the removal is still owed, written once this addition is applied or ignored
  local function settleCut()
    if owed == nil then return end
    if owed > 0 then
      rcall('HSET', KEYS[#KEYS], a.sku, owedAt .. '|' .. owed)
    else
      rcall('HDEL', KEYS[#KEYS], a.sku)
    end
  end
  -- now + the TTL, unless the cart is open with a later expiry (a checkout's): never shortened
  local function slidExp()
    local next, cur = a.now + a.ttlMs, cart.st == 'open' and tonumber(cart.exp)
    if cur and cur > next then return cur end
    return next
  end
  if cart.st == 'converted' then
    return finish({ result = 'ignored', reason = 'cart-converted' })
  end
  if cut then
    q = q - cut
    if q == 0 then
      settleCut()
      return finish({ result = 'ignored', reason = 'removed-later' })
    end
  end
  if a.kit then
    -- q kits: q x quantity of every component, all at one location (the first of a.kit.locs
    -- where every component is available), from stock on hand only
    local comps, chosen, short = a.kit.components, nil, nil
    for _, loc in ipairs(a.kit.locs) do
      local miss
      for _, k in ipairs(comps) do
        local s = stock(pairOf(k[1], loc))
        local av = s.onHand - s.reserved - s.unavailable
        if av < q * k[2] then
          miss = miss or {}
          miss[#miss + 1] = { sku = k[1], locationId = loc, requested = q * k[2],
            available = math.max(av, 0) }
        end
      end
      if not miss then chosen = loc break end
      short = short or miss
    end
    if not chosen then
      if not short then
        -- no location stocks every component
        short = {}
        for i, k in ipairs(comps) do
          short[i] = { sku = k[1], locationId = '*', requested = q * k[2], available = 0 }
        end
      end
      if expireFirst() then return { -5 } end -- EXPIRE_FIRST
      return finish({ result = 'rejected', reason = 'insufficient-stock', short = short,
        referenceType = 'cart', referenceId = a.cartId })
    end
    for _, k in ipairs(comps) do
      local kp = pairOf(k[1], chosen)
      move(kp, 'reserved', 0, q * k[2], 0, 0, 0, 'cart', a.cartId, '')
      local l = line(cart, kp)
      l.held = l.held + q * k[2]
    end
    cart.exp = slidExp()
    cart.st = 'open'
    saveHold(cartKey, 'cart', a.cartId, cart)
    settleCut()
    return finish()
  end
  if a.route then
    local alloc, short = allocate(a.route, { [a.sku] = q }, { a.sku }, function(rp)
      local s = stock(rp)
      return s.onHand - s.reserved - s.unavailable
    end)
    if #short > 0 then
      if expireFirst() then return { -5 } end -- EXPIRE_FIRST
      return finish({ result = 'rejected', reason = 'insufficient-stock', short = short,
        referenceType = 'cart', referenceId = a.cartId })
    end
    for _, rp in ipairs(sortedKeys(alloc)) do
      move(rp, 'reserved', 0, alloc[rp], 0, 0, 0, 'cart', a.cartId, '')
      local l = line(cart, rp)
      l.held = l.held + alloc[rp]
    end
    cart.exp = slidExp()
    cart.st = 'open'
    saveHold(cartKey, 'cart', a.cartId, cart)
    settleCut()
    return finish()
  end
  -- what is available is held; beyond it the pair's policy may let the rest wait
  local sup = supply(p, q)
  if sup.short then
    local s = stock(p)
    if expireFirst() then return { -5 } end -- EXPIRE_FIRST
    return finish({ result = 'rejected', reason = 'insufficient-stock',
      short = { { sku = s.sku, locationId = s.loc, requested = q, available = 0 + sup.can } },
      referenceType = 'cart', referenceId = a.cartId })
  end
  move(p, 'reserved', 0, sup.backed, 0, 0, 0, 'cart', a.cartId, '')
  local l = line(cart, p)
  l.held = l.held + sup.backed
  if sup.rest > 0 then wait(cart, 'cart', a.cartId, p, sup.rest, sup.backing) end
  cart.exp = slidExp()
  cart.st = 'open'
  saveHold(cartKey, 'cart', a.cartId, cart)
  settleCut()
  return finish()
end

-- The fast path: what stock, move, saveHold and finish do, for this one pair and cart.
local j = string.find(p, SEP, 1, true)
sku, loc = string.sub(p, 1, j - 1), string.sub(p, j + 1)
-- stock: reserved, and the figures missing from the hash (writing all five would add them)
reserved = reserved + q
if not (sv[1] and sv[3] and sv[4] and sv[5]) then
  sv[1], sv[3], sv[4], sv[5] = onHand, tonumber(sv[3]) or 0, unavailable, tonumber(sv[5]) or 0
  rcall('HSET', stockKey, 'onHand', onHand, 'reserved', reserved, 'committed', sv[3],
    'unavailable', unavailable, 'incoming', sv[5])
elseif BATCH then
  -- written when the batch's run of fast-path reservations ends (BATCH.flush, script-batch.ts)
  BATCH.deferStock(stockKey)
else
  rcall('HSET', stockKey, 'reserved', reserved)
end
-- the figures as this event leaves the hash, for the batch's next fast-path event
sv[2] = reserved
if BATCH then
  local kept = BATCH.stock
  if not kept then kept = {}; BATCH.stock = kept end
  kept[stockKey] = sv
end
-- a reservation lowers `available` and never below 0: a low-stock crossing, never a shortage
-- (and av >= q > 0 here: taking the last units is a crossing of zero, to out of stock)
local out = '{"result":"applied"}'
-- (the pair's own level, else the tenant's default: tenant.configured)
local level = sv[6] and tonumber(sv[6]) or DEFAULT_REORDER
local lowLine, flip
if level and av - q <= level and not (av <= level) then
  lowLine = { { sku = sku, locationId = loc, available = av - q, reorderLevel = level,
    reorderQuantity = sv[7] and tonumber(sv[7]) or cjson.null } }
end
if av == q then
  flip = { { sku = sku, locationId = loc, available = 0, inStock = false } }
  -- one in-stock location fewer for the SKU's total (see finish in includes/stock)
  if TOTALS then
    local key = string.sub(KEYS[1], 1, -5) .. 'instock'
    local c = rcall('HINCRBY', key, sku, -1)
    if c <= 0 then rcall('HDEL', key, sku) end
    if c == 0 then flip[2] = { sku = sku, available = 0, inStock = false } end
  end
end
if lowLine or flip then
  -- the table finish builds, field by field: cjson writes the fields in the same order
  local o = { result = 'applied' }
  if lowLine then o.lowStock = lowLine end
  if flip then o.availability = flip end
  out = cjson.encode(o)
end
-- the cart: our line, state, expiry, version
local version = (tonumber(ver) or 0) + 1
local exp = a.now + a.ttlMs
local ht, vt, et = jnum(held), jnum(version), jnum(exp)
if st == 'open' then
  rcall('HSET', cartKey, mine, rtext(held, ht), 'exp', rtext(exp, et), 'v', rtext(version, vt))
else
  rcall('HSET', cartKey, mine, rtext(held, ht), 'st', 'open', 'exp', rtext(exp, et),
    'v', rtext(version, vt))
end
if BATCH then
  BATCH.deferExpiry(KEYS[5], rtext(exp, et), a.cartId) -- (as the stock's, above)
else
  rcall('ZADD', KEYS[5], rtext(exp, et), a.cartId)
end
-- the snapshot's lines, sorted by pair
local lines
if no == 0 then
  lines = '{"sku":"' .. sku .. '","locationId":"' .. loc .. '","held":' .. ht .. '}'
else
  no = no + 1
  others[no] = p
  others[p] = ht
  table.sort(others)
  local parts = { nil, nil, nil, nil }
  for i = 1, no do
    local op = others[i]
    local k = string.find(op, SEP, 1, true)
    parts[i] = '{"sku":"' .. string.sub(op, 1, k - 1) .. '","locationId":"'
      .. string.sub(op, k + 1) .. '","held":' .. others[op] .. '}'
  end
  lines = table.concat(parts, ',', 1, no)
end
local cartId = a.cartId
local payload = '{"tenant":"' .. a.tenant .. '","source":"' .. a.source .. '","id":"' .. a.id
  .. '","type":"' .. a.type .. '","occurredAt":"' .. a.occurredAt .. '","epoch":' .. jnum(EPOCH)
  .. ',"outcome":' .. out
  .. ',"movements":[{"sku":"' .. sku .. '","locationId":"' .. loc
  .. '","kind":"reserved","onHand":0,"reserved":' .. jnum(q)
  .. ',"committed":0,"unavailable":0,"incoming":0,"referenceType":"cart","referenceId":"'
  .. cartId .. '","reason":""}],"holds":[{"kind":"cart","id":"' .. cartId
  .. '","state":"open","lines":[' .. lines .. '],"version":' .. vt .. ',"expiresAt":' .. et
  .. '}],"config":{}' .. (a.traceId and (',"traceId":"' .. a.traceId .. '"') or '') .. '}'
local entryId = rcall('XADD', KEYS[3], '*', 'p', payload)
rcall('SET', KEYS[2], entryId, 'EX', a.dedupTtl)
return { 1, entryId, payload }
