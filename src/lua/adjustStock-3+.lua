--[[
  stock.adjusted: manual +/- on-hand with a reason code. Refused when on-hand would go negative.
    KEYS[1..3] meta, marker, outbox (see includes/base.lua)
    KEYS[4]    stock hash of the one pair
    ARGV[1]    JSON { ...base, pairs = {pair}, delta, reason }
  Output: see includes/base.lua
]]
--- @include "includes/base"
--- @include "includes/stock"
-- (holds: stock that arrives goes to the holds waiting for it first, see FILL)
--- @include "includes/holds"

local a, early = begin(3)
if not a then return early end
local s = stock(a.pairs[1])
if s.onHand + a.delta < 0 then
  return finish({ result = 'rejected', reason = 'negative-on-hand' })
end
move(a.pairs[1], 'adjusted', a.delta, 0, 0, 0, 0, 'adjustment', a.id, a.reason)
return finish()
