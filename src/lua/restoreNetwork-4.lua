--[[
  Reconciliation repair of a tenant's locations, bindings and kits (src/reconcile/network-pass.ts):
  sets fields of the three hashes to MySQL's values, but only if every one of them still has
  the value the reconciliation read (else nothing is written), then bumps the network version
  so that every planner reads the network again (see engine/network.ts).
    KEYS[1]    tenant meta hash (field epoch; missing = tenant not loaded: nothing written)
    KEYS[2]    locations hash: locationId -> JSON {name, priority, shipsTo}
    KEYS[3]    bindings hash: "sku\31location" -> 1
    KEYS[4]    kits hash: kit sku -> JSON [[component sku, quantity], ...]
    ARGV       groups of four: 'l' (locations), 'b' (bindings) or 'k' (kits), field, the value
               read ('' = none), the value to set ('' = delete the field)
  Output: { 1 } written; { 0, field } a field changed since it was read; { -1 } not loaded.
]]
local rcall = redis.call
if not rcall('HGET', KEYS[1], 'epoch') then return { -1 } end
local HASH = { l = KEYS[2], b = KEYS[3], k = KEYS[4] }
for i = 1, #ARGV, 4 do
  local now = rcall('HGET', HASH[ARGV[i]], ARGV[i + 1]) or ''
  if now ~= ARGV[i + 2] then return { 0, ARGV[i + 1] } end
end
for i = 1, #ARGV, 4 do
  if ARGV[i + 3] == '' then
    rcall('HDEL', HASH[ARGV[i]], ARGV[i + 1])
  else
    rcall('HSET', HASH[ARGV[i]], ARGV[i + 1], ARGV[i + 3])
  end
end
rcall('HINCRBY', KEYS[1], 'nv', 1)
return { 1 }
