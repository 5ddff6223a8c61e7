--[[
  Holds: a hash per cart, order or transfer (include after includes/base).
    st  state          v  version (increments on every change)
    exp cart expiry ms lk link (cart -> order, order -> cart)   c  1 once an order is paid
    pay payment id     from, to  a transfer's locations
    h:<pair> held   o:<pair> ordered   s:<pair> shipped (each only when not 0)
    b:<pair> waiting under a backorder policy   p:<pair> waiting under a pre-order policy
    x:<shipmentId> what a shipment of an order moved (see shipmentRecord below)
  TypeScript reads and writes the same layout in one place, src/engine/hold-hash.ts;
  test/engine/hold-hash.test.ts checks that the two agree.

  A loaded hold is { lines = pair -> { held, ordered, shipped, bo, po }, ships = shipmentId ->
  record text, st, exp, lk, c, pay, from, to, v, exists } plus what saveHold needs to write only what changed: the values as read
  (st0, exp0, ..., and h0/o0/s0/b0/p0 in each line: the number read, nil when absent), `pairs`
  (the pairs of `lines`), and `flat`, `len`, `seps` (the HGETALL reply, the length of its
  strings, its number of line fields).
]]
--- @include "includes/lines"

-- The KEYS index of the tenant's cart expiry set (sorted set: member cartId, score the cart's
-- expiry in ms). Every script that saves a cart sets it; saveHold keeps the set in step with
-- the carts' hashes, so the open carts past their expiry are found without the job runner.
local CART_EXP

--[[ EXPIRE_FIRST instead of a refusal for want of stock: the caller asked for it (A.due) and a
  cart hold has outlived its expiry. The caller expires the due carts, as their expiry jobs
  would, and applies the event again; nothing is written here. Only ever called on the
  refusal path, so a reservation that succeeds costs nothing more. ]]
local function expireFirst()
  return A.due == true
    and #rcall('ZRANGEBYSCORE', KEYS[CART_EXP], '-inf', A.now, 'LIMIT', 0, 1) > 0
end

local function loadHold(key)
  local flat = rcall('HGETALL', key)
  local n = #flat
  local lines, ps, np = {}, {}, 0
  local h = { lines = lines, pairs = ps, flat = flat, exists = n > 0, odd = false,
    len = 0, seps = 0, ships = {}, ships0 = {}, nships = 0 }
  local len, seps = 0, 0
  for i = 1, n, 2 do
    local f, v = flat[i], flat[i + 1]
    len = len + #f + #v
    if f == 'st' then
      h.st = v; h.st0 = v
    elseif f == 'v' then
      h.v = v
    elseif f == 'exp' then
      h.exp = v; h.exp0 = v
    elseif f == 'lk' then
      h.lk = v; h.lk0 = v
    elseif f == 'c' then
      h.c = v; h.c0 = v
    elseif f == 'pay' then
      h.pay = v; h.pay0 = v
    elseif f == 'from' then
      h.from = v; h.from0 = v
    elseif f == 'to' then
      h.to = v; h.to0 = v
    else
      local k1, k2 = string.byte(f, 1, 2)
      -- 58 ':'; 104 h, 111 o, 115 s, 98 b, 112 p
      if k2 == 58 and (k1 == 104 or k1 == 111 or k1 == 115 or k1 == 98 or k1 == 112) then
        seps = seps + 1
        local p = string.sub(f, 3)
        local num = tonumber(v)
        local l = lines[p]
        if not l then
          l = { held = 0, ordered = 0, shipped = 0, bo = 0, po = 0 }
          lines[p] = l
          np = np + 1
          ps[np] = p
        end
        if k1 == 104 then
          l.held = num; l.h0 = num
        elseif k1 == 111 then
          l.ordered = num; l.o0 = num
        elseif k1 == 115 then
          l.shipped = num; l.s0 = num
        elseif k1 == 98 then
          l.bo = num; l.b0 = num
        else
          l.po = num; l.p0 = num
        end
      elseif k2 == 58 and k1 == 120 then
        -- 120 x: a shipment's record
        local id = string.sub(f, 3)
        h.ships[id] = v; h.ships0[id] = v
        h.nships = h.nships + 1
      else
        -- a field saveHold does not write: it rewrites such a hash whole
        h.odd = true
      end
    end
  end
  h.len, h.seps = len, seps
  return h
end

