--[[
  shipment.created: the shipped units leave. Held units of the order are shipped first
  (reserved and on-hand drop; committed too when paid); units beyond the hold (an order never
  reserved, or shipped beyond it) leave on-hand only, and a shortage is announced if that
  leaves available below zero. Partial shipments are allowed; when nothing is held any more
  the order is fulfilled. What it moved is kept in the order's hold (x:<shipmentId>, see
  includes/holds) for shipment.cancelled; a shipment id already there is ignored.
    KEYS[1..3] meta, marker, outbox (see includes/base.lua)
    KEYS[4]    order hold hash
    KEYS[5..]  stock hashes of the shipment's pairs
    ARGV[1]    JSON { ...base, pairs, shipmentId, orderId, lines, unlocated?, fallback? }
  `unlocated` lines named no location: they ship from what the order holds of the SKU (pairs in
  order), the rest from the first location the order has the SKU at, else `fallback`; the
  planner then passes every pair of the order too (RETRY if the order gained one since).
  Output: see includes/base.lua

  The common case (a paid order's first shipment, of units it holds at each line's pair, its
  hash holding only st, v, exp, lk, c, pay and h:/o: lines, no units waiting at the pairs, every
  line located, nothing to escape in JSON) takes a fast path, as reserveCart's does: it works on
  the HGETALL and HMGET replies directly. Anything else takes the generic path, whose helpers
  (includes/stock, holds, lines) are defined only when it runs. Both leave the same hashes and
  write the same payload (test/engine/fast-paths.test.ts); the fast path decides which path to
  take before it writes anything.
]]
--- @include "includes/base"

