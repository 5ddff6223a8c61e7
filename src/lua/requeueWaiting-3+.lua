--[[
  The reconciliation's repair of a wait queue (src/reconcile/wait-pass.ts): the holds named
  that wait at the pair but are missing from its queue are queued again, behind the others;
  then what is available at the pair goes to the waiting holds, oldest first, as at the close
  of any event (FILL in includes/holds.lua). A hold named that waits there no more, or is
  queued already, is left as it is.
    KEYS[1..3] meta, marker, outbox (see includes/base.lua)
    KEYS[4]    stock hash of the one pair
    KEYS[5]    its wait queue
    ARGV[1]    JSON { ...base, pairs = {pair}, members = { 'cart:<id>' | 'order:<id>', ... } }
  The members' hold keys are built from the tenant's base, as FILL builds them.
  Output: see includes/base.lua.
]]
--- @include "includes/base"
--- @include "includes/stock"
--- @include "includes/holds"

local a, early = begin(3)
if not a then return early end
local p = a.pairs[1]
stock(p)
for _, m in ipairs(a.members) do
  local c = string.find(m, ':', 1, true)
  local kind = c and string.sub(m, 1, c - 1)
  if kind == 'cart' or kind == 'order' then
    local l = loadHold(HOLD_BASE .. m).lines[p]
    -- enqueue leaves a hold that is queued already in its place
    if l and l.bo + l.po > 0 then enqueue(p, kind, string.sub(m, c + 1)) end
  end
end
return finish()
