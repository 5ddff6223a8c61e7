--[[
  Stock figures, movements and the close of the event (include after includes/base).
]]
local STOCKS = {}     -- pair -> loaded stock, and [1..n] the pairs in the order first read
local MOVES = {}      -- movements, JSON text each
local HOLDS = {}      -- hold snapshots, JSON text each
local CONFIG = false  -- config changes (tables)
local NET = false     -- location and binding changes (tables)
local PAIR_INDEX      -- pair -> i, built when there are many pairs
local FILL            -- fills waiting holds at a pair (includes/holds defines it; see finish)

-- Position of `pair` among the stock keys passed, or nil.
local function pairSlot(pair)
  local ps = A.pairs
  local n = #ps
  if n <= 8 then
    for i = 1, n do
      if ps[i] == pair then return i end
    end
    return nil
  end
  if not PAIR_INDEX then
    PAIR_INDEX = {}
    for i = n, 1, -1 do PAIR_INDEX[ps[i]] = i end
  end
  return PAIR_INDEX[pair]
end

--[[ A stock hash as read: sku, loc, `raw` (the HMGET reply), the figures onHand, reserved,
  unavailable as numbers, availBefore, and wRes. wOn, wRes, wUna flag the figures a movement
  changed; committed and incoming stay nil until a movement changes them (they are neither
  needed nor written before); reorderLevel and reorderQuantity are set when the hash has them.
  bo and po are the waiting units (backordered, preordered; wWait flags a change). The
  selling-ahead policy (pol nil = deny, plim 0 when absent, pto nil = no end) is read only when
  needed, by stockPolicy.
  finish writes the changed figures and those missing from the hash, which leaves the hash as
  writing all five would. configureStock sets cfgDirty and levelBefore (the level as read).
  (Eight fields to begin with: the smallest table for what every call needs.) ]]
