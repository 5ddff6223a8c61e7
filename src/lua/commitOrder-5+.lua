--[[
  payment.succeeded: the order's hold is committed. The first success commits; later ones
  (split payments) change nothing. An order with no hold is reserved now from `lines`, or
  from the lines it was placed with, less what already shipped; with neither it waits as
  `prepaid` for order.placed.
    KEYS[1..3] meta, marker, outbox (see includes/base.lua)
    KEYS[4]    order hold hash
    KEYS[5]    cart expiry set (see includes/holds.lua): read only, on a refusal
    KEYS[6..]  stock hashes: every pair the order holds or ordered, and of `lines`
    ARGV[1]    JSON { ...base, pairs, orderId, paymentId, lines?, due? }
  Output: see includes/base.lua; with `due`, EXPIRE_FIRST instead of a refusal for want of
  stock while a cart is past its expiry (see includes/holds.lua)

  The common case (a placed order's first payment, its hash holding only st, v, lk, exp and
  h:/o: lines, every line held, no units waiting at its pairs, nothing to escape in JSON) takes
  a fast path, as reserveCart's does: it works on the HGETALL and HMGET replies directly and
  writes the payload in one concatenation. Anything else takes the generic path, whose helpers
  (includes/stock, holds, lines) are defined only when it runs. Both leave the same hashes and
  write the same payload (test/engine/fast-paths.test.ts); the fast path decides which path to
  take before it writes anything.
]]
--- @include "includes/base"

local a, early = begin(5)
if not a then return early end
local orderKey = KEYS[4]
local flat = rcall('HGETALL', orderKey)
local n = #flat
-- the order as read: st, v, exp, lk; ps[1..np] its pairs, held[p], ordered[p] (c and pay, a
-- payment already recorded: the generic path)
local o = readOrderHash(flat, n)
local st, ver, exp, lk = o.st, o.v, o.exp, o.lk
local ps, np, held, ordered = o.ps, o.np, o.held, o.ordered
local plain = CLEAN and EPOCH ~= nil and n > 0 and type(a.paymentId) == 'string' and o.plain
  and o.c == nil and o.pay == nil
local len, seps = o.len, o.seps
local fast = plain and st == 'placed'
  -- saveHold writes the snapshot as text only when none of the hash's strings needs escaping
  and #cjson.encode(flat) == len + 3 * n + 1 + 5 * seps
local slots, sv
if fast then
  if np > 1 then table.sort(ps) end
  slots, sv = {}, {}
  for i = 1, np do
    local p = ps[i]
    local hp = held[p]
    local slot = pairSlot(p)
    -- a line not held (held 0 or less), a pair not passed (RETRY): the generic path
    if not slot or not (hp > 0) then fast = false; break end
    local v = rcall('HMGET', KEYS[5 + slot], 'onHand', 'reserved', 'committed', 'unavailable',
      'incoming', 'backordered', 'preordered')
    -- units waiting where some are available: finish would fill them (the generic path)
    local w = (v[6] and tonumber(v[6]) or 0) + (v[7] and tonumber(v[7]) or 0)
    if w > 0 and (v[1] and tonumber(v[1]) or 0) - (v[2] and tonumber(v[2]) or 0)
        - (v[4] and tonumber(v[4]) or 0) > 0 then
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
  CART_EXP = 5
  local order = loadHold(orderKey)
  if not covers(holdPairs(order)) then return { RETRY } end
  if order.c == '1' then
    return finish({ result = 'ignored', reason = 'already-committed' })
  end
  if order.st == 'cancelled' then
    return finish({ result = 'ignored', reason = 'order-cancelled' })
  end
  order.c, order.pay = '1', a.paymentId
  if order.st == 'placed' then
    for _, p in ipairs(holdPairs(order)) do
      move(p, 'committed', 0, 0, order.lines[p].held, 0, 0, 'order', a.orderId, '')
    end
    order.st = 'paid'
  elseif order.st == 'fulfilled' then
    -- shipped before it was paid: nothing is held any more, the payment is only recorded
    order.st = 'fulfilled'
  else
    -- no hold (unknown, prepaid, payfailed or released): reserve now if we know the lines
    local need = {}
    if a.lines ~= nil and #a.lines > 0 then
      need = sumLines(a.lines)
    else
      for _, p in ipairs(holdPairs(order)) do
        if order.lines[p].ordered > 0 then need[p] = order.lines[p].ordered end
      end
    end
    -- units already shipped (payment.failed after a partial shipment) are not held again
    for _, p in ipairs(sortedKeys(need)) do
      local l = order.lines[p]
      if l and l.shipped > 0 then
        need[p] = need[p] > l.shipped and need[p] - l.shipped or nil
      end
    end
    local needPairs = sortedKeys(need)
    if #needPairs == 0 and order.st == 'released' then
      -- placed, released, and every unit shipped since: only the payment is recorded
      order.st = 'fulfilled'
      saveHold(orderKey, 'order', a.orderId, order)
      return finish()
    end
    if #needPairs == 0 then
      order.st = 'prepaid'
      saveHold(orderKey, 'order', a.orderId, order)
      return finish({ result = 'applied', reason = 'awaiting-order' })
    end
    -- what is available, and beyond it what the pair's policy lets wait
    local supplies, short = supplyLines(needPairs, need)
    if #short > 0 then return refuseShort(short, 'order', a.orderId) end
    for _, p in ipairs(needPairs) do
      local sup = supplies[p]
      move(p, 'reserved', 0, sup.backed, 0, 0, 0, 'order', a.orderId, '')
      move(p, 'committed', 0, 0, sup.backed, 0, 0, 'order', a.orderId, '')
      local l = line(order, p)
      l.held = sup.backed
      if l.ordered == 0 then l.ordered = need[p] end
      if sup.rest > 0 then wait(order, 'order', a.orderId, p, sup.rest, sup.backing) end
    end
    order.st = 'paid'
  end
  saveHold(orderKey, 'order', a.orderId, order)
  return finish()
