-- Helpers for scripts that take lines or release by reference (include after includes/base).

local function splitPair(pair)
  local i = string.find(pair, SEP, 1, true)
  return string.sub(pair, 1, i - 1), string.sub(pair, i + 1)
end

local function pairOf(sku, loc)
  return sku .. SEP .. loc
end

-- Sorted keys of a table, so that every script walks lines in the same order as the model.
local function sortedKeys(t)
  local out, n = {}, 0
  for k in pairs(t) do
    n = n + 1
    out[n] = k
  end
  if n > 1 then
    table.sort(out)
  end
  return out
end

-- True when every pair is among the stock keys passed (else the caller must re-plan: RETRY).
local function covers(pairs)
  for i = 1, #pairs do
    if not pairSlot(pairs[i]) then
      return false
    end
  end
  return true
end

-- Sums quantities of `lines` ({sku, locationId, quantity}) by pair.
local function sumLines(lines)
  local need = {}
  for i = 1, #lines do
    local l = lines[i]
    local p = l.sku .. SEP .. l.locationId
    need[p] = (need[p] or 0) + l.quantity
  end
  return need
end

-- Checks every pair of `need` has `available >= need[p] - (credit[p] or 0)`;
-- returns the list of short lines (empty when all fit).
local function shortLines(need, credit)
  local short = {}
  local ps = sortedKeys(need)
  for i = 1, #ps do
    local p = ps[i]
    local c = credit and credit[p] or 0
    local extra = need[p] - c
    if extra > 0 then
      local s = stock(p)
      local a = s.onHand - s.reserved - s.unavailable
      if a < extra then
        short[#short + 1] = { sku = s.sku, locationId = s.loc, requested = need[p],
          available = c + math.max(a, 0) }
      end
    end
  end
  return short
end
