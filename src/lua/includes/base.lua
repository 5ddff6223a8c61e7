--[[
  Shared by every stock script (included at load time, see src/engine/lua-scripts.ts). The helpers
  are split so that a script defines only those it uses: this file opens the event (begin);
  includes/stock reads and writes stock and closes the event (stock, move, finish);
  includes/lines has the line helpers; includes/holds reads and writes holds.

  Every script takes the same three leading keys:
    KEYS[1] tenant meta hash   field `epoch`; missing means Redis lost this tenant (NOT_READY);
                               on a Redis Cluster, field `node`: the id of the node the
                               tenant was loaded on (publishEpoch-1.lua; see NODE_CHANGED);
                               field `isc`: the load built the SKUs' in-stock counts (a
                               tenant loaded by an older version has none: no totals)
    KEYS[2] event marker       string: the outbox entry id of the event's first application
    KEYS[3] outbox stream      one entry per applied event, field `p` = JSON payload
  then the script's own fixed keys, then one stock hash per entry of `pairs`, then (scripts
  that include includes/holds) the wait queue of each entry of `pairs`, in the same order.

    ARGV[1] JSON: { tenant, source, id, type, occurredAt, now (ms), dedupTtl (s), nv?, cl?,
                    traceId? (32 hex digits, copied into the payload),
                    pairs = { "sku\31location", ... } in the order of the stock keys,
                    ...the operation's own fields }

  Returns one of
    { 1, entryId, payload }      APPLIED: the change and its outbox entry, written atomically
    { 0, entryId [, payload] }   DUPLICATE: already applied; payload while still in the outbox
    { -1 }                       NOT_READY: tenant not loaded in Redis; nothing written
    { -2 }                       RETRY: a hold has lines whose stock keys were not passed
    { -3, reason }               NOT_YET: a precondition may still arrive; nothing written
    { -4 }                       STALE_NETWORK: ARGV.nv (the version of the tenant's locations
                                 and bindings the planner used) is not meta's; nothing written
    { -5 }                       EXPIRE_FIRST: a reservation would be refused for want of stock
                                 while a cart hold is past its expiry; nothing written (see
                                 expireFirst in includes/holds.lua)
    { -6, node }                 NODE_CHANGED: on a Redis Cluster (ARGV.cl), this node is not
                                 the one that made the tenant's writes (`node`): a replica
                                 promoted after its master died, which may lack the master's
                                 last writes (replication is asynchronous), or a slot moved.
                                 Nothing written; the worker reloads the tenant from MySQL.

  Cost. These scripts run for every event inside Redis's single thread, and most of their time
  goes to Lua itself rather than to the Redis commands. Each call makes anew every closure
  defined here (with its upvalues), every table and table field, and every string; Redis's Lua
  hashes every byte of every string it makes; and every number handed to redis.call or cjson
  is printed with printf. Hence: the state of a call lives in locals rather than in a context
  table; a script defines only the helpers it uses; hashes are updated in place, leaving them
  as a whole rewrite would; only figures that changed are written; and the payload is written
  as JSON text in few concatenations, cjson encoding only what may need escaping (see CLEAN).
  The payload's fields and values are those cjson gave when it encoded the whole payload;
  only the order of the fields differs.
]]
local rcall = redis.call
-- reply codes (the helpers below write them as literals: a local they use costs an upvalue)
local APPLIED, DUPLICATE, NOT_READY, RETRY, NOT_YET = 1, 0, -1, -2, -3
local SEP = '\31'

-- State of this call (this file is inlined into each script: these locals live for one call).
local A          -- ARGV[1] decoded
local EPOCH      -- the tenant's epoch, a number
local STOCK_BASE -- the stock key of A.pairs[i] is KEYS[STOCK_BASE + i]
local CLEAN      -- every string in ARGV[1] can go into JSON as it is
local TOTALS     -- the load built the SKUs' in-stock counts (meta `isc`): keep them (includes/stock)
local CART_TTL_S -- the tenant's cart TTL in seconds (tenant.configured, meta `cfg:cartTtlSeconds`)
local DEFAULT_REORDER -- the tenant's reorder level of a pair with none (`cfg:defaultReorderLevel`)

