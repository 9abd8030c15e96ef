-- common.lua: the shared part of the balance library (see ../scripts.ts): every verb's file becomes
-- a function of the library, called with FCALL; begin() gives it its keys and arguments.
-- Conventions for the verbs of one account (cdr-charge and cdr-revert, of many, say their own):
--   KEYS[1] acct hash   KEYS[2] account balances hash   KEYS[3] shared-group balances hash
--   KEYS[4] reservations hash   KEYS[5] reservation expiries zset   KEYS[6] the tag's outbox stream
--   KEYS[7] idempotency record of this operation (the step: the session hash)
--   ARGV[1] operation id   ARGV[2] request fingerprint   ARGV[3] now (epoch ms, for every verb)
--   ARGV[4] idempotency retention (s)   ARGV[5] account id   ARGV[6..] the verb's own
-- Balance hash fields: m:<id> meta JSON, v:<id> value, h:<id> held by reservations.
-- Every script checks everything first and writes only after its point of no return.
-- Numbers cross as decimal strings; %d keeps integers up to 2^53 exact (tostring would not).
-- The single-operation verbs return {replayed (0|1), result JSON}; step and cdr-* say what they return.

local function fmt(n) return string.format('%d', n) end
-- Set by begin() at the start of every call (the library is loaded once; calls share nothing else).
local KEYS, ARGV, NOW, ACCOUNT

local function replay()
  local seen = redis.call('GET', KEYS[7])
  if not seen then return nil end
  local sep = string.find(seen, '|', 1, true)
  if string.sub(seen, 1, sep - 1) ~= ARGV[2] then return { 0, cjson.encode({ code = 'CONFLICT' }) } end
  return { 1, string.sub(seen, sep + 1) }
end

-- Records the result under the operation id (also a failure) and returns it.
-- An opaque note the caller stores with the result (e.g. what its answer needs), set by a script.
local NOTE

-- Movements of this call, appended to the outbox (KEYS[6]) as one ledger entry by flushLedger: fields
-- op, account, at and moves = 'scope,balance,unit,kind,delta,heldDelta,valueAfter' joined by ';'.
local LEDGER

-- Whether this call wrote to the outbox (the step script marks the outbox dirty for the drain).
local OUTBOX_WRITTEN

local function begin(keys, argv)
  KEYS, ARGV = keys, argv
  NOW, ACCOUNT = tonumber(argv[3]), argv[5]
  NOTE, LEDGER, OUTBOX_WRITTEN = '', {}, false
end

local function flushLedger(op)
  if #LEDGER == 0 then return end
  OUTBOX_WRITTEN = true
  redis.call('XADD', KEYS[6], '*', 'op', op, 'account', ACCOUNT, 'at', ARGV[3], 'moves', table.concat(LEDGER, ';'))
  LEDGER = {}
end

local function finish(result)
  flushLedger(ARGV[1])
  if NOTE ~= '' then result.note = NOTE end
  local encoded = cjson.encode(result)
  redis.call('SET', KEYS[7], ARGV[2] .. '|' .. encoded, 'EX', tonumber(ARGV[4]))
  return { 0, encoded }
end

local function fail(code, detail)
  return finish({ code = code, detail = detail })
end

-- A provisioning refusal: answered, never recorded, so a corrected retry under the same reference works.
local function refuse(code, detail)
  return { 0, cjson.encode({ code = code, detail = detail }) }
end

local function hashOf(scope) if scope == 'g' then return KEYS[3] else return KEYS[2] end end

-- The balance's meta (decoded) or nil, with its value and held amount.
local function balance(scope, id)
  local h = hashOf(scope)
  local m = redis.call('HGET', h, 'm:' .. id)
  if not m then return nil end
  local meta = cjson.decode(m)
  meta.value = tonumber(redis.call('HGET', h, 'v:' .. id) or '0')
  meta.held = tonumber(redis.call('HGET', h, 'h:' .. id) or '0')
  return meta
end

local function isActive(meta)
  local from = tonumber(meta.activationMs or 0)
  local to = meta.expiryMs
  return from <= NOW and (to == nil or to == cjson.null or tonumber(to) > NOW)
end

-- How far below zero the main money balance may go: minus the credit limit of a postpaid account.
local function accountFloor(acct)
  if acct and acct.type == 'postpaid' then return -tonumber(acct.creditLimitNano or '0') end
  return 0
