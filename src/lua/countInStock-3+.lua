--[[
  Reconciliation of the SKUs' counts of in-stock locations (the `instock` hash that finish in
  includes/stock keeps for inventory.availability-changed of a SKU's total), in one atomic
  step: for each SKU named, the count as stored and as counted from the stock hashes passed
  (available = onHand - reserved - unavailable > 0). The caller names every pair MySQL or the
  outbox (as read up to entry `since`) knows for the SKU; a SKU that an outbox entry after
  `since` names may have a pair it did not see: it is left alone and reported as moved. With
  `repair`, the counts that differ take the counted value (a SKU with none loses its field).
  Scripts change the counts and the figures together, so what this step counts is exact however
  busy the tenant is.
    KEYS[1]    tenant meta hash (field epoch; missing = tenant not loaded: nothing read)
    KEYS[2]    outbox stream
    KEYS[3]    the tenant's instock hash
    KEYS[4..]  the stock hashes of the SKUs' pairs, SKU by SKU in the order of `skus`
    ARGV[1]    JSON { skus = { sku, ... }, pairs = { how many stock keys each SKU has }, since
                      (an outbox entry id, '0-0' for none), repair }
  Output: { -1 } not loaded; { -2 } loaded without the counts (by an older version: meta has
  no `isc`); { 1, { stored, counted, moved (0/1), ... } } three per SKU
]]
local rcall = redis.call
local meta = rcall('HMGET', KEYS[1], 'epoch', 'isc')
if not meta[1] then
  return { -1 }
end
if not meta[2] then
  return { -2 }
end
local a = cjson.decode(ARGV[1])
-- the payloads appended after `since`
local later = {}
for _, e in ipairs(rcall('XRANGE', KEYS[2], a.since, '+')) do
  if e[1] ~= a.since then later[#later + 1] = e[2][2] end
end
local function named(sku)
  local raw, enc = '"sku":"' .. sku .. '"', '"sku":' .. cjson.encode(sku)
  for _, p in ipairs(later) do
    if string.find(p, raw, 1, true) or string.find(p, enc, 1, true) then return true end
  end
  return false
end
local out, k = {}, 4
for i, sku in ipairs(a.skus) do
  local counted = 0
  for _ = 1, a.pairs[i] do
    local v = rcall('HMGET', KEYS[k], 'onHand', 'reserved', 'unavailable')
    if (tonumber(v[1]) or 0) - (tonumber(v[2]) or 0) - (tonumber(v[3]) or 0) > 0 then
      counted = counted + 1
    end
    k = k + 1
  end
  local stored = tonumber(rcall('HGET', KEYS[3], sku)) or 0
  local moved = named(sku)
  if a.repair and not moved and stored ~= counted then
    if counted > 0 then rcall('HSET', KEYS[3], sku, counted) else rcall('HDEL', KEYS[3], sku) end
  end
  out[#out + 1] = stored
  out[#out + 1] = counted
  out[#out + 1] = moved and 1 or 0
end
return { 1, out }