local a, early = begin(4)
if not a then return early end
local orderKey = KEYS[4]
local flat = rcall('HGETALL', orderKey)
local n = #flat
-- the order as read: st, v, exp, lk, c, pay; ps[1..np] its pairs, held[p], ordered[p]
local o = readOrderHash(flat, n)
local st, ver, exp, lk, c, pay = o.st, o.v, o.exp, o.lk, o.c, o.pay
local ps, np, held, ordered = o.ps, o.np, o.held, o.ordered
local plain = CLEAN and EPOCH ~= nil and n > 0 and type(a.shipmentId) == 'string'
  and (a.unlocated == nil or #a.unlocated == 0) and o.plain
local fast = plain and st == 'paid' and c == '1'
-- the shipment: sp[1..ns] its pairs, sorted, ship[p] the units; each within what is held there
local sp, ns, ship = {}, 0, {}
local slots, sv
if fast then
  sp, ns, ship = linePairs(a.lines)
  fast = ns > 0
  slots, sv = {}, {}
  for i = 1, ns do
    local p = sp[i]
    local q, hp = ship[p], held[p]
    local slot = pairSlot(p)
    if not (slot and hp and q > 0 and q <= hp) then fast = false; break end
    local v = rcall('HMGET', KEYS[4 + slot], 'onHand', 'reserved', 'committed', 'unavailable',
      'incoming', 'backordered', 'preordered')
    local on = v[1] and tonumber(v[1]) or 0
    local res = v[2] and tonumber(v[2]) or 0
    local una = v[4] and tonumber(v[4]) or 0
    local av = on - res - una
    -- units waiting where some are available: finish would fill them; and `available` must
    -- come out the same (no low stock, shortage or crossing): else the generic path
    if (v[6] and tonumber(v[6]) or 0) + (v[7] and tonumber(v[7]) or 0) > 0 and av > 0
        or (on - q) - (res - q) - una ~= av then
      fast = false
      break
    end
    slots[i], sv[i] = slot, v
  end
end
if not fast then
  -- the generic path (it reads the order and the stock again)
--- @include "includes/stock"
--- @include "includes/holds"
--- @include "includes/lines"
  local order = loadHold(orderKey)
  if order.ships[a.shipmentId] then
    return finish({ result = 'ignored', reason = 'shipment-exists' })
  end
  local paid = order.c == '1'
  local ship = sumLines(a.lines)
  local unlocated = a.unlocated
  if unlocated and #unlocated > 0 then
    local ps = holdPairs(order)
    if not covers(ps) then return { RETRY } end
    local want, skus = {}, {}
    for _, l in ipairs(unlocated) do
      if not want[l.sku] then skus[#skus + 1] = l.sku end
      want[l.sku] = (want[l.sku] or 0) + l.quantity
    end
    table.sort(skus)
    for _, sku in ipairs(skus) do
      local rem, first = want[sku], nil
      for _, p in ipairs(ps) do
        if splitPair(p) == sku then
          first = first or p
          -- what the order holds there, backed or waiting
          local l = order.lines[p]
          local t = math.min(math.max(l.held + l.bo + l.po - (ship[p] or 0), 0), rem)
          if t > 0 then
            ship[p] = (ship[p] or 0) + t
            rem = rem - t
          end
        end
      end
      if rem > 0 then
        local p = first or pairOf(sku, a.fallback)
        ship[p] = (ship[p] or 0) + rem
      end
    end
  end
  local record = {}
  for _, p in ipairs(sortedKeys(ship)) do
    local q = ship[p]
    local l = line(order, p)
    local fromHold = math.min(q, l.held)
    -- beyond the held units, waiting ones: they were there after all
    local wb, wp = unwait(l, 'order', a.orderId, p, math.min(q - fromHold, l.bo + l.po))
    local owed = fromHold + wb + wp
    record[p] = { held = owed, beyond = q - owed }
    move(p, 'shipped', -q, -fromHold, paid and -fromHold or 0, 0, 0, 'order', a.orderId, '', -wb, -wp)
    l.held = l.held - fromHold
    l.shipped = l.shipped + q
  end
  local holding = false
  for _, p in ipairs(holdPairs(order)) do
    local l = order.lines[p]
    if l.held > 0 or l.bo + l.po > 0 then holding = true end
  end
  if order.st == nil or order.st == 'prepaid' or order.st == 'payfailed' then
    -- shipped before order.placed reached us: a later order.placed must not hold again
    order.st = 'fulfilled'
  elseif not holding and (order.st == 'placed' or order.st == 'paid') then
    order.st = 'fulfilled'
  end
  setShipment(order, a.shipmentId, encodeShipment(record))
  -- a cancelled order keeps the expiry releaseOrder gave it (saveHold rewrites the key whole)
  saveHold(orderKey, 'order', a.orderId, order, order.st == 'cancelled' and a.dedupTtl or nil)
  return finish()
end

-- The fast path: what move('shipped'), unwait, setShipment, saveHold and finish do for this
-- shipment. Held units leave on hand, reserved and committed alike: `available` is unchanged
-- (checked above), so no low stock, shortage or crossing of zero, and nothing to fill.
local orderId, sid = a.orderId, a.shipmentId
local moves, rec = {}, { 's' }
for i = 1, ns do
  local p = sp[i]
  local v = sv[i]
  local q = ship[p]
  local j = string.find(p, SEP, 1, true)
  local sku, loc = string.sub(p, 1, j - 1), string.sub(p, j + 1)
  local d = -q + 0
  -- stock: the three figures, and those missing from the hash (as writing all five would)
  local on = (v[1] and tonumber(v[1]) or 0) + d
  local res = (v[2] and tonumber(v[2]) or 0) + d
  local com = (tonumber(v[3]) or 0) + d
  local key = KEYS[4 + slots[i]]
  if v[4] and v[5] then
    rcall('HSET', key, 'onHand', on, 'reserved', res, 'committed', com)
  elseif v[4] then
    rcall('HSET', key, 'onHand', on, 'reserved', res, 'committed', com, 'incoming', 0)
  elseif v[5] then
    rcall('HSET', key, 'onHand', on, 'reserved', res, 'committed', com, 'unavailable', 0)
  else
    rcall('HSET', key, 'onHand', on, 'reserved', res, 'committed', com, 'unavailable', 0,
      'incoming', 0)
  end
  local dt = jnum(d)
  moves[i] = '{"sku":"' .. sku .. '","locationId":"' .. loc .. '","kind":"shipped","onHand":'
    .. dt .. ',"reserved":' .. dt .. ',"committed":' .. dt
    .. ',"unavailable":0,"incoming":0,"referenceType":"order","referenceId":"' .. orderId
    .. '","reason":""}'
  -- the shipment's record: every unit was owed (held), none beyond
  rec[i + 1] = '\30' .. q .. '\29' .. (q - q) .. '\29' .. p
end
-- the order: each line's held less what shipped, shipped; fulfilled when nothing is held
local holding = false
local set, k, del = {}, 0, nil
local lines, nl = { nil, nil, nil, nil }, 0
if np > 1 then table.sort(ps) end
for i = 1, np do
  local p = ps[i]
  local h0 = held[p]
  local q = ship[p]
  local hp, shipped = h0, 0
  if q then
    hp, shipped = h0 - q, 0 + q
    if hp ~= 0 then
      set[k + 1] = 'h:' .. p; set[k + 2] = rtext(hp, jnum(hp)); k = k + 2
    else
      del = del or {}
      del[#del + 1] = 'h:' .. p
    end
    set[k + 1] = 's:' .. p; set[k + 2] = shipped; k = k + 2
  end
  if hp > 0 then holding = true end
  local o = ordered[p] or 0
  if hp ~= 0 or o ~= 0 or shipped ~= 0 then
    local j = string.find(p, SEP, 1, true)
    nl = nl + 1
    lines[nl] = { sku = string.sub(p, 1, j - 1), locationId = string.sub(p, j + 1), held = hp,
      ordered = o, shipped = shipped, backordered = nil, preordered = nil }
  end
end
if not holding then
  st = 'fulfilled'
  set[k + 1] = 'st'; set[k + 2] = st; k = k + 2
end
local text = table.concat(rec, '', 1, ns + 1)
set[k + 1] = 'x:' .. sid; set[k + 2] = text; k = k + 2
local version = (tonumber(ver) or 0) + 1
set[k + 1] = 'v'; set[k + 2] = rtext(version, jnum(version)); k = k + 2
if del then rcall('HDEL', orderKey, unpack(del)) end
rcall('HSET', orderKey, unpack(set, 1, k))
-- the snapshot as saveHold has it with a shipment record (cjson, the same table)
local ships = {}
ships[sid] = text
local from, to
local hold = cjson.encode({ kind = 'order', id = orderId, state = st, lines = lines,
  version = version, expiresAt = exp and tonumber(exp), link = lk, paid = c == '1' or nil,
  paymentId = pay, fromLocationId = from, toLocationId = from and to, shipments = ships })
local payload = '{"tenant":"' .. a.tenant .. '","source":"' .. a.source .. '","id":"' .. a.id
  .. '","type":"' .. a.type .. '","occurredAt":"' .. a.occurredAt .. '","epoch":' .. jnum(EPOCH)
  .. ',"outcome":{"result":"applied"},"movements":['
  .. (ns == 1 and moves[1] or table.concat(moves, ',', 1, ns)) .. '],"holds":[' .. hold
  .. '],"config":{}' .. (a.traceId and (',"traceId":"' .. a.traceId .. '"') or '') .. '}'
local entryId = rcall('XADD', KEYS[3], '*', 'p', payload)
rcall('SET', KEYS[2], entryId, 'EX', a.dedupTtl)
return { 1, entryId, payload }