end

-- The fast path: what move('committed'), saveHold and finish do for this order. Committing
-- changes no `available`: no low stock, shortage or crossing of zero, and nothing to fill.
local orderId, pay = a.orderId, a.paymentId
local moves, lines = {}, {}
for i = 1, np do
  local p = ps[i]
  local v = sv[i]
  local hp = held[p] + 0
  local j = string.find(p, SEP, 1, true)
  local sku, loc = string.sub(p, 1, j - 1), string.sub(p, j + 1)
  -- stock: committed, and the figures missing from the hash (writing all five would add them)
  local com = (tonumber(v[3]) or 0) + hp
  if v[1] and v[2] and v[4] and v[5] then
    rcall('HSET', KEYS[5 + slots[i]], 'committed', com)
  else
    local w, k = {}, 0
    if not v[1] then w[k + 1] = 'onHand'; w[k + 2] = 0; k = k + 2 end
    if not v[2] then w[k + 1] = 'reserved'; w[k + 2] = 0; k = k + 2 end
    w[k + 1] = 'committed'; w[k + 2] = com; k = k + 2
    if not v[4] then w[k + 1] = 'unavailable'; w[k + 2] = 0; k = k + 2 end
    if not v[5] then w[k + 1] = 'incoming'; w[k + 2] = 0; k = k + 2 end
    rcall('HSET', KEYS[5 + slots[i]], unpack(w, 1, k))
  end
  local ht = jnum(hp)
  moves[i] = '{"sku":"' .. sku .. '","locationId":"' .. loc
    .. '","kind":"committed","onHand":0,"reserved":0,"committed":' .. ht
    .. ',"unavailable":0,"incoming":0,"referenceType":"order","referenceId":"' .. orderId
    .. '","reason":""}'
  lines[i] = '{"sku":"' .. sku .. '","locationId":"' .. loc .. '","held":' .. ht
    .. ',"ordered":' .. jnum(ordered[p] or 0) .. ',"shipped":0}'
end
-- the order: paid, its payment, version
local version = (tonumber(ver) or 0) + 1
local vt = jnum(version)
rcall('HSET', orderKey, 'st', 'paid', 'c', '1', 'pay', pay, 'v', rtext(version, vt))
local expiresAt = exp and tonumber(exp)
local et = expiresAt and jnum(expiresAt)
local hold = '{"kind":"order","id":"' .. orderId .. '","state":"paid","lines":['
  .. (np == 1 and lines[1] or table.concat(lines, ',', 1, np)) .. '],"version":' .. vt
  .. (et and ',"expiresAt":' .. et or '') .. (lk and ',"link":"' .. lk .. '"' or '')
  .. ',"paid":true,"paymentId":"' .. pay .. '"}'
local payload = '{"tenant":"' .. a.tenant .. '","source":"' .. a.source .. '","id":"' .. a.id
  .. '","type":"' .. a.type .. '","occurredAt":"' .. a.occurredAt .. '","epoch":' .. jnum(EPOCH)
  .. ',"outcome":{"result":"applied"},"movements":['
  .. (np == 1 and moves[1] or table.concat(moves, ',', 1, np)) .. '],"holds":[' .. hold
  .. '],"config":{}' .. (a.traceId and (',"traceId":"' .. a.traceId .. '"') or '') .. '}'
local entryId = rcall('XADD', KEYS[3], '*', 'p', payload)
rcall('SET', KEYS[2], entryId, 'EX', a.dedupTtl)
return { 1, entryId, payload }
