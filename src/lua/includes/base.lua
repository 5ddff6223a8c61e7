--[[
  Shared by every stock script (included at load time, see src/engine/scripts.ts).

  Every script takes the same three leading keys:
    KEYS[1] tenant meta hash   field `epoch`; missing means Redis lost this tenant (NOT_READY)
    KEYS[2] event marker       string: the outbox entry id of the event's first application
    KEYS[3] outbox stream      one entry per applied event, field `p` = JSON payload
  then the script's own fixed keys, then one stock hash per entry of `pairs`.

    ARGV[1] JSON: { tenant, source, id, type, occurredAt, now (ms), dedupTtl (s),
                    pairs = { "sku\31location", ... } in the order of the stock keys,
                    ...the operation's own fields }

  Returns one of
    { 1, entryId, payload }      APPLIED: the change and its outbox entry, written atomically
    { 0, entryId [, payload] }   DUPLICATE: already applied; payload while still in the outbox
    { -1 }                       NOT_READY: tenant not loaded in Redis; nothing written
    { -2 }                       RETRY: a hold has lines whose stock keys were not passed
    { -3, reason }               NOT_YET: a precondition may still arrive; nothing written
]]
local rcall = redis.call
local APPLIED, DUPLICATE, NOT_READY, RETRY, NOT_YET = 1, 0, -1, -2, -3
local SEP = '\31'

local STOCK_FIELDS = { 'onHand', 'reserved', 'committed', 'unavailable', 'incoming',
  'reorderLevel', 'reorderQuantity' }

local function splitPair(pair)
  local i = string.find(pair, SEP, 1, true)
  return string.sub(pair, 1, i - 1), string.sub(pair, i + 1)
end

local function pairOf(sku, loc)
  return sku .. SEP .. loc
end

-- Opens the event: checks the tenant is loaded and the event is new.
-- Returns ctx, or nil and the reply to return as is.
local function begin(stockBase)
  local epoch = rcall('HGET', KEYS[1], 'epoch')
  if not epoch then
    return nil, { NOT_READY }
  end
  local seen = rcall('GET', KEYS[2])
  if seen then
    local pending = rcall('XRANGE', KEYS[3], seen, seen)
    if #pending > 0 then
      return nil, { DUPLICATE, seen, pending[1][2][2] }
    end
    return nil, { DUPLICATE, seen }
  end
  local a = cjson.decode(ARGV[1])
  local ctx = {
    a = a, epoch = tonumber(epoch), stockBase = stockBase,
    pairIndex = {}, stocks = {}, order = {},
    movements = {}, holds = {}, config = {},
  }
  for i, p in ipairs(a.pairs) do
    ctx.pairIndex[p] = i
  end
  return ctx, nil
end

-- True when every pair is among the stock keys passed (else the caller must re-plan: RETRY).
local function covers(ctx, pairs)
  for _, p in ipairs(pairs) do
    if not ctx.pairIndex[p] then
      return false
    end
  end
  return true
end

local function stock(ctx, pair)
  local s = ctx.stocks[pair]
  if s then
    return s
  end
  local idx = ctx.pairIndex[pair]
  if not idx then
    error('stock key not passed for ' .. pair)
  end
  local key = KEYS[ctx.stockBase + idx]
  local v = rcall('HMGET', key, unpack(STOCK_FIELDS))
  local sku, loc = splitPair(pair)
  s = {
    key = key, sku = sku, loc = loc,
    onHand = tonumber(v[1]) or 0, reserved = tonumber(v[2]) or 0, committed = tonumber(v[3]) or 0,
    unavailable = tonumber(v[4]) or 0, incoming = tonumber(v[5]) or 0,
    reorderLevel = tonumber(v[6]), reorderQuantity = tonumber(v[7]),
  }
  s.availBefore = s.onHand - s.reserved - s.unavailable
  s.levelBefore = s.reorderLevel
  ctx.stocks[pair] = s
  table.insert(ctx.order, pair)
  return s
end

local function avail(s)
  return s.onHand - s.reserved - s.unavailable
end

-- Applies deltas {onHand, reserved, committed, unavailable, incoming} and records the movement.
local function move(ctx, pair, kind, d, refType, refId, reason)
  -- `+ 0` turns -0 (e.g. `-fromHold` when nothing was held) into 0: cjson would write "-0"
  local dOn, dRes, dCom, dUna, dInc =
    (d[1] or 0) + 0, (d[2] or 0) + 0, (d[3] or 0) + 0, (d[4] or 0) + 0, (d[5] or 0) + 0
  if dOn == 0 and dRes == 0 and dCom == 0 and dUna == 0 and dInc == 0 then
    return
  end
  local s = stock(ctx, pair)
  s.onHand = s.onHand + dOn
  s.reserved = s.reserved + dRes
  s.committed = s.committed + dCom
  s.unavailable = s.unavailable + dUna
  s.incoming = s.incoming + dInc
  s.dirty = true
  table.insert(ctx.movements, {
    sku = s.sku, locationId = s.loc, kind = kind,
    onHand = dOn, reserved = dRes, committed = dCom, unavailable = dUna, incoming = dInc,
    referenceType = refType, referenceId = refId, reason = reason or '',
  })
end

-- Sorted keys of a table, so that every script walks lines in the same order as the model.
local function sortedKeys(t)
  local out = {}
  for k in pairs(t) do
    table.insert(out, k)
  end
  table.sort(out)
  return out
end

-- Sums quantities of `lines` ({sku, locationId, quantity}) by pair.
local function sumLines(lines)
  local need = {}
  for _, l in ipairs(lines) do
    local p = pairOf(l.sku, l.locationId)
    need[p] = (need[p] or 0) + l.quantity
  end
  return need
end

-- Checks every pair of `need` has `available >= need[p] - (credit[p] or 0)`;
-- returns the list of short lines (empty when all fit).
local function shortLines(ctx, need, credit)
  local short = {}
  for _, p in ipairs(sortedKeys(need)) do
    local c = credit and credit[p] or 0
    local extra = need[p] - c
    if extra > 0 then
      local s = stock(ctx, p)
      local a = avail(s)
      if a < extra then
        table.insert(short, { sku = s.sku, locationId = s.loc, requested = need[p],
          available = c + math.max(a, 0) })
      end
    end
  end
  return short
end

--[[ Holds: a hash per cart, order or transfer.
  st  state          v  version (increments on every change)
  exp cart expiry ms lk link (cart -> order, order -> cart)   c  1 once an order is paid
  pay payment id     h:<pair> held   o:<pair> ordered   s:<pair> shipped   q:<sku> transfer qty
]]
local function loadHold(key)
  local flat = rcall('HGETALL', key)
  local h = { lines = {} }
  local any = false
  for i = 1, #flat, 2 do
    any = true
    local f, v = flat[i], flat[i + 1]
    local kind = string.sub(f, 1, 2)
    if kind == 'h:' or kind == 'o:' or kind == 's:' then
      local p = string.sub(f, 3)
      local line = h.lines[p] or { held = 0, ordered = 0, shipped = 0 }
      local n = tonumber(v)
      if kind == 'h:' then line.held = n elseif kind == 'o:' then line.ordered = n else line.shipped = n end
      h.lines[p] = line
    else
      h[f] = v
    end
  end
  h.exists = any
  return h
end

local function holdPairs(h)
  return sortedKeys(h.lines)
end

local function line(h, p)
  local l = h.lines[p]
  if not l then
    l = { held = 0, ordered = 0, shipped = 0 }
    h.lines[p] = l
  end
  return l
end

-- Writes the hold back whole and records its snapshot for the mirror.
-- `keep` (seconds): expire the key then (terminal states); nil keeps it; `drop` deletes it.
local function saveHold(ctx, key, kind, id, h, keep, drop)
  local v = (tonumber(h.v) or 0) + 1
  rcall('DEL', key)
  local snapLines = {}
  local fields = {}
  for _, p in ipairs(holdPairs(h)) do
    local l = h.lines[p]
    if l.held ~= 0 then table.insert(fields, 'h:' .. p); table.insert(fields, l.held) end
    if l.ordered ~= 0 then table.insert(fields, 'o:' .. p); table.insert(fields, l.ordered) end
    if l.shipped ~= 0 then table.insert(fields, 's:' .. p); table.insert(fields, l.shipped) end
    if l.held ~= 0 or l.ordered ~= 0 or l.shipped ~= 0 then
      local sku, loc = splitPair(p)
      local sl = { sku = sku, locationId = loc, held = l.held }
      if kind ~= 'cart' then sl.ordered = l.ordered; sl.shipped = l.shipped end
      table.insert(snapLines, sl)
    end
  end
  for _, f in ipairs({ 'st', 'exp', 'lk', 'c', 'pay', 'from', 'to' }) do
    if h[f] then table.insert(fields, f); table.insert(fields, h[f]) end
  end
  local snap = { kind = kind, id = id, state = h.st, lines = snapLines, version = v }
  if h.exp then snap.expiresAt = tonumber(h.exp) end
  if h.lk then snap.link = h.lk end
  if h.c == '1' then snap.paid = true end
  if h.pay then snap.paymentId = h.pay end
  if h.from then snap.fromLocationId = h.from; snap.toLocationId = h.to end
  table.insert(ctx.holds, snap)
  if drop then
    return
  end
  table.insert(fields, 'v'); table.insert(fields, v)
  rcall('HSET', key, unpack(fields))
  if keep then
    rcall('EXPIRE', key, keep)
  end
end

-- Closes the event: writes touched stock, detects low-stock crossings and shortages,
-- appends the payload to the outbox and writes the marker, all in this one script.
local function finish(ctx, outcome)
  local low, neg = {}, {}
  for _, p in ipairs(ctx.order) do
    local s = ctx.stocks[p]
    if s.dirty then
      rcall('HSET', s.key, 'onHand', s.onHand, 'reserved', s.reserved, 'committed', s.committed,
        'unavailable', s.unavailable, 'incoming', s.incoming)
    end
    if s.cfgDirty then
      for _, f in ipairs({ 'reorderLevel', 'reorderQuantity' }) do
        if s[f] then rcall('HSET', s.key, f, s[f]) else rcall('HDEL', s.key, f) end
      end
    end
    local a = avail(s)
    local wasLow = s.levelBefore ~= nil and s.availBefore <= s.levelBefore
    local isLow = s.reorderLevel ~= nil and a <= s.reorderLevel
    if isLow and not wasLow then
      table.insert(low, { sku = s.sku, locationId = s.loc, available = a,
        reorderLevel = s.reorderLevel, reorderQuantity = s.reorderQuantity or cjson.null })
    end
    if a < 0 and a < s.availBefore then
      table.insert(neg, { sku = s.sku, locationId = s.loc, available = a })
    end
  end
  if #low > 0 then outcome.lowStock = low end
  if #neg > 0 then outcome.shortage = neg end
  local a = ctx.a
  local payload = cjson.encode({
    tenant = a.tenant, source = a.source, id = a.id, type = a.type, occurredAt = a.occurredAt,
    epoch = ctx.epoch, outcome = outcome,
    movements = ctx.movements, holds = ctx.holds, config = ctx.config,
  })
  local entryId = rcall('XADD', KEYS[3], '*', 'p', payload)
  rcall('SET', KEYS[2], entryId, 'EX', a.dedupTtl)
  return { APPLIED, entryId, payload }
end