end

-- The account's fields that scripts read (nil when there is no account).
local ACCOUNT_FIELDS = { 'status', 'type', 'creditLimitNano', 'subject', 'sharedGroup', 'subscriptionKeys' }

local function loadAccount()
  local f = redis.call('HMGET', KEYS[1], unpack(ACCOUNT_FIELDS))
  if not f[1] then return nil end
  local a = {}
  for i, name in ipairs(ACCOUNT_FIELDS) do if f[i] then a[name] = f[i] end end
  return a
end

-- Applies a change to one balance and records it for the ledger; returns the movement.
local function apply(kind, scope, id, unit, delta, heldDelta)
  local h = hashOf(scope)
  local after
  if delta ~= 0 then after = redis.call('HINCRBY', h, 'v:' .. id, delta)
  else after = tonumber(redis.call('HGET', h, 'v:' .. id) or '0') end
  if heldDelta ~= 0 then redis.call('HINCRBY', h, 'h:' .. id, heldDelta) end
  LEDGER[#LEDGER + 1] = scope .. ',' .. id .. ',' .. unit .. ',' .. kind .. ',' .. fmt(delta) .. ',' .. fmt(heldDelta)
    .. ',' .. fmt(after)
  return { id, unit, fmt(delta), fmt(heldDelta), fmt(after), scope }
end

-- Reads n movements (scope, balance id, amount) from ARGV starting at index i.
local function readMoves(i)
  local n = tonumber(ARGV[i])
  local moves = {}
  for k = 0, n - 1 do
    moves[#moves + 1] = { scope = ARGV[i + 1 + 3 * k], id = ARGV[i + 2 + 3 * k], amount = tonumber(ARGV[i + 3 + 3 * k]) }
  end
  return moves
end

-- A reservation as stored in the reservations hash: 'expiresMs|scope,balance,amount|...' (a string
-- is cheaper to write and read than JSON). Decoded: {expiresMs, moves = {{scope, balance, amount}}}.
local function encodeReservation(expiresMs, holds)
  local parts = { expiresMs }
  for _, h in ipairs(holds) do parts[#parts + 1] = h[1] .. ',' .. h[2] .. ',' .. h[3] end
  return table.concat(parts, '|')
end

local function decodeReservation(raw)
  if string.sub(raw, 1, 1) == '{' then return cjson.decode(raw) end -- written by an older version
  local moves = {}
  local at = string.find(raw, '|', 1, true)
  local expiresMs = at and string.sub(raw, 1, at - 1) or raw
  while at do
    local nxt = string.find(raw, '|', at + 1, true)
    local c1 = string.find(raw, ',', at + 1, true)
    local c2 = string.find(raw, ',', c1 + 1, true)
    moves[#moves + 1] = { string.sub(raw, at + 1, c1 - 1), string.sub(raw, c1 + 1, c2 - 1),
      string.sub(raw, c2 + 1, (nxt or 0) - 1) }
    at = nxt
  end
  return { expiresMs = expiresMs, moves = moves }
end

-- Releases a reservation's holds (commit, release, expiry). Returns the movements.
local function releaseHolds(kind, resId, reservation, out)
  for _, r in ipairs(reservation.moves) do
    local meta = balance(r[1], r[2])
    if meta then out[#out + 1] = apply(kind, r[1], r[2], meta.unit, 0, -tonumber(r[3])) end
  end
  redis.call('HDEL', KEYS[4], resId)
  redis.call('ZREM', KEYS[5], resId)
end

-- Reads a charge from ARGV[i..i+7]: unit, units, amount (nano), destination, category, rating group,
-- and, when the caller priced a partly covered charge, the covered units and the money for the rest.
-- ARGV[i+8] is the caller's note (see NOTE).
local function readCharge(i)
  return { unit = ARGV[i], units = tonumber(ARGV[i + 1]), amount = tonumber(ARGV[i + 2]), destination = ARGV[i + 3],
    category = ARGV[i + 4], ratingGroup = ARGV[i + 5], covered = ARGV[i + 6], money = ARGV[i + 7] }
end

local function contains(list, v)
  if list == nil or list == cjson.null or #list == 0 then return true end
  for _, x in ipairs(list) do if tostring(x) == v then return true end end
  return false
end

-- The charge's destination as rating computed it (src/rating/balance-match.ts): 'len:id,...', every
-- destination holding a prefix of the dialled number with the length of its longest such prefix; a
-- bare id (an older caller) counts as matched by a prefix of length 1. Returns {id = length}.
local function destinationMatches(dest)
  local m = {}
  for entry in string.gmatch(dest or '', '[^,]+') do
    local len, id = string.match(entry, '^(%d+):(.+)$')
    if not len then len, id = '1', entry end
    len = tonumber(len)
    if (m[id] or -1) < len then m[id] = len end
  end
  return m
end

-- How specifically a balance's destination list matches the charge (docs/BALANCES.md, the same rule
-- as destinationSpecificity in src/rating/balance-match.ts): -1 = it may not pay; 0 = it pays any
-- destination (no list, or only exclusions none of which holds a prefix of the number); else the
-- length of the longest prefix of the number held by an included destination. One excluded
-- destination (`!ID`) holding a prefix of the number rules the balance out.
local function specificity(list, matches)
  if list == nil or list == cjson.null or #list == 0 then return 0 end
  local best, included = -1, false
  for _, x in ipairs(list) do
    local s = tostring(x)
    if string.sub(s, 1, 1) == '!' then
      if matches[string.sub(s, 2)] then return -1 end
    else
      included = true
      local len = matches[s]
      if len and len > best then best = len end
    end
  end
  if not included then return 0 end
  return best
end

-- Decoded balance metadata by its JSON. The library lives across calls and most accounts' metas
-- are alike, so a decode (the dearest step of a charge) is mostly skipped. Read-only; bounded.
local METAS, METAS_COUNT = {}, 0

local function metaOf(json)
  local m = METAS[json]
  if not m then
    m = cjson.decode(json)
    if METAS_COUNT >= 10000 then METAS, METAS_COUNT = {}, 0 end
    METAS[json], METAS_COUNT = m, METAS_COUNT + 1
  end
  return m
end

-- Balances of one hash as a list {scope, id, unit, weight, expiryMs, value, held, meta...}.
local function collect(scope, list)
  local f = redis.call('HGETALL', hashOf(scope))
  local fields = {}
  for i = 1, #f, 2 do fields[f[i]] = f[i + 1] end
  for k, v in pairs(fields) do
    if string.sub(k, 1, 2) == 'm:' then
      local m = metaOf(v)
      local id = string.sub(k, 3)
      list[#list + 1] = { id = id, scope = scope, unit = m.unit, weight = m.weight, activationMs = m.activationMs,
        expiryMs = m.expiryMs, destinations = m.destinations, ratingGroups = m.ratingGroups, categories = m.categories,
        blocker = m.blocker == true, unitIncrement = tonumber(m.unitIncrement or 1),
        value = tonumber(fields['v:' .. id] or '0'), held = tonumber(fields['h:' .. id] or '0') }
    end
  end
end

local function expiryOf(b)
  if b.expiryMs == nil or b.expiryMs == cjson.null then return math.huge end
  return tonumber(b.expiryMs)
end

-- The paying order (docs/BALANCES.md; the same as payingOrder in src/rating/affordable.ts): the
-- most specific destination match first, then the heaviest, the soonest to expire, by scope:id.
local function byPriority(a, b)
  if a.spec ~= b.spec then return a.spec > b.spec end
  if a.weight ~= b.weight then return a.weight > b.weight end
  if expiryOf(a) ~= expiryOf(b) then return expiryOf(a) < expiryOf(b) end
  return a.scope .. ':' .. a.id < b.scope .. ':' .. b.id
end

-- The balances of `unit` that may pay the charge, in paying order.
local function usable(list, c, unit)
  c.matches = c.matches or destinationMatches(c.destination)
  local out = {}
  for _, b in ipairs(list) do
    if b.unit == unit and isActive(b) and contains(b.categories, c.category)
      and contains(b.ratingGroups, c.ratingGroup) then
      b.spec = specificity(b.destinations, c.matches)
      if b.spec >= 0 then out[#out + 1] = b end
    end
  end
  table.sort(out, byPriority)
  return out
end

-- What a unit balance with `free` units covers of `remaining`, and what that consumes: a balance
-- whose rating subject is *zero<step> is consumed in whole steps (unitIncrement) at no cost.
local function coverage(b, remaining, free)
  local step = b.unitIncrement or 1
  if free <= 0 then return 0, 0 end
  if step <= 1 then local n = math.min(remaining, free); return n, n end
  local needed = math.ceil(remaining / step)
  local whole = math.floor(free / step)
  if whole >= needed then return remaining, needed * step end
  return whole * step, whole * step
end

-- Plans who pays a charge: matching unit balances first (the charge's unit, then generic), then
-- money for what they do not cover, each in paying order. A blocker that cannot pay what is left
-- stops the chain: INSUFFICIENT.
-- `avail(b)` says how much of b may be taken; `floor` how far below zero the main wallet may go.
-- Returns moves {b, amount}, or nil and a code: NEED_PRICE (with the covered units) when units are
-- partly covered and the caller has not priced the rest (exact pro rata needs big integers), or
-- INSUFFICIENT.
local function plan(list, c, avail, floor)
  local moves, remaining = {}, c.units
  if c.units > 0 then
    -- The event's type, then generic balances (CGRateS), counting the event's base units one for one.
    local payers = usable(list, c, c.unit)
    if c.unit ~= 'generic' then
      for _, b in ipairs(usable(list, c, 'generic')) do payers[#payers + 1] = b end
    end
    for _, b in ipairs(payers) do
      if remaining == 0 then break end
      local covered, take = coverage(b, remaining, avail(b))
      if take > 0 then moves[#moves + 1] = { b = b, amount = take }; remaining = remaining - covered end
      if remaining > 0 and b.blocker then return nil, 'INSUFFICIENT' end
    end
  end
  local covered = c.units - remaining
  local money
  if covered == 0 then money = c.amount
  elseif remaining == 0 then money = 0
  elseif c.covered == fmt(covered) then money = tonumber(c.money)
  else return nil, 'NEED_PRICE', covered end
  local wallets = usable(list, c, 'money')
  for _, b in ipairs(wallets) do
    if money == 0 then break end
    local take = math.min(money, math.max(0, avail(b)))
    if take > 0 then moves[#moves + 1] = { b = b, amount = take }; money = money - take end
    if money > 0 and b.blocker then return nil, 'INSUFFICIENT' end
  end
  if money > 0 then
    local main = wallets[1]
    if not main then return nil, 'INSUFFICIENT' end
    local already = 0
    for _, m in ipairs(moves) do if m.b == main then already = m.amount end end
    if avail(main) - already - money < floor then return nil, 'INSUFFICIENT' end
    local found = false
    for _, m in ipairs(moves) do if m.b == main then m.amount = m.amount + money; found = true end end
    if not found then moves[#moves + 1] = { b = main, amount = money } end
  end
  return moves
end

local function needPrice(covered)
  return { 0, cjson.encode({ code = 'NEED_PRICE', covered = fmt(covered), retry = true }) }
end

local function accountBalances(acct)
  local list = {}
  collect('a', list)
  if acct == nil or (acct.sharedGroup or '') ~= '' then collect('g', list) end
  return list
end

-- Releases this account's reservations whose time has come (expiry on read), as a ledger entry of
-- its own (op "expire"). Returns their ids.
local function expireDue(out)
  local due = redis.call('ZRANGEBYSCORE', KEYS[5], '-inf', ARGV[3])
  for _, resId in ipairs(due) do
    local raw = redis.call('HGET', KEYS[4], resId)
    if raw then releaseHolds('expire', resId, decodeReservation(raw), out) else redis.call('ZREM', KEYS[5], resId) end
  end
  flushLedger('expire')
  return due
end

-- The common part of debit and reserve: the account must exist and be active; then the plan of the
-- charge at ARGV[i..] against what is available (value - held), down to the account's floor.
-- Returns moves, or nil and a reply to return; `refusal` (fail or refuse) says whether a refusal is
-- remembered under the operation id; `floor`, when given, replaces the account's (a forced debit).
local function planAvailable(i, refusal, floor)
  local acct = loadAccount()
  if not acct then return nil, refusal('ACCOUNT_NOT_FOUND') end
  if acct.status ~= 'active' then return nil, refusal('ACCOUNT_INACTIVE', acct.status) end
  local moves, code, covered = plan(accountBalances(acct), readCharge(i), function(b) return b.value - b.held end, floor or accountFloor(acct))
  if code == 'NEED_PRICE' then return nil, needPrice(covered) end
  if not moves then return nil, refusal(code) end
  return moves
end
