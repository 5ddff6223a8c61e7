--[[
  rma.passed: returned units come back on hand; `restock` makes them available,
  `quarantine` keeps them unavailable for disposition.
    KEYS[1..3] meta, marker, outbox (see includes/base.lua)
    KEYS[4..]  stock hashes of the return's pairs
    ARGV[1]    JSON { ...base, pairs, rmaId, lines = {{sku, locationId, quantity, disposition}} }
  Output: see includes/base.lua
]]
--- @include "includes/base"
--- @include "includes/stock"
-- (holds: stock that arrives goes to the holds waiting for it first, see FILL)
--- @include "includes/holds"
--- @include "includes/lines"

local a, early = begin(3)
if not a then return early end
for _, l in ipairs(a.lines) do
  local p = pairOf(l.sku, l.locationId)
  local q = l.quantity
  if l.disposition == 'quarantine' then
    move(p, 'returned', q, 0, 0, q, 0, 'rma', a.rmaId, 'quarantine')
  else
    move(p, 'returned', q, 0, 0, 0, 0, 'rma', a.rmaId, 'restock')
  end
end
return finish()
