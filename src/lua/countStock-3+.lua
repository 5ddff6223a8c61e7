--[[
  stock.counted: a physical count sets on-hand; the difference is the movement.
    KEYS[1..3] meta, marker, outbox (see includes/base.lua)
    KEYS[4]    stock hash of the one pair
    ARGV[1]    JSON { ...base, pairs = {pair}, onHand }
  Output: see includes/base.lua
]]
--- @include "includes/base"
--- @include "includes/stock"
-- (holds: stock that arrives goes to the holds waiting for it first, see FILL)
--- @include "includes/holds"

local a, early = begin(3)
if not a then return early end
local s = stock(a.pairs[1])
move(a.pairs[1], 'counted', a.onHand - s.onHand, 0, 0, 0, 0, 'count', a.id, 'count')
return finish()