--[[ A shipment's record (src/domain/shipment-record.ts): 's', then per pair in byte order
  '\30<held>\29<beyond>\29<pair>'; 'c' once cancelled. `held`: units the order was owed there
  (held or waiting) that shipped; `beyond`: units shipped past them. ]]
local CANCELLED_SHIPMENT = 'c'

local function encodeShipment(rec)
  local out = { 's' }
  for _, p in ipairs(sortedKeys(rec)) do
    local r = rec[p]
    out[#out + 1] = '\30' .. r.held .. '\29' .. r.beyond .. '\29' .. p
  end
  return table.concat(out)
end

-- The record's lines (pair -> { held, beyond }), nil when cancelled.
local function decodeShipment(text)
  if text == CANCELLED_SHIPMENT then return nil end
  local rec = {}
  for held, beyond, p in string.gmatch(text, '\30(%d+)\29(%d+)\29([^\30]*)') do
    rec[p] = { held = tonumber(held), beyond = tonumber(beyond) }
  end
  return rec
end

-- Sets a shipment's record on hold h.
local function setShipment(h, id, text)
  if h.ships[id] == nil then h.nships = h.nships + 1 end
  h.ships[id] = text
end

local function holdPairs(h)
  return sortedKeys(h.lines)
end

local function line(h, p)
  local l = h.lines[p]
  if not l then
    l = { held = 0, ordered = 0, shipped = 0, bo = 0, po = 0 }
    h.lines[p] = l
    local ps = h.pairs
    ps[#ps + 1] = p
  end
  return l
end

-- A field that saveHold writes only when it changed: `value` (nil or 0 means absent) against
-- `old`, what loadHold read (nil when absent). Appends to `set` (name, value) or `del`.
local function diffField(w, name, value, old, text)
  if value ~= nil and value ~= 0 then
    if value ~= old then
      local ns = w.ns
      w.set[ns + 1] = name; w.set[ns + 2] = text or value; w.ns = ns + 2
    end
  elseif old then
    local del = w.del or {}
    del[#del + 1] = name
    w.del = del
  end
end

-- A snapshot line as JSON text (`clean`: every string needs no escaping), else as a table.
local function snapshotLine(p, l, ht, cart, clean)
  local held, bo, po = l.held, l.bo, l.po
  local j = string.find(p, SEP, 1, true)
  local sku, loc = string.sub(p, 1, j - 1), string.sub(p, j + 1)
  if clean then
    -- waiting units (backorders, pre-orders) only when there are any
    local wt = ''
    if bo ~= 0 then wt = ',"backordered":' .. jnum(bo) end
    if po ~= 0 then wt = wt .. ',"preordered":' .. jnum(po) end
    return '{"sku":"' .. sku .. '","locationId":"' .. loc .. '","held":'
      .. (ht or jnum(held))
      .. (cart and wt .. '}' or ',"ordered":' .. jnum(l.ordered) .. ',"shipped":' .. jnum(l.shipped) .. wt .. '}')
  elseif cart then
    return { sku = sku, locationId = loc, held = held,
      backordered = bo ~= 0 and bo or nil, preordered = po ~= 0 and po or nil }
  end
  return { sku = sku, locationId = loc, held = held, ordered = l.ordered,
    shipped = l.shipped, backordered = bo ~= 0 and bo or nil, preordered = po ~= 0 and po or nil }
end

-- The hold's snapshot for the mirror; fields left out when nil, as cjson leaves them out.
local function holdSnapshot(kind, id, h, snapLines, nl, clean, v, vt, expiresAt, et)
  local st, lk, c, pay, from, to = h.st, h.lk, h.c, h.pay, h.from, h.to
  if not clean then
    return cjson.encode({ kind = kind, id = id, state = st, lines = snapLines, version = v,
      expiresAt = expiresAt, link = lk, paid = c == '1' or nil, paymentId = pay,
      fromLocationId = from, toLocationId = from and to,
      shipments = h.nships > 0 and h.ships or nil })
  end
  local lo, lj, lc = '[', snapLines[1], ']'
  if nl == 0 then
    lo, lj, lc = '{', '', '}'
  elseif nl > 1 then
    lj = table.concat(snapLines, ',', 1, nl)
  end
  return '{"kind":"' .. kind .. '","id":"' .. id .. '",'
    .. (st and '"state":"' .. st .. '",' or '')
    .. '"lines":' .. lo .. lj .. lc .. ',"version":' .. vt
    .. (et and ',"expiresAt":' .. et or '')
    .. (lk and ',"link":"' .. lk .. '"' or '')
    .. (c == '1' and ',"paid":true' or '')
    .. (pay and ',"paymentId":"' .. pay .. '"' or '')
    .. (from and ',"fromLocationId":"' .. from .. '"'
      .. (to and ',"toLocationId":"' .. to .. '"' or '') or '')
    .. '}'
end

-- Keeps the tenant's cart expiry set in step with a cart saved open or no longer open.
local function syncCartExpiry(id, h, expiresAt, et)
  local st = h.st
  if st == 'open' and expiresAt then
    if h.exp ~= h.exp0 or st ~= h.st0 then
      rcall('ZADD', KEYS[CART_EXP or error('saveHold: CART_EXP not set')],
        et and rtext(expiresAt, et) or expiresAt, id)
    end
  elseif h.st0 == 'open' then
    rcall('ZREM', KEYS[CART_EXP or error('saveHold: CART_EXP not set')], id)
  end
end

-- A hash with fields loadHold did not know is rewritten whole, as it always was.
local function rewriteHold(key, h, v)
  rcall('DEL', key)
  local fields, n = {}, 0
  local lines = h.lines
  for _, p in ipairs(h.pairs) do
    local l = lines[p]
    if l.held ~= 0 then fields[n + 1] = 'h:' .. p; fields[n + 2] = l.held; n = n + 2 end
    if l.ordered ~= 0 then fields[n + 1] = 'o:' .. p; fields[n + 2] = l.ordered; n = n + 2 end
    if l.shipped ~= 0 then fields[n + 1] = 's:' .. p; fields[n + 2] = l.shipped; n = n + 2 end
    if l.bo ~= 0 then fields[n + 1] = 'b:' .. p; fields[n + 2] = l.bo; n = n + 2 end
    if l.po ~= 0 then fields[n + 1] = 'p:' .. p; fields[n + 2] = l.po; n = n + 2 end
  end
  for sid, text in pairs(h.ships) do
    fields[n + 1] = 'x:' .. sid; fields[n + 2] = text; n = n + 2
  end
  for _, f in ipairs({ 'st', 'exp', 'lk', 'c', 'pay', 'from', 'to' }) do
    local x = h[f]
    if x then fields[n + 1] = f; fields[n + 2] = x; n = n + 2 end
  end
  fields[n + 1] = 'v'; fields[n + 2] = v
  rcall('HSET', key, unpack(fields))
end

--[[ Writes the hold back and records its snapshot for the mirror.
  `keep` (seconds): expire the key then (terminal states); nil keeps it; `drop` deletes it.
  The hash ends up as if deleted and rewritten with every non-zero line, the set fields of st
  exp lk c pay from to, and v (which drops any expiry unless `keep`), but only the fields that
  differ from what loadHold read are written or deleted. The snapshot is JSON text written
  directly when every string in it is known to need no escaping: those from ARGV (CLEAN) and
  those the hash had (cjson then encodes the HGETALL reply to exactly the length of its
  strings quoted, but for the \u001f in each line field); else cjson encodes it. ]]
local function saveHold(key, kind, id, h, keep, drop)
  local v = (tonumber(h.v) or 0) + 1
  local lines, ps = h.lines, h.pairs
  local np = #ps
  if np > 1 then
    table.sort(ps)
  end
  local nflat = #h.flat
  -- (a shipment's record holds separators that JSON escapes: never clean)
  local clean = CLEAN and h.nships == 0
    and (nflat == 0 or #cjson.encode(h.flat) == h.len + 3 * nflat + 1 + 5 * h.seps)
  local cart = kind == 'cart'
  -- (nil-filled constructors size the array parts: no resize while filling them)
  local snapLines, nl = { nil, nil, nil, nil }, 0
  local w = { set = { nil, nil, nil, nil, nil, nil, nil, nil }, ns = 0, del = nil }
  for i = 1, np do
    local p = ps[i]
    local l = lines[p]
    local held = l.held
    local ht = (held ~= 0 and held ~= l.h0) and jnum(held) or nil
    diffField(w, 'h:' .. p, held, l.h0, ht and rtext(held, ht))
    diffField(w, 'o:' .. p, l.ordered, l.o0)
    diffField(w, 's:' .. p, l.shipped, l.s0)
    diffField(w, 'b:' .. p, l.bo, l.b0)
    diffField(w, 'p:' .. p, l.po, l.p0)
    if held ~= 0 or l.ordered ~= 0 or l.shipped ~= 0 or l.bo ~= 0 or l.po ~= 0 then
      nl = nl + 1
      snapLines[nl] = snapshotLine(p, l, ht, cart, clean)
    end
  end
  local exp = h.exp
  local expiresAt = exp and tonumber(exp)
  local vt, et = jnum(v), expiresAt and jnum(expiresAt)
  diffField(w, 'st', h.st, h.st0)
  diffField(w, 'exp', exp, h.exp0, exp and exp == expiresAt and rtext(exp, et) or nil)
  diffField(w, 'lk', h.lk, h.lk0)
  diffField(w, 'c', h.c, h.c0)
  diffField(w, 'pay', h.pay, h.pay0)
  diffField(w, 'from', h.from, h.from0)
  diffField(w, 'to', h.to, h.to0)
  if h.nships > 0 then
    local s0 = h.ships0
    for sid, text in pairs(h.ships) do diffField(w, 'x:' .. sid, text, s0[sid]) end
  end
  HOLDS[#HOLDS + 1] = holdSnapshot(kind, id, h, snapLines, nl, clean, v, vt, expiresAt, et)
  if cart then
    -- (a fill changes neither state nor expiry: it may save a cart without the set's key)
    syncCartExpiry(id, h, expiresAt, et)
  end
  if drop then
    rcall('DEL', key)
    return
  end
  if h.odd then
    rewriteHold(key, h, v)
  else
    if w.del then
      rcall('HDEL', key, unpack(w.del))
    end
    local set, ns = w.set, w.ns
    set[ns + 1] = 'v'; set[ns + 2] = rtext(v, vt)
    rcall('HSET', key, unpack(set, 1, ns + 2))
    -- a rewrite would also have dropped the expiry the states saved with `keep` have
    local st0 = h.st0
    if not keep and (st0 == 'converted' or st0 == 'cancelled' or st0 == 'payfailed') then
      rcall('PERSIST', key)
    end
  end
  if keep then
    rcall('EXPIRE', key, keep)
  end
end

--[[ Selling ahead of stock. A pair's policy (stock hash pol, plim, pto; see includes/stock)
  lets a hold take more than is available: the rest WAITS, counted in the stock's backordered
  or preordered (not in reserved) and in the hold line's bo or po (fields b:/p:). Each pair has
  a queue of the holds waiting there, oldest first: a sorted set, member 'cart:<id>' or
  'order:<id>', score a per-tenant sequence (meta field wseq). Every script that includes this
  file is passed, after the stock keys, the queue of each pair in the same order (waitKey).
  Waiting units of a line are taken backordered first, then preordered, wherever they go
  (released, shipped, filled, taken over by an order).
  The one exception to "every key is passed": a fill (FILL, below) loads and saves the holds it
  finds in the queue, whose ids no caller knows beforehand. Their keys are built from KEYS[1]'s
  base and so share its hash tag: the script still touches one cluster slot. ]]
local HOLD_BASE = string.sub(KEYS[1], 1, -5) -- the tenant's key base: KEYS[1] is <base>meta

-- The wait queue of a pair passed in A.pairs.
local function waitKey(p)
  return KEYS[STOCK_BASE + #A.pairs + (pairSlot(p) or error('wait queue not passed for ' .. p))]
end

-- Units the pair's policy still lets wait now, and the backing they would have.
local function waitCapacity(s)
  local pol = s.pol
  if pol == 'backorder' then
    return math.max(s.plim - s.bo, 0), 'backorder'
  elseif pol == 'preorder' and (s.pto == nil or A.now < s.pto) then
    return math.max(s.plim - s.po, 0), 'preorder'
  end
  return 0, nil
end

--[[ How `extra` more units can be had at pair `p`: backed (from available), and the rest that
  would wait with its backing. short is true when the policy cannot take the rest; `can` is
  what could be had (for the short line). ]]
local function supply(p, extra)
  local s = stock(p)
  local avail = s.onHand - s.reserved - s.unavailable
  if avail >= extra then
    return { backed = extra, rest = 0 }
  end
  local backed = math.max(avail, 0)
  local cap, backing = waitCapacity(stockPolicy(p))
  return { backed = backed, rest = extra - backed, backing = backing,
    short = extra - backed > cap, can = backed + cap }
end

--[[ For each pair of `ps` (in that order), how `need[p]` less `credit[p]` (a table, or nil: 0)
  more units can be had; and the short lines (requested `need[p]`, available the credit and what
  could be had) where the policy cannot take the rest. The model's supplyLines. ]]
local function supplyLines(ps, need, credit)
  local supplies, short = {}, {}
  for _, p in ipairs(ps) do
    local c = credit and credit[p] or 0
    local sup = supply(p, need[p] - c)
    if sup.short then
      local sku, loc = splitPair(p)
      short[#short + 1] = { sku = sku, locationId = loc, requested = need[p], available = c + sup.can }
    end
    supplies[p] = sup
  end
  return supplies, short
end

--[[ The refusal of a reservation that is short: EXPIRE_FIRST when the caller asked and carts are
  past their expiry (see expireFirst), else the rejected outcome naming the short lines. ]]
local function refuseShort(short, refType, refId)
  if expireFirst() then return { -5 } end -- EXPIRE_FIRST
  return finish({ result = 'rejected', reason = 'insufficient-stock', short = short,
    referenceType = refType, referenceId = refId })
end

-- Queues hold `kind:id` at pair `p` unless it waits there already (it keeps its place).
local function enqueue(p, kind, id, score)
  local wkey = waitKey(p)
  local m = kind .. ':' .. id
  if not rcall('ZSCORE', wkey, m) then
    rcall('ZADD', wkey, score or rcall('HINCRBY', KEYS[1], 'wseq', 1), m)
  end
end

local function dequeue(p, kind, id)
  rcall('ZREM', waitKey(p), kind .. ':' .. id)
end

-- `n` units of hold h's line at p start waiting with `backing` (a movement of that kind).
local function wait(h, kind, id, p, n, backing)
  local l = line(h, p)
  if backing == 'backorder' then
    l.bo = l.bo + n
    move(p, 'backordered', 0, 0, 0, 0, 0, kind, id, '', n, 0)
  else
    l.po = l.po + n
    move(p, 'preordered', 0, 0, 0, 0, 0, kind, id, '', 0, n)
  end
  enqueue(p, kind, id)
end

--[[ Takes up to `n` waiting units off line l of hold kind:id at p (backordered first); the
  hold leaves the pair's queue when none are left. Returns the units taken by backing; the
  caller puts them into its movement. ]]
local function unwait(l, kind, id, p, n)
  local tb = math.min(n, l.bo)
  local tp = math.min(n - tb, l.po)
  l.bo, l.po = l.bo - tb, l.po - tp
  if (tb > 0 or tp > 0) and l.bo + l.po == 0 then dequeue(p, kind, id) end
  return tb, tp
end

--[[ finish's fill (see includes/stock): what is available at the pair goes to the holds
  waiting there, oldest first. Each fill is a `filled` movement (waiting -> reserved, and
  committed when the order is paid), a snapshot of the hold, and a line of outcome.filled. ]]
FILL = function(pair, s, outcome)
  local wkey = waitKey(pair)
  local avail = s.onHand - s.reserved - s.unavailable
  local filled = outcome and outcome.filled or {}
  while avail > 0 and s.bo + s.po > 0 do
    local members = rcall('ZRANGE', wkey, 0, 49)
    if #members == 0 then break end
    for _, m in ipairs(members) do
      if avail <= 0 then break end
      local c = string.find(m, ':', 1, true)
      local kind, id = string.sub(m, 1, c - 1), string.sub(m, c + 1)
      local key = HOLD_BASE .. m
      local h = loadHold(key)
      local l = h.lines[pair]
      local w = l and l.bo + l.po or 0
      if w <= 0 then
        -- nothing waits there any more (cannot happen while every script keeps the queues)
        rcall('ZREM', wkey, m)
      else
        local t = math.min(avail, w)
        local tb, tp = unwait(l, kind, id, pair, t)
        move(pair, 'filled', 0, t, h.c == '1' and t or 0, 0, 0, kind, id, '', -tb, -tp)
        l.held = l.held + t
        saveHold(key, kind, id, h)
        avail = avail - t
        filled[#filled + 1] = { referenceType = kind, referenceId = id, sku = s.sku,
          locationId = s.loc, quantity = t, backordered = tb, preordered = tp }
      end
    end
  end
  if #filled == 0 then return outcome end
  outcome = outcome or { result = 'applied' }
  outcome.filled = filled
  return outcome
end