--[[ The SKU's total: <base>instock counts, per SKU, its locations with available > 0 (a SKU
  with none has no field). Only a crossing at a location changes it, so an event without one
  costs nothing. The total crosses when the count leaves or reaches 0; it is then what its
  in-stock locations have, all of them among this event's crossings (0 when out). `flip` is the
  event's crossings at locations ({sku, locationId, available, inStock}); the SKUs' total
  crossings are appended to it. Called by finish (includes/stock) and the fast paths, only
  when TOTALS. ]]
local function countTotals(flip)
  local nf = #flip
  local d, pos, skus, ns = {}, {}, {}, 0
  for i = 1, nf do
    local l = flip[i]
    local k = l.sku
    if not d[k] then d[k] = 0; pos[k] = 0; ns = ns + 1; skus[ns] = k end
    if l.inStock then d[k] = d[k] + 1; pos[k] = pos[k] + l.available else d[k] = d[k] - 1 end
  end
  local key = string.sub(KEYS[1], 1, -5) .. 'instock'
  for i = 1, ns do
    local k = skus[i]
    local dk = d[k]
    if dk ~= 0 then
      local c = rcall('HINCRBY', key, k, dk)
      -- (below 0 only after a change behind the scripts: the reconciliation counts again)
      if c <= 0 then rcall('HDEL', key, k) end
      if (c > 0) ~= (c - dk > 0) then
        nf = nf + 1
        flip[nf] = { sku = k, available = c > 0 and pos[k] or 0, inStock = c > 0 }
      end
    end
  end
end

-- The fast paths' helpers. The index of pair p in A.pairs (its stock hash is
-- KEYS[STOCK_BASE + index]), or nil when the caller did not pass it.
local function pairSlot(p)
  local ap = A.pairs
  for k = 1, #ap do
    if ap[k] == p then return k end
  end
end

-- An order's hash as its HGETALL reply `flat` (n entries) gives it to a fast path: o.st, o.v,
-- o.exp, o.lk, o.c, o.pay; o.ps[1..o.np] the pairs of its h: and o: lines (hash order), o.held[p]
-- and o.ordered[p]; o.len, the length of every field and value read; o.seps, the lines read.
-- o.plain is false, and reading stops, at anything else (s:/b:/p:/x: lines, other fields, a line
-- of 0, which saveHold would delete): the generic path.
local function readOrderHash(flat, n)
  local o = { ps = {}, np = 0, held = {}, ordered = {}, len = 0, seps = 0, plain = true }
  local held, ordered = o.held, o.ordered
  for i = 1, n, 2 do
    local f, v = flat[i], flat[i + 1]
    o.len = o.len + #f + #v
    if f == 'st' or f == 'v' or f == 'exp' or f == 'lk' or f == 'c' or f == 'pay' then
      o[f] = v
    else
      local k1, k2 = string.byte(f, 1, 2)
      local num = tonumber(v)
      -- h: and o: lines (104 h, 111 o)
      if k2 == 58 and (k1 == 104 or k1 == 111) and num and num > 0 then
        o.seps = o.seps + 1
        local p = string.sub(f, 3)
        if not held[p] then
          o.np = o.np + 1
          o.ps[o.np] = p
          held[p] = 0
        end
        if k1 == 104 then held[p] = num else ordered[p] = num end
      else
        o.plain = false
        break
      end
    end
  end
  return o
end

-- Located lines ({sku, locationId, quantity}) summed by pair: the pairs sorted, their number,
-- and pair -> units.
local function linePairs(lines)
  local ps, n, units = {}, 0, {}
  for i = 1, #lines do
    local l = lines[i]
    local p = l.sku .. SEP .. l.locationId
    local q = units[p]
    if not q then
      n = n + 1
      ps[n] = p
      q = 0
    end
    units[p] = q + l.quantity
  end
  if n > 1 then table.sort(ps) end
  return ps, n, units
end

-- A cart's removals hash (see releaseCart-5+.lua): the cart was cleared at `at` (epoch ms),
-- or taken over by an order of that time, unless a later clearing is remembered already; kept
-- `ms` more.
local function rememberCleared(key, at, ms)
  local was = tonumber(rcall('HGET', key, '*'))
  if not was or was < at then rcall('HSET', key, '*', at) end
  rcall('PEXPIRE', key, ms)
end

-- JSON text of a number as cjson writes it (printf %.14g, which `..` uses too). Integers of
-- magnitude below 1e14 print the same with %d, which skips printf's floating point path, and
-- 0-9 need no printf at all. For those integers it is also the text redis.call would send for
-- the number (%.17g): see rtext.
local function jnum(n)
  if n % 1 == 0 and n < 1e14 and n > -1e14 then
    if n >= 0 and n < 10 then
      if n == 0 then
        return 1 / n > 0 and '0' or '-0'
      end
      return string.sub('0123456789', n + 1, n + 1)
    end
    return string.format('%d', n)
  end
  return n .. ''
