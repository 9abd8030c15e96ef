-- step: one charging request, all or nothing: its balance operations, the session state, the answer
-- and the records bound for PostgreSQL. The caller (charging/) plans the request and states what it
-- expects each operation to move; the script checks every operation against the balances as they
-- are, and applies them all only if every one goes as expected. Otherwise it writes nothing (but due
-- reservations' expiry) and says how each operation would go, so the caller can plan again.
--
-- KEYS[1..6] as common.lua   KEYS[7] where the answer is kept: the session hash (fields info =
-- what never changes, st = state, v = version, a:<request> = answers, al and pw: which answers are
-- kept, see KEEP_ANSWERS), or for a step without a session its own record
-- ARGV[1] step id (the ledger's op)   ARGV[2] fingerprint   ARGV[3] now   ARGV[4] retention (s) of
-- the answer or the session   ARGV[5] account   ARGV[6] expected session version ('' = no session,
-- '0' = opens one)   ARGV[7] the answer's field in the session hash   ARGV[8] the session's info
-- ('' = unchanged)   ARGV[9] its new state ('' = opens none: only the answer is kept)
-- ('"holds":"$h<k>"' in it stands for the holds of the reservation operation k makes)
-- ARGV[10] answer JSON   ARGV[11] the rating subject the caller priced with ('' = not checked)
-- ARGV[12] a subscription 'type:value' the account must still have ('' = not checked)
-- ARGV[13] rated records (a JSON array, '' = none)   ARGV[14] the trail entry without its answer
-- ('' = none)   ARGV[15] number of operations N, then N x 13: verb (settle | debit | reserve |
-- release | refund), reservation id, expires at (ms), the charge (8 fields, see readCharge),
-- expected money taken, expected units taken ('' = any, '?' = tell me, never apply)
--
-- Money and units in results are Lua numbers (Redis answers them as integers: exact below 2^53).
--
-- Verbs: settle = commit the used charge from its reservation (the rest is released), or, when the
-- reservation is gone or holds too little, release it and debit; debit = take the charge from the
-- balances (active account only); reserve = hold it (active account only; RESERVATION_EXISTS when
-- the id holds a reservation, or this step makes one under it); release = give a
-- reservation back; refund = credit the charge's amount to the heaviest money balance.
--
-- Writes: the movements, the reservations, the session, the answer, and one outbox entry (op,
-- account, at, moves, rated, trail, answer: see storage/outbox.ts).
--
-- On a standalone Redis the step also keeps the service keys, so that a request is one command:
-- KEYS[8] dirty outboxes set (the drain's)   KEYS[9] due sessions zset (the Tcc sweep's)
-- KEYS[10] the session index; then ARGV the session's hint member, its Tcc deadline ('' = closed:
-- no hint; both '' = leave it), the index TTL (s, '' = none). On a Cluster these keys are in other
-- slots: the caller writes them itself.
--
-- Checks, in order: replay (REPLAY with the stored answer, or CONFLICT; TOO_OLD with the newest
-- request number whose answer is no longer kept, see KEEP_ANSWERS); session version (STALE with
-- the current version, info and state); the caller's view of the account (CHANGED with the
-- account's fields, when its subject or the subscription changed); then every operation. Returns
-- {'APPLIED' | 'DEVIATED', version, results}, a result per operation: {code, money taken, units
-- taken, detail}, detail = the units covered (NEED_PRICE), the holds 'unit:amount,...' of a
-- reservation, or for a refused one (INSUFFICIENT) what each balance has free at that point of the
-- step: 'scope,balance,amount|...'.

-- A session keeps the answers of its last KEEP_ANSWERS requests (field al lists their numbers in the
-- order they were answered; pw is the newest request number whose answer was dropped). A request
-- not among them and not newer than pw is refused (TOO_OLD): it may have been answered, so it is
-- never charged again. Diameter clients retry their last request, not one 64 requests back.
local KEEP_ANSWERS = 64

local session = ARGV[6] ~= ''
local version, seen = 0, nil
if session then
  local got = redis.call('HMGET', KEYS[7], 'v', ARGV[7], 'pw')
  version, seen = tonumber(got[1] or '0'), got[2]
  local n = tonumber(string.match(ARGV[7], '^a:(%d+)$') or '')
  if not seen and got[3] and n and n <= tonumber(got[3]) then return { 'TOO_OLD', got[3] } end
else
  seen = redis.call('GET', KEYS[7])
end
if seen then
  local sep = string.find(seen, '|', 1, true)
  if string.sub(seen, 1, sep - 1) ~= ARGV[2] then return { 'CONFLICT' } end
  return { 'REPLAY', string.sub(seen, sep + 1) }
end
if session and version ~= tonumber(ARGV[6]) then
  local got = redis.call('HMGET', KEYS[7], 'info', 'st')
  return { 'STALE', version, got[1] or '', got[2] or '' }
end

local SERVICE = #KEYS > 7
-- Returns a reply once the outbox is marked dirty (when this call wrote to it).
local function reply(r)
  if SERVICE and OUTBOX_WRITTEN then redis.call('SADD', KEYS[8], KEYS[6]) end
  return r
end

expireDue({})

local acct = loadAccount()
if ARGV[11] ~= '' or ARGV[12] ~= '' then
  local changed = not acct or (ARGV[11] ~= '' and acct.subject ~= ARGV[11])
  if acct and not changed and ARGV[12] ~= '' then
    if acct.subscriptionKeys then
      changed = not string.find(acct.subscriptionKeys, ',' .. ARGV[12] .. ',', 1, true)
    else -- an account written before subscriptionKeys existed
      changed = true
      for _, sub in ipairs(cjson.decode(redis.call('HGET', KEYS[1], 'subscriptions') or '[]')) do
        if sub.type .. ':' .. sub.value == ARGV[12] then changed = false end
      end
    end
  end
  if changed then return reply({ 'CHANGED', redis.call('HGETALL', KEYS[1]) }) end
end
local list = accountBalances(acct)
local byKey = {}
for _, b in ipairs(list) do byKey[b.scope .. ':' .. b.id] = b end
local floor = accountFloor(acct)

-- Planned writes, applied after the point of no return.
local moves = {}      -- {kind, b, delta, heldDelta}, in order
local created = {}    -- reservations to store: {id, expiresMs, holds}
local dropped = {}    -- reservation ids to delete
local reservations = {}

local function reservation(id)
  if id == '' then return nil end
  if reservations[id] == nil then
    local raw = redis.call('HGET', KEYS[4], id)
    reservations[id] = raw and decodeReservation(raw) or false
  end
  return reservations[id] or nil
end

local function move(kind, b, delta, heldDelta)
  moves[#moves + 1] = { kind = kind, b = b, delta = delta, heldDelta = heldDelta }
  b.value = b.value + delta
  b.held = b.held + heldDelta
end

local function releaseRes(kind, id)
  local res = reservation(id)
  if not res then return end
  for _, h in ipairs(res.moves) do
    local b = byKey[h[1] .. ':' .. h[2]]
    if b then move(kind, b, 0, -tonumber(h[3])) end
  end
  reservations[id] = false
  dropped[#dropped + 1] = id
end

local function taken(planned)
  local money, units = 0, 0
  for _, m in ipairs(planned) do
    if m.b.unit == 'money' then money = money + m.amount else units = units + m.amount end
  end
  return money, units
end

local function active()
  if not acct then return 'ACCOUNT_NOT_FOUND' end
  if acct.status ~= 'active' then return 'ACCOUNT_INACTIVE' end
  return nil
end

local function available(b) return b.value - b.held end

-- Each verb plans against the balances as earlier operations of this step left them; returns
-- code, money, units, detail and, when OK, a function that records its writes.
local verbs = {}

-- Takes the charge from the balances, as much of each as `free` says may be taken.
local function debitFrom(c, free)
  local bad = active()
  if bad then return bad, 0, 0, '' end
  local planned, code, covered = plan(list, c, free, floor)
  if code == 'NEED_PRICE' then return code, 0, 0, fmt(covered) end
  if not planned then return code, 0, 0, '' end
  local money, units = taken(planned)
  return 'OK', money, units, '', function()
    for _, m in ipairs(planned) do if m.amount > 0 then move('debit', m.b, -m.amount, 0) end end
  end
end

function verbs.debit(op, c) return debitFrom(c, available) end

function verbs.settle(op, c)
  local res = reservation(op.res)
  local holds = {}
  if res then for _, h in ipairs(res.moves) do holds[h[1] .. ':' .. h[2]] = tonumber(h[3]) end end
  if res and tonumber(res.expiresMs) > NOW then
    local held = {}
    for _, b in ipairs(list) do if holds[b.scope .. ':' .. b.id] then held[#held + 1] = b end end
    local planned, code, covered = plan(held, c, function(b) return holds[b.scope .. ':' .. b.id] end, 0)
    -- Asked the price of what the reservation covers; a charge priced for other covered units was
    -- priced for the direct debit below (the reservation held too little money), else the two
    -- would ask for each other's price forever.
    if code == 'NEED_PRICE' and c.covered == '' then return code, 0, 0, fmt(covered) end
    if planned then
      local money, units = taken(planned)
      return 'OK', money, units, '', function()
        releaseRes('release', op.res)
        for _, m in ipairs(planned) do if m.amount > 0 then move('commit', m.b, -m.amount, 0) end end
      end
    end
  end
  -- Gone, expired or too small: what was used is debited directly, the reservation released first
  -- (so what it holds counts as free).
  local code, money, units, detail, write = debitFrom(c, function(b)
    return available(b) + (holds[b.scope .. ':' .. b.id] or 0)
  end)
  if code ~= 'OK' then return code, money, units, detail end
  return code, money, units, detail, function()
    releaseRes('release', op.res)
    write()
  end
end

-- Reservation ids this step makes (a second reserve under one id would orphan the first's holds).
local reserving = {}

function verbs.reserve(op, c)
  local bad = active()
  if bad then return bad, 0, 0, '' end
  if reservation(op.res) or reserving[op.res] then return 'RESERVATION_EXISTS', 0, 0, '' end
  local planned, code, covered = plan(list, c, available, floor)
  if code == 'NEED_PRICE' then return code, 0, 0, fmt(covered) end
  if not planned then
    -- What each balance has free once the step's earlier operations are done (a settle gave back
    -- the session's reservation and took what was used): the caller grants what that affords.
    local free = {}
    for _, b in ipairs(list) do free[#free + 1] = b.scope .. ',' .. b.id .. ',' .. fmt(available(b)) end
    return code, 0, 0, table.concat(free, '|')
  end
  local money, units = taken(planned)
  local detail = {}
  for _, m in ipairs(planned) do
    if m.amount > 0 then detail[#detail + 1] = m.b.unit .. ':' .. fmt(m.amount) end
  end
  return 'OK', money, units, table.concat(detail, ','), function()
    local holds = {}
    for _, m in ipairs(planned) do
      if m.amount > 0 then
        move('reserve', m.b, 0, m.amount)
        holds[#holds + 1] = { m.b.scope, m.b.id, fmt(m.amount) }
      end
    end
    created[#created + 1] = { id = op.res, expiresMs = op.expiresMs, holds = holds }
    reserving[op.res] = true
  end
end

function verbs.release(op)
  return 'OK', 0, 0, '', function() releaseRes('release', op.res) end
end

function verbs.refund(op, c)
  local wallet
  for _, b in ipairs(list) do
    if b.unit == 'money' and (not wallet or b.weight > wallet.weight or (b.weight == wallet.weight and b.id < wallet.id)) then
      wallet = b
    end
  end
  if not wallet then return 'BALANCE_NOT_FOUND', 0, 0, '' end
  return 'OK', -c.amount, 0, '', function() move('refund', wallet, c.amount, 0) end
end

-- A reservation's holds as JSON ('unit:amount,...' -> [{"unit":..,"amount":..}]), for the state.
local function holdsJson(detail)
  local parts = {}
  for unit, amount in string.gmatch(detail, '([^,:]+):(%-?%d+)') do
    parts[#parts + 1] = '{"unit":"' .. unit .. '","amount":' .. amount .. '}'
  end
  return '[' .. table.concat(parts, ',') .. ']'
end

local n = tonumber(ARGV[15])
local results, deviated = {}, false
local holdsOf = {} -- operation (1-based) -> the holds of the reservation it makes, as JSON
for k = 0, n - 1 do
  local i = 16 + 13 * k
  local op = { verb = ARGV[i], res = ARGV[i + 1], expiresMs = ARGV[i + 2] }
  local code, money, units, detail, write = verbs[op.verb](op, readCharge(i + 3))
  if code == 'OK' and ((ARGV[i + 11] ~= '' and tonumber(ARGV[i + 11]) ~= money)
      or (ARGV[i + 12] ~= '' and tonumber(ARGV[i + 12]) ~= units)) then
    code = 'EXPECTATION'
  end
  results[#results + 1] = { code, money, units, detail }
  if code ~= 'OK' then deviated = true
  elseif op.verb == 'reserve' then holdsOf[k + 1] = holdsJson(detail) end
  -- Later operations plan against this one's effect, so its writes are recorded now (in memory).
  if write then write() end
end
if deviated then return reply({ 'DEVIATED', version, results }) end

-- Lists the answer just written (field a:<n>) and drops the oldest beyond KEEP_ANSWERS.
local function keepAnswers(field)
  local n = string.match(field, '^a:(%d+)$')
  if not n then return end
  local list = redis.call('HGET', KEYS[7], 'al')
  list = list and (list .. ',' .. n) or n
  local _, commas = string.gsub(list, ',', '')
  if commas >= KEEP_ANSWERS then
    local cut = string.find(list, ',', 1, true)
    local oldest = string.sub(list, 1, cut - 1)
    list = string.sub(list, cut + 1)
    redis.call('HDEL', KEYS[7], 'a:' .. oldest)
    local pw = redis.call('HGET', KEYS[7], 'pw')
    if not pw or tonumber(oldest) > tonumber(pw) then redis.call('HSET', KEYS[7], 'pw', oldest) end
  end
  redis.call('HSET', KEYS[7], 'al', list)
end

-- point of no return
for _, m in ipairs(moves) do apply(m.kind, m.b.scope, m.b.id, m.b.unit, m.delta, m.heldDelta) end
for _, id in ipairs(dropped) do
  redis.call('HDEL', KEYS[4], id)
  redis.call('ZREM', KEYS[5], id)
end
for _, c in ipairs(created) do
  redis.call('HSET', KEYS[4], c.id, encodeReservation(c.expiresMs, c.holds))
  redis.call('ZADD', KEYS[5], tonumber(c.expiresMs), c.id)
end
local kept = ARGV[2] .. '|' .. ARGV[10]
-- The session's state names the reservations this step makes by operation ("holds":"$h<op>"): what
-- they hold is known only here, and every engine planning the next step needs it.
local state = ARGV[9]
if string.find(state, '"holds":"$h', 1, true) then
  state = string.gsub(state, '"holds":"%$h(%d+)"', function(k) return '"holds":' .. (holdsOf[tonumber(k)] or '[]') end)
end
if not session then
  redis.call('SET', KEYS[7], kept, 'EX', tonumber(ARGV[4]))
elseif state == '' then -- an initiate that opens no session (nothing granted) keeps only its answer
  redis.call('HSET', KEYS[7], ARGV[7], kept)
  redis.call('EXPIRE', KEYS[7], tonumber(ARGV[4]))
else
  version = version + 1
  if ARGV[8] ~= '' then redis.call('HSET', KEYS[7], 'info', ARGV[8], 'st', state, 'v', version, ARGV[7], kept)
  else redis.call('HSET', KEYS[7], 'st', state, 'v', version, ARGV[7], kept) end
  keepAnswers(ARGV[7])
  redis.call('EXPIRE', KEYS[7], tonumber(ARGV[4]))
end
-- One outbox entry for the whole step.
local entry = { 'op', ARGV[1], 'account', ACCOUNT, 'at', ARGV[3] }
if #LEDGER > 0 then entry[#entry + 1] = 'moves'; entry[#entry + 1] = table.concat(LEDGER, ';') end
if ARGV[13] ~= '' then entry[#entry + 1] = 'rated'; entry[#entry + 1] = ARGV[13] end
if ARGV[14] ~= '' then
  entry[#entry + 1] = 'trail'; entry[#entry + 1] = ARGV[14]
  entry[#entry + 1] = 'answer'; entry[#entry + 1] = ARGV[10]
end
if #entry > 6 then
  redis.call('XADD', KEYS[6], '*', unpack(entry))
  OUTBOX_WRITTEN = true
end
LEDGER = {}
if SERVICE then
  local s = 16 + 13 * n
  if ARGV[s] ~= '' then
    if ARGV[s + 1] == '' then redis.call('ZREM', KEYS[9], ARGV[s])
    else redis.call('ZADD', KEYS[9], tonumber(ARGV[s + 1]), ARGV[s]) end
  end
  if ARGV[s + 2] ~= '' then redis.call('SET', KEYS[10], ACCOUNT, 'EX', tonumber(ARGV[s + 2])) end
end
return reply({ 'APPLIED', version, results })
