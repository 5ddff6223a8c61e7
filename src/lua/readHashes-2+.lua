--[[
  Reconciliation read: hashes of one tenant together with the outbox entries not mirrored to
  MySQL yet, in one atomic step, so that the figures and the pending movements describe the
  same moment (Redis is ahead of MySQL by exactly those entries).
    KEYS[1]    tenant meta hash (field epoch; missing = tenant not loaded)
    KEYS[2]    outbox stream
    KEYS[3..]  hashes to read (stock or hold hashes of the tenant)
    ARGV[1]    id of the newest outbox entry the caller already holds ('0-0': none); entries
               up to it are listed by id only, newer ones with their payload (field p)
    ARGV[2]    most outbox entries to list; a longer outbox is not listed (length only)
    ARGV[3..]  fields to read from each hash (HMGET); none: every field (HGETALL)
  Output: { epoch | nil, outboxLength, { id, ... } | nil, { id, payload, ... }, hash3, hash4, ... }
    where hashN is the HGETALL reply of KEYS[N] (empty when the key is missing), or with
    fields given, its HMGET reply (nil for each missing field).
]]
local rcall = redis.call

local function idParts(id)
  local ms, seq = string.match(id, '^(%d+)-(%d+)$')
  return tonumber(ms), tonumber(seq)
end

local epoch = rcall('HGET', KEYS[1], 'epoch')
local len = rcall('XLEN', KEYS[2])
local ids, fresh = false, {}
if len <= tonumber(ARGV[2]) then
  ids = {}
  local knownMs, knownSeq = idParts(ARGV[1])
  local start = '-'
  while true do
    local page = rcall('XRANGE', KEYS[2], start, '+', 'COUNT', 1000)
    for _, e in ipairs(page) do
      local id, fields = e[1], e[2]
      table.insert(ids, id)
      local ms, seq = idParts(id)
      if ms > knownMs or (ms == knownMs and seq > knownSeq) then
        for i = 1, #fields, 2 do
          if fields[i] == 'p' then
            table.insert(fresh, id)
            table.insert(fresh, fields[i + 1])
          end
        end
      end
    end
    if #page < 1000 then break end
    start = '(' .. page[#page][1]
  end
end
local out = { epoch or false, len, ids, fresh }
local fields = { unpack(ARGV, 3) }
for i = 3, #KEYS do
  if #fields > 0 then
    table.insert(out, rcall('HMGET', KEYS[i], unpack(fields)))
  else
    table.insert(out, rcall('HGETALL', KEYS[i]))
  end
end
return out
