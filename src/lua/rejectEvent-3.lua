--[[
  Any event the planner refused before it reached stock (a SKU-location the tenant's network
  does not stock): records the refusal as the event's outcome; nothing else changes.
    KEYS[1..3] meta, marker, outbox (see includes/base.lua)
    ARGV[1]    JSON { ...base, nv, pairs = {}, outcome }
  Output: see includes/base.lua
]]
--- @include "includes/base"
--- @include "includes/stock"

local a, early = begin(3)
if not a then return early end
return finish(a.outcome)
