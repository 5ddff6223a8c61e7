--[[
  The last step of a tenant load: writes the epoch into meta, which lets the scripts run again,
  and `isc`: the load built the SKUs' in-stock counts, which the scripts keep from now on.
  On a Redis Cluster it signs meta with this node's id in the same step (see NODE_CHANGED in
  includes/base.lua). Signed by the loader, not by the first script after it: a promoted replica
  that lacked that script's write, the signature included, would look like a node that nothing
  has written to since the load, and go on from what it has.
    KEYS[1]  tenant meta hash
    ARGV[1]  the epoch
    ARGV[2]  '1' on a Redis Cluster, else '0'
  Output: 1
]]
local rcall = redis.call
if ARGV[2] == '1' then
  rcall('HSET', KEYS[1], 'epoch', ARGV[1], 'isc', '1', 'node', rcall('CLUSTER', 'MYID'))
else
  rcall('HSET', KEYS[1], 'epoch', ARGV[1], 'isc', '1')
end
return 1
