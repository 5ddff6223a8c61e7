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

  The common case (a new order, from an open cart holding only h: lines or from no cart,
  every line located, enough available at each pair for what the cart does not give, no units
  waiting at its pairs, nothing to escape in JSON) takes a fast path, as reserveCart's does:
  it works on the HGETALL and HMGET replies directly. Anything else takes the generic path,
  whose helpers (includes/stock, holds, lines, route) are defined only when it runs. Both leave
  the same hashes and write the same payload (test/engine/fast-paths.test.ts); the fast path
  decides which path to take before it writes anything.
]]
--- @include "includes/base"

local a, early = begin(6)
if not a then return early end
-- the cart's additions this order overtook are not held when they come (see the header);
-- `st`: the cart's state as read
local function rememberTakeover(st)
  if not a.at or st == 'open' or st == 'converted' then return end
  rememberCleared(KEYS[#KEYS], a.at, a.rememberMs)
end
local orderKey, cartKey = KEYS[4], KEYS[5]
-- a new order (nothing in its hash), located lines only
local plain = CLEAN and EPOCH ~= nil and not a.route and (a.routed == nil or #a.routed == 0)
  and rcall('EXISTS', orderKey) == 0
-- the cart as read: cst, cver, cexp; cps[1..ncp] its pairs, cheld[p]
local cflat = plain and rcall('HGETALL', cartKey) or {}
local cn = #cflat
local cst, cver, cexp
local cps, ncp, cheld = {}, 0, {}
local clen, cseps = 0, 0
for i = 1, cn, 2 do
  local f, v = cflat[i], cflat[i + 1]
  clen = clen + #f + #v
  if f == 'st' then
    cst = v
  elseif f == 'v' then
    cver = v
  elseif f == 'exp' then
    cexp = v
  else
    local k1, k2 = string.byte(f, 1, 2)
    local num = tonumber(v)
    -- h: lines (104 h) of more than 0; anything else: the generic path
    if k1 == 104 and k2 == 58 and num and num > 0 then
      cseps = cseps + 1
      local p = string.sub(f, 3)
      ncp = ncp + 1
      cps[ncp] = p
      cheld[p] = num
    else
      plain = false
      break
    end
  end
end
local cartOpen = cst == 'open'
-- an open cart, or none (a cart in another state: the generic path); saveHold writes the
-- cart's snapshot as text only when none of its hash's strings needs escaping
local fast = plain and (cartOpen or cn == 0)
  and (cn == 0 or #cjson.encode(cflat) == clen + 3 * cn + 1 + 5 * cseps)
-- the order's lines: nps[1..np] their pairs, sorted, need[p] the units
local nps, np, need = {}, 0, {}
-- the stock hashes read, in the order the generic path reads them: the lines' pairs, then the
-- cart's other pairs (each sorted); slot and HMGET reply of each
local touched, nt, slots, sv = {}, 0, {}, {}
if fast then
  nps, np, need = linePairs(a.lines)
  if ncp > 1 then table.sort(cps) end
  fast = np > 0
  for i = 1, np do
    nt = nt + 1
    touched[nt] = nps[i]
  end
  for i = 1, ncp do
    local p = cps[i]
    if not need[p] then
      nt = nt + 1
      touched[nt] = p
    end
  end
end
if fast then
  for i = 1, nt do
    local p = touched[i]
    local slot = pairSlot(p)
    if not slot then fast = false; break end
    local v = rcall('HMGET', KEYS[6 + slot], 'onHand', 'reserved', 'committed', 'unavailable',
      'incoming', 'reorderLevel', 'reorderQuantity', 'backordered', 'preordered')
    -- units waiting at the pair: finish would fill them (the generic path)
    if (v[8] and tonumber(v[8]) or 0) + (v[9] and tonumber(v[9]) or 0) > 0 then
      fast = false
      break
    end
    local q = need[p]
    if q then
      -- what the cart does not give must be available (a refusal, or units waiting beyond
      -- what is: the generic path)
      local h = cheld[p]
      local av = (v[1] and tonumber(v[1]) or 0) - (v[2] and tonumber(v[2]) or 0)
        - (v[4] and tonumber(v[4]) or 0)
      if not (q > 0 and av >= q - (h and math.min(h, q) or 0)) then
        fast = false
        break
      end
    end
    slots[i], sv[i] = slot, v
  end
end
if not fast then
  -- the generic path (it reads the order, the cart and the stock again)
--- @include "includes/stock"
--- @include "includes/holds"
--- @include "includes/lines"
--- @include "includes/route"
  CART_EXP = 6
  local order = loadHold(orderKey)
  local cart = loadHold(cartKey)
  if not covers(holdPairs(cart)) then return { RETRY } end
  local prior = order.st
  if prior ~= nil and prior ~= 'prepaid' and prior ~= 'payfailed' then
    local why = prior == 'cancelled' and 'order-cancelled' or 'order-exists'
    if cart.st ~= 'open' then
      rememberTakeover(cart.st)
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
    saveHold(cartKey, 'cart', a.cartId, cart, a.dedupTtl)
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
    saveHold(cartKey, 'cart', a.cartId, cart, a.dedupTtl)
    order.lk = a.cartId
  else
    rememberTakeover(cart.st)
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
  saveHold(orderKey, 'order', a.orderId, order)
  return finish()
end

-- The fast path: what supplyLines, move, saveHold (the cart's, the order's) and finish do for
-- this order. The order takes what the cart holds of its lines (up to each line's units),
-- reserves the rest, and the cart releases what the order does not take.
local orderId, cartId = a.orderId, a.cartId
local moves, nm = {}, 0
local take, dres = {}, {}
local olines, oset, k = {}, {}, 0
for i = 1, np do
  local p = nps[i]
  local q = need[p]
  local h = cartOpen and cheld[p]
  local t = h and math.min(h, q) or 0
  take[p] = t
  local backed = q - (t + 0)
  local d = backed + 0
  local j = string.find(p, SEP, 1, true)
  local sku, loc = string.sub(p, 1, j - 1), string.sub(p, j + 1)
  if d ~= 0 then
    dres[p] = d
    nm = nm + 1
    moves[nm] = '{"sku":"' .. sku .. '","locationId":"' .. loc
      .. '","kind":"reserved","onHand":0,"reserved":' .. jnum(d)
      .. ',"committed":0,"unavailable":0,"incoming":0,"referenceType":"order","referenceId":"'
      .. orderId .. '","reason":""}'
  end
  local held = t + backed
  local ht = jnum(held)
  oset[k + 1] = 'h:' .. p; oset[k + 2] = rtext(held, ht)
  oset[k + 3] = 'o:' .. p; oset[k + 4] = q
  k = k + 4
  olines[i] = '{"sku":"' .. sku .. '","locationId":"' .. loc .. '","held":' .. ht
    .. ',"ordered":' .. jnum(q) .. ',"shipped":0}'
end
local holds
if cartOpen then
  -- the cart releases what the order does not take, and converts
  local cdel = {}
  for i = 1, ncp do
    local p = cps[i]
    local d = -(cheld[p] - (take[p] or 0)) + 0
    if d ~= 0 then
      dres[p] = (dres[p] or 0) + d
      local j = string.find(p, SEP, 1, true)
      nm = nm + 1
      moves[nm] = '{"sku":"' .. string.sub(p, 1, j - 1) .. '","locationId":"'
        .. string.sub(p, j + 1) .. '","kind":"released","onHand":0,"reserved":' .. jnum(d)
        .. ',"committed":0,"unavailable":0,"incoming":0,"referenceType":"cart","referenceId":"'
        .. cartId .. '","reason":"not-ordered"}'
    end
    cdel[i] = 'h:' .. p
  end
  local n = ncp
  if cexp then
    n = n + 1
    cdel[n] = 'exp'
  end
  if n > 0 then rcall('HDEL', cartKey, unpack(cdel, 1, n)) end
  local cv = (tonumber(cver) or 0) + 1
  local cvt = jnum(cv)
  rcall('HSET', cartKey, 'st', 'converted', 'lk', orderId, 'v', rtext(cv, cvt))
  rcall('ZREM', KEYS[6], cartId)
  rcall('EXPIRE', cartKey, a.dedupTtl)
  holds = '{"kind":"cart","id":"' .. cartId .. '","state":"converted","lines":{},"version":'
    .. cvt .. ',"link":"' .. orderId .. '"},'
  oset[k + 1] = 'st'; oset[k + 2] = 'placed'
  oset[k + 3] = 'lk'; oset[k + 4] = cartId
  k = k + 4
else
  holds = ''
  oset[k + 1] = 'st'; oset[k + 2] = 'placed'
  k = k + 2
  if cartId then rememberTakeover(cst) end
end
oset[k + 1] = 'v'; oset[k + 2] = '1'
rcall('HSET', orderKey, unpack(oset, 1, k + 2))
holds = holds .. '{"kind":"order","id":"' .. orderId .. '","state":"placed","lines":['
  .. (np == 1 and olines[1] or table.concat(olines, ',', 1, np)) .. '],"version":1'
  .. (cartOpen and ',"link":"' .. cartId .. '"' or '') .. '}'
-- the stock: reserved where it moved, the figures missing from the hash (as finish writes
-- them); low stock, shortages and crossings of zero, as finish finds them
local low, neg, flip
for i = 1, nt do
  local p = touched[i]
  local v = sv[i]
  local on = v[1] and tonumber(v[1]) or 0
  local res = v[2] and tonumber(v[2]) or 0
  local una = v[4] and tonumber(v[4]) or 0
  local before = on - res - una
  local d = dres[p]
  if d then
    res = res + d
    local key = KEYS[6 + slots[i]]
    if v[1] and v[3] and v[4] and v[5] then
      rcall('HSET', key, 'reserved', res)
    else
      local w, n = {}, 0
      if not v[1] then w[n + 1] = 'onHand'; w[n + 2] = on; n = n + 2 end
      w[n + 1] = 'reserved'; w[n + 2] = res; n = n + 2
      if not v[3] then w[n + 1] = 'committed'; w[n + 2] = 0; n = n + 2 end
      if not v[4] then w[n + 1] = 'unavailable'; w[n + 2] = una; n = n + 2 end
      if not v[5] then w[n + 1] = 'incoming'; w[n + 2] = 0; n = n + 2 end
      rcall('HSET', key, unpack(w, 1, n))
    end
  end
  local av = on - res - una
  local level = v[6] and tonumber(v[6]) or DEFAULT_REORDER
  if level ~= nil and av <= level and not (before <= level) then
    local j = string.find(p, SEP, 1, true)
    low = low or {}
    low[#low + 1] = { sku = string.sub(p, 1, j - 1), locationId = string.sub(p, j + 1),
      available = av, reorderLevel = level,
      reorderQuantity = v[7] and tonumber(v[7]) or cjson.null }
  end
  if av < 0 and av < before then
    local j = string.find(p, SEP, 1, true)
    neg = neg or {}
    neg[#neg + 1] = { sku = string.sub(p, 1, j - 1), locationId = string.sub(p, j + 1),
      available = av }
  end
  if (av > 0) ~= (before > 0) then
    local j = string.find(p, SEP, 1, true)
    flip = flip or {}
    flip[#flip + 1] = { sku = string.sub(p, 1, j - 1), locationId = string.sub(p, j + 1),
      available = av, inStock = av > 0 }
  end
end
if flip and TOTALS then countTotals(flip) end
local out = '{"result":"applied"}'
if low or neg or flip then
  -- the table finish builds, field by field: cjson writes the fields in the same order
  local o = { result = 'applied' }
  if low then o.lowStock = low end
  if neg then o.shortage = neg end
  if flip then o.availability = flip end
  out = cjson.encode(o)
end
local mv = nm == 0 and '{}'
  or '[' .. (nm == 1 and moves[1] or table.concat(moves, ',', 1, nm)) .. ']'
local payload = '{"tenant":"' .. a.tenant .. '","source":"' .. a.source .. '","id":"' .. a.id
  .. '","type":"' .. a.type .. '","occurredAt":"' .. a.occurredAt .. '","epoch":' .. jnum(EPOCH)
  .. ',"outcome":' .. out .. ',"movements":' .. mv .. ',"holds":[' .. holds
  .. '],"config":{}' .. (a.traceId and (',"traceId":"' .. a.traceId .. '"') or '') .. '}'
local entryId = rcall('XADD', KEYS[3], '*', 'p', payload)
rcall('SET', KEYS[2], entryId, 'EX', a.dedupTtl)
return { 1, entryId, payload }
