--[[
  The routing strategy (include after includes/lines); src/domain/network.ts `allocate` is the
  same function in TypeScript. `route` = { locs = candidate locations in routing order,
  skus = sku -> its candidates (bound) in the same order }; `need` = sku -> units; `skus` the
  SKUs sorted; `free(pair)` what a pair can give.
  One location that fills every SKU, the first in routing order; else SKU by SKU: the first
  candidate that fills it, else the candidates in order, each giving what it has; `groups`
  (optional, lists of SKUs: a kit's components) go all to the first location that fills every
  one of them, else all are short.
  Returns alloc (pair -> units) and the short SKUs ({ sku, locationId = '*', requested,
  available }).
]]
local function allocate(route, need, skus, free)
  local alloc = {}
  local cands = route.skus
  for _, loc in ipairs(route.locs) do
    local ok = true
    for _, s in ipairs(skus) do
      local found = false
      local cs = cands[s]
      if cs then
        for _, l in ipairs(cs) do
          if l == loc then found = true break end
        end
      end
      if not found or free(pairOf(s, loc)) < need[s] then
        ok = false
        break
      end
    end
    if ok then
      for _, s in ipairs(skus) do alloc[pairOf(s, loc)] = need[s] end
      return alloc, {}
    end
  end
  local short = {}
  local groupOf, done = {}, {}
  for _, g in ipairs(route.groups or {}) do
    for _, s in ipairs(g) do groupOf[s] = g end
  end
  local function stocks(s, loc)
    for _, l in ipairs(cands[s] or {}) do
      if l == loc then return true end
    end
    return false
  end
  for _, s in ipairs(skus) do
    local group = groupOf[s]
    if done[s] then
      -- allocated with its group
    elseif group then
      -- a kit's components: the first location that fills all of them, else all are short
      for _, m in ipairs(group) do done[m] = true end
      local at
      for _, loc in ipairs(route.locs) do
        local ok = true
        for _, m in ipairs(group) do
          if not stocks(m, loc) or free(pairOf(m, loc)) < need[m] then
            ok = false
            break
          end
        end
        if ok then at = loc break end
      end
      for _, m in ipairs(group) do
        local q = need[m]
        if at then
          alloc[pairOf(m, at)] = q
        else
          local best = 0
          for _, l in ipairs(cands[m] or {}) do best = math.max(best, free(pairOf(m, l))) end
          short[#short + 1] = { sku = m, locationId = '*', requested = q,
            available = math.min(best, q) }
        end
      end
    else
      local q = need[s]
      local cs = cands[s] or {}
      local one
      for _, l in ipairs(cs) do
        if free(pairOf(s, l)) >= q then one = l break end
      end
      if one then
        alloc[pairOf(s, one)] = q
      else
        local rem = q
        for _, l in ipairs(cs) do
          local t = math.min(math.max(free(pairOf(s, l)), 0), rem)
          if t > 0 then
            alloc[pairOf(s, l)] = t
            rem = rem - t
          end
        end
        if rem > 0 then
          short[#short + 1] = { sku = s, locationId = '*', requested = q, available = q - rem }
        end
      end
    end
  end
  return alloc, short
end