end

-- `text`, jnum's text of the number `n`, where redis.call would send the same (%.17g); else n
local function rtext(n, text)
  if n % 1 == 0 and n < 1e14 and n > -1e14 then
    return text
  end
  return n
end

-- Opens the event: checks the tenant is loaded and the event is new.
-- Returns the decoded arguments, or nil and the reply to return as is.
--
-- In a batch (src/engine/script-batch.ts), BATCH is the batch's context, else nil. The events of
-- a batch are one tenant's, and no batched script writes the meta fields read here (but the
-- node signature below, written to the context too), so meta is read by the batch's first event
-- and the others take it from BATCH.meta; the batch also reads its events' markers in one MGET
-- before it runs them: BATCH.marker is this event's (false: none), or nil when an earlier event
-- of the batch has the same marker, which may have set it: then it is read here.
-- BATCH.stock (reserveCart's fast path only): stock key -> the HMGET reply of its figures as the
-- fast path read and left them. Valid while only that path writes stock in the batch: the
-- generic path drops it, and the batch drops it before any other script runs. While it is kept,
-- the fast path holds back its writes of `reserved` and of the cart's expiry
-- (BATCH.deferStock, BATCH.deferExpiry); BATCH.flush makes them and drops BATCH.stock.
local function begin(stockBase)
  local meta = BATCH and BATCH.meta
  if not meta then
    meta = rcall('HMGET', KEYS[1], 'epoch', 'nv', 'node', 'isc', 'cfg:cartTtlSeconds',
      'cfg:defaultReorderLevel')
    if BATCH and meta[1] then BATCH.meta = meta end
  end
  local epoch = meta[1]
  if not epoch then
    return nil, { -1 } -- NOT_READY
  end
  local seen = BATCH and BATCH.marker
  if seen == nil then seen = rcall('GET', KEYS[2]) end
  if seen then
    local pending = rcall('XRANGE', KEYS[3], seen, seen)
    if #pending > 0 then
      return nil, { 0, seen, pending[1][2][2] } -- DUPLICATE
    end
    return nil, { 0, seen }
  end
  local argv = ARGV[1]
  A = cjson.decode(argv)
  -- the planner read the tenant's locations and bindings at this version (see engine/network)
  if A.nv and A.nv ~= epoch .. ':' .. (meta[2] or '0') then
    return nil, { -4 } -- STALE_NETWORK
  end
  -- Writes reach a cluster replica asynchronously: a replica promoted when its master died may
  -- lack the master's last writes, which MySQL may already have. The load signed meta with the
  -- node it loaded the tenant on; a script on any other node (it has the signature replicated,
  -- or the slot moved) writes nothing, and the worker reloads the tenant from the ledger. Meta
  -- loaded by a worker older than the signature is signed by the first script instead.
  if A.cl then
    local here = rcall('CLUSTER', 'MYID')
    if meta[3] ~= here then
      if meta[3] then
        return nil, { -6, meta[3] } -- NODE_CHANGED
      end
      rcall('HSET', KEYS[1], 'node', here)
      meta[3] = here -- (the batch's later events read meta from BATCH.meta)
    end
  end
  EPOCH = tonumber(epoch)
  STOCK_BASE = stockBase
  TOTALS = meta[4] and true or false
  CART_TTL_S = tonumber(meta[5])
  DEFAULT_REORDER = tonumber(meta[6])
  -- ARGV[1] comes from JSON.stringify, which escapes with a backslash whatever JSON must
  -- escape. The only backslashes expected are the \u001f separators in the pairs, one per
  -- pair: then no string of ARGV needs escaping.
  local npairs = #A.pairs
  local find = string.find
  local pos, n = 1, 0
  while true do
    local j = find(argv, '\\', pos, true)
    if not j then
      CLEAN = n == npairs
      break
    end
    n = n + 1
    if n > npairs or string.sub(argv, j + 1, j + 5) ~= 'u001f' then
      CLEAN = false
      break
    end
    pos = j + 6
  end
  -- kit tags go into the payload as cjson writes them: the generic paths only
  if A.kits then CLEAN = false end
  return A, nil
end
