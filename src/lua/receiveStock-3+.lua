--[[
  stock.received: on-hand rises.
    KEYS[1..3] meta, marker, outbox (see includes/base.lua)
    KEYS[4]    stock hash of the one pair
    ARGV[1]    JSON { ...base, pairs = {pair}, quantity, reference? }
  Output: see includes/base.lua
]]
--- @include "includes/base"
--- @include "includes/stock"
-- (holds: stock that arrives goes to the holds waiting for it first, see FILL)
--- @include "includes/holds"

local a, early = begin(3)
if not a then return early end
move(a.pairs[1], 'received', a.quantity, 0, 0, 0, 0, 'receipt', a.reference or a.id, '')
return finish()
