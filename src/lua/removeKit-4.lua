--[[
  kit.removed: the SKU is no longer a kit. Holds already taken keep the component units they took.
    KEYS[1..3] meta, marker, outbox (see includes/base.lua)
    KEYS[4]    kits hash: kit sku -> JSON [[component sku, quantity], ...]
    ARGV[1]    JSON { ...base, nv, pairs = {}, sku }
  Output: see includes/base.lua. Ignored `unknown-kit` when the SKU is not a kit. Bumps meta `nv`.
]]
--- @include "includes/base"
--- @include "includes/stock"

local a, early = begin(4)
if not a then return early end
if rcall('HDEL', KEYS[4], a.sku) == 0 then
  return finish({ result = 'ignored', reason = 'unknown-kit' })
end
rcall('HINCRBY', KEYS[1], 'nv', 1)
NET = { { kind = 'kit', sku = a.sku, components = cjson.null } }
return finish()
