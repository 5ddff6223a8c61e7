--[[
  kit.defined: creates or replaces a kit (a SKU sold as a set of component SKUs).
    KEYS[1..3] meta, marker, outbox (see includes/base.lua)
    KEYS[4]    kits hash: kit sku -> JSON [[component sku, quantity], ...]
    ARGV[1]    JSON { ...base, nv, pairs = {}, sku, components = [{sku, quantity}, ...] (sorted
               by SKU byte order, distinct, none the kit's own) }
  Output: see includes/base.lua. Ignored `unchanged` when the kit has these very components;
  rejected `kit-in-kit` when a component is itself a kit, or the kit is a component of another
  kit (checked here against every kit of the tenant: kits are few). Bumps meta `nv`: the
  planners read kits with the network, and a plan made with the old definition is refused.
]]
--- @include "includes/base"
--- @include "includes/stock"

local a, early = begin(4)
if not a then return early end
local comps = a.components
local flat = rcall('HGETALL', KEYS[4])
local kits = {}
for i = 1, #flat, 2 do kits[flat[i]] = flat[i + 1] end
for _, c in ipairs(comps) do
  if kits[c.sku] then return finish({ result = 'rejected', reason = 'kit-in-kit' }) end
end
for sku, json in pairs(kits) do
  if sku ~= a.sku then
    for _, kc in ipairs(cjson.decode(json)) do
      if kc[1] == a.sku then return finish({ result = 'rejected', reason = 'kit-in-kit' }) end
    end
  end
end
local rows = {}
for i, c in ipairs(comps) do rows[i] = { c.sku, c.quantity } end
local before = kits[a.sku]
if before then
  local old = cjson.decode(before)
  local same = #old == #rows
  if same then
    for i, r in ipairs(rows) do
      if old[i][1] ~= r[1] or old[i][2] ~= r[2] then same = false; break end
    end
  end
  if same then return finish({ result = 'ignored', reason = 'unchanged' }) end
end
rcall('HSET', KEYS[4], a.sku, cjson.encode(rows))
rcall('HINCRBY', KEYS[1], 'nv', 1)
NET = { { kind = 'kit', sku = a.sku, components = comps } }
return finish()
