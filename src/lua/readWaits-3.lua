--[[
  Reconciliation read of one pair's wait queue, in one atomic step: the stock figures, and
  which of the holds named wait there without being in the queue. (Read only; the hold keys
  are built from the tenant's base, as FILL builds them.)
    KEYS[1]    tenant meta hash (field epoch; missing = tenant not loaded)
    KEYS[2]    stock hash of the pair
    KEYS[3]    its wait queue
    ARGV[1]    the pair (sku \31 location)
    ARGV[2..]  holds believed to wait there: 'cart:<id>' | 'order:<id>'
  Output: { epoch | false, onHand, reserved, unavailable, backordered, preordered,
            { named holds waiting there outside the queue } }
]]
local rcall = redis.call
local base = string.sub(KEYS[1], 1, -5) -- the tenant's key base: KEYS[1] is <base>meta
local pair = ARGV[1]
local bf, pf = 'b:' .. pair, 'p:' .. pair

local function waiting(member)
  local v = rcall('HMGET', base .. member, bf, pf)
  return (tonumber(v[1]) or 0) + (tonumber(v[2]) or 0)
end

local epoch = rcall('HGET', KEYS[1], 'epoch')
local s = rcall('HMGET', KEYS[2], 'onHand', 'reserved', 'unavailable', 'backordered', 'preordered')
local missing = {}
for i = 2, #ARGV do
  local m = ARGV[i]
  if not rcall('ZSCORE', KEYS[3], m) and waiting(m) > 0 then missing[#missing + 1] = m end
end
return { epoch or false, tonumber(s[1]) or 0, tonumber(s[2]) or 0, tonumber(s[3]) or 0,
  tonumber(s[4]) or 0, tonumber(s[5]) or 0, missing }