local function stock(pair)
  local s = STOCKS[pair]
  if s then
    return s
  end
  local idx = pairSlot(pair)
  if not idx then
    error('stock key not passed for ' .. pair)
  end
  local v = rcall('HMGET', KEYS[STOCK_BASE + idx], 'onHand', 'reserved', 'committed',
    'unavailable', 'incoming', 'reorderLevel', 'reorderQuantity', 'backordered', 'preordered')
  local i = string.find(pair, SEP, 1, true)
  local onHand, reserved, unavailable = v[1], v[2], v[4]
  -- HMGET gives false for a missing field: figures are 0 then, reorder settings nil
  onHand = onHand and tonumber(onHand) or 0
  reserved = reserved and tonumber(reserved) or 0
  unavailable = unavailable and tonumber(unavailable) or 0
  s = {
    sku = string.sub(pair, 1, i - 1), loc = string.sub(pair, i + 1), raw = v,
    onHand = onHand, reserved = reserved, unavailable = unavailable,
    availBefore = onHand - reserved - unavailable, wRes = false,
    bo = v[8] and tonumber(v[8]) or 0, po = v[9] and tonumber(v[9]) or 0,
  }
  if v[6] then s.reorderLevel = tonumber(v[6]) end
  if v[7] then s.reorderQuantity = tonumber(v[7]) end
  STOCKS[pair] = s
  STOCKS[#STOCKS + 1] = pair
  return s
end

-- Reads the pair's selling-ahead policy into its stock table (once): pol, plim, pto.
local function stockPolicy(pair)
  local s = stock(pair)
  if not s.polRead then
    local v = rcall('HMGET', KEYS[STOCK_BASE + pairSlot(pair)], 'pol', 'plim', 'pto')
    s.pol = v[1] or nil
    s.plim = v[2] and tonumber(v[2]) or 0
    s.pto = v[3] and tonumber(v[3]) or nil
    s.polRead = true
  end
  return s
end

-- Applies deltas (onHand, reserved, committed, unavailable, incoming, and optionally
-- backordered, preordered) and records the movement.
local function move(pair, kind, dOn, dRes, dCom, dUna, dInc, refType, refId, reason, dBo, dPo)
  -- `+ 0` turns -0 (e.g. `-fromHold` when nothing was held) into 0: JSON would say "-0"
  dOn, dRes, dCom, dUna, dInc = dOn + 0, dRes + 0, dCom + 0, dUna + 0, dInc + 0
  dBo, dPo = (dBo or 0) + 0, (dPo or 0) + 0
  if dOn == 0 and dRes == 0 and dCom == 0 and dUna == 0 and dInc == 0 and dBo == 0 and dPo == 0 then
    return
  end
  reason = reason or ''
  local s = stock(pair)
  if dOn ~= 0 then s.onHand = s.onHand + dOn; s.wOn = true end
  if dRes ~= 0 then s.reserved = s.reserved + dRes; s.wRes = true end
  if dCom ~= 0 then s.committed = (s.committed or tonumber(s.raw[3]) or 0) + dCom end
  if dUna ~= 0 then s.unavailable = s.unavailable + dUna; s.wUna = true end
  if dInc ~= 0 then s.incoming = (s.incoming or tonumber(s.raw[5]) or 0) + dInc end
  -- waiting units: in the movement only when they change
  local wt = ''
  if dBo ~= 0 then s.bo = s.bo + dBo; s.wWait = true; wt = ',"backordered":' .. jnum(dBo) end
  if dPo ~= 0 then s.po = s.po + dPo; s.wWait = true; wt = wt .. ',"preordered":' .. jnum(dPo) end
  local json
  if CLEAN then
    json = '{"sku":"' .. s.sku .. '","locationId":"' .. s.loc .. '","kind":"' .. kind
      .. '","onHand":' .. (dOn == 0 and '0' or jnum(dOn))
      .. ',"reserved":' .. (dRes == 0 and '0' or jnum(dRes))
      .. ',"committed":' .. (dCom == 0 and '0' or jnum(dCom))
      .. ',"unavailable":' .. (dUna == 0 and '0' or jnum(dUna))
      .. ',"incoming":' .. (dInc == 0 and '0' or jnum(dInc)) .. wt
      .. ',"referenceType":"' .. refType .. '","referenceId":"' .. refId
      .. '","reason":"' .. reason .. '"}'
  else
    json = cjson.encode({
      sku = s.sku, locationId = s.loc, kind = kind,
      onHand = dOn, reserved = dRes, committed = dCom, unavailable = dUna, incoming = dInc,
      backordered = dBo ~= 0 and dBo or nil, preordered = dPo ~= 0 and dPo or nil,
      referenceType = refType, referenceId = refId, reason = reason,
    })
  end
  MOVES[#MOVES + 1] = json
end

-- Closes the event: writes touched stock, detects low-stock crossings, shortages and
-- crossings of zero (availability), appends the payload to the outbox and writes the marker, all in this one script.
-- `outcome` nil means { result = 'applied' }.
local function finish(outcome)
  local low, neg, flip
  -- stock that became available goes to the holds waiting for it first (includes/holds)
  if FILL then
    for i = 1, #STOCKS do
      local s = STOCKS[STOCKS[i]]
      if s.bo + s.po > 0 and s.onHand - s.reserved - s.unavailable > 0 then
        outcome = FILL(STOCKS[i], s, outcome)
      end
    end
  end
  for i = 1, #STOCKS do
    local pair = STOCKS[i]
    local s = STOCKS[pair]
    local key = KEYS[STOCK_BASE + pairSlot(pair)]
    local raw, wOn, wRes, wUna, com, inc = s.raw, s.wOn, s.wRes, s.wUna, s.committed, s.incoming
    if s.wWait then
      rcall('HSET', key, 'backordered', s.bo, 'preordered', s.po)
    end
    if wOn or wRes or wUna or com or inc then
      -- the changed figures, and those missing from the hash (as writing all five would)
      if wRes and not (wOn or wUna or com or inc) and raw[1] and raw[3] and raw[4] and raw[5] then
        rcall('HSET', key, 'reserved', s.reserved)
      else
        local w, n = {}, 0
        if wOn or not raw[1] then w[n + 1] = 'onHand'; w[n + 2] = s.onHand; n = n + 2 end
        if wRes or not raw[2] then w[n + 1] = 'reserved'; w[n + 2] = s.reserved; n = n + 2 end
        if com or not raw[3] then w[n + 1] = 'committed'; w[n + 2] = com or 0; n = n + 2 end
        if wUna or not raw[4] then w[n + 1] = 'unavailable'; w[n + 2] = s.unavailable; n = n + 2 end
        if inc or not raw[5] then w[n + 1] = 'incoming'; w[n + 2] = inc or 0; n = n + 2 end
        rcall('HSET', key, unpack(w, 1, n))
      end
    end
    local level, levelBefore = s.reorderLevel, s.reorderLevel
    if s.cfgDirty then
      levelBefore = s.levelBefore
      if level then
        rcall('HSET', key, 'reorderLevel', level)
      else
        rcall('HDEL', key, 'reorderLevel')
      end
      if s.reorderQuantity then
        rcall('HSET', key, 'reorderQuantity', s.reorderQuantity)
      else
        rcall('HDEL', key, 'reorderQuantity')
      end
      if s.pol then rcall('HSET', key, 'pol', s.pol) else rcall('HDEL', key, 'pol') end
      if s.plim ~= 0 then rcall('HSET', key, 'plim', s.plim) else rcall('HDEL', key, 'plim') end
      if s.pto then rcall('HSET', key, 'pto', s.pto) else rcall('HDEL', key, 'pto') end
    end
    local a = s.onHand - s.reserved - s.unavailable
    -- a pair with no level of its own has the tenant's default, if any (never written here)
    level, levelBefore = level or DEFAULT_REORDER, levelBefore or DEFAULT_REORDER
    if level ~= nil and a <= level and not (levelBefore ~= nil and s.availBefore <= levelBefore) then
      low = low or {}
      low[#low + 1] = { sku = s.sku, locationId = s.loc, available = a,
        reorderLevel = level, reorderQuantity = s.reorderQuantity or cjson.null }
    end
    if a < 0 and a < s.availBefore then
      neg = neg or {}
      neg[#neg + 1] = { sku = s.sku, locationId = s.loc, available = a }
    end
    -- a crossing of zero over the whole event (one that crosses back announces nothing)
    if (a > 0) ~= (s.availBefore > 0) then
      flip = flip or {}
      flip[#flip + 1] = { sku = s.sku, locationId = s.loc, available = a, inStock = a > 0 }
    end
  end
  if flip and TOTALS then countTotals(flip) end
  local out
  if outcome == nil and not low and not neg and not flip then
    out = '{"result":"applied"}'
  else
    outcome = outcome or { result = 'applied' }
    if low then outcome.lowStock = low end
    if neg then outcome.shortage = neg end
    if flip then outcome.availability = flip end
    out = cjson.encode(outcome)
  end
  -- lists as [a,b] (one element without table.concat), empty ones as {} as cjson has them
  local mo, mj, mc = '[', MOVES[1], ']'
  local n = #MOVES
  if n == 0 then
    mo, mj, mc = '{', '', '}'
  elseif n > 1 then
    mj = table.concat(MOVES, ',')
  end
  local ho, hj, hc = '[', HOLDS[1], ']'
  n = #HOLDS
  if n == 0 then
    ho, hj, hc = '{', '', '}'
  elseif n > 1 then
    hj = table.concat(HOLDS, ',')
  end
  local config = CONFIG and cjson.encode(CONFIG) or '{}'
  if NET then
    config = config .. ',"network":' .. cjson.encode(NET)
  end
  -- the event's kit lines, as the planner tagged them (OutboxPayload.kits)
  if A.kits then
    config = config .. ',"kits":' .. cjson.encode(A.kits)
  end
  -- one concatenation when possible: every intermediate string would be hashed too
  local payload
  if CLEAN and EPOCH then
    payload = '{"tenant":"' .. A.tenant .. '","source":"' .. A.source .. '","id":"' .. A.id
      .. '","type":"' .. A.type .. '","occurredAt":"' .. A.occurredAt .. '","epoch":' .. jnum(EPOCH)
      .. ',"outcome":' .. out .. ',"movements":' .. mo .. mj .. mc .. ',"holds":' .. ho .. hj .. hc
      .. ',"config":' .. config .. (A.traceId and (',"traceId":"' .. A.traceId .. '"') or '') .. '}'
  else
    local head = cjson.encode({ tenant = A.tenant, source = A.source, id = A.id, type = A.type,
      occurredAt = A.occurredAt, epoch = EPOCH, traceId = A.traceId })
    head = head == '{}' and '{' or string.sub(head, 1, -2) .. ','
    payload = head .. '"outcome":' .. out .. ',"movements":' .. mo .. mj .. mc
      .. ',"holds":' .. ho .. hj .. hc .. ',"config":' .. config .. '}'
  end
  local entryId = rcall('XADD', KEYS[3], '*', 'p', payload)
  rcall('SET', KEYS[2], entryId, 'EX', A.dedupTtl)
  return { 1, entryId, payload } -- APPLIED
end
