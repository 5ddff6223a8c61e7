--[[
  stock.counted: a physical count sets on-hand; the difference is the movement.
    KEYS[1..3] meta, marker, outbox (see includes/base.lua)
    KEYS[4]    stock hash of the one pair
    ARGV[1]    JSON { ...base, pairs = {pair}, onHand }
  Output: see includes/base.lua
]]
--- @include "includes/base"

local ctx, early = begin(3)
if not ctx then return early end
local a = ctx.a
local s = stock(ctx, a.pairs[1])
move(ctx, a.pairs[1], 'counted', { a.onHand - s.onHand }, 'count', a.id, 'count')
return finish(ctx, { result = 'applied' })
