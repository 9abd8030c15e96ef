-- cdr-charge: a batch of rated CDRs charged to their accounts, many accounts in one call. Each
-- account's CDRs are summed when that gives the same result as charging them one by one (no unit
-- balance of theirs could pay, the money balances are unrestricted and cover the sum); otherwise
-- the caller sends them one by one, in file order. What each account gave is kept in a journal
-- under the batch, so that a batch the caller could not store is given back (cdr-revert) and the
-- CDRs are charged again when the file is fed again: no CDR is charged without being stored.
--
-- KEYS, per account, 5: account hash, balances, group balances, reservations, reservation expiries;
-- then the outbox and the journal the call writes to (its accounts are of one tenant, or one tag),
-- and the call's own key: a client that sends a call again after a reconnect (its answer lost) is
-- refused with CALL_REPEATED, changing nothing; the caller then gives the batch back.
-- ARGV[1] batch id (the ledger's op, the journal's field prefix)   ARGV[2] journal retention (s)
-- ARGV[3] now (epoch ms, as for every verb: common.lua reads it there)   ARGV[4] number of accounts A, then per account: account id, mode, and
--   sum:  money (nano), the units of the CDRs ('voice,sms')
--   each: n, then n x the charge (8 fields, see readCharge)
-- Returns a result per account:
--   sum:  {'OK', money taken} | {'EACH'} (charge them one by one)
--   each: {'OK', r1..rn}, ri = the money CDR i took (a unit balance may have paid instead) or the
--         code that refused it (INSUFFICIENT) | {'NEED_PRICE', i, covered, r1..r(i-1)}: the CDRs
--         before i are charged; bundles cover part of CDR i: the caller prices the rest and calls
--         again from i
--   or ACCOUNT_NOT_FOUND | ACCOUNT_INACTIVE (nothing charged).
-- Writes per account: one change per balance, one ledger line per balance (kind cdr), the journal.
-- Every account is checked and planned first; the writes come after the point of no return (but
-- the call's own key and due reservations' expiry), so a call that fails halfway moves nothing.

local all = KEYS
local outbox, journal, call = all[#all - 2], all[#all - 1], all[#all]
if not redis.call('SET', call, '1', 'NX', 'EX', 86400) then
  return redis.error_reply('CALL_REPEATED this batch call was applied before')
end
local journals = {}   -- per journal key: fields to write at the end
-- Balance changes to apply at the end, in order: {account, hash, b, amount}; and what they take per
-- balance ('hash|id'), so that a later account of a shared group plans against what is left.
local changes, taken = {}, {}

local function restricted(b)
  local function set(l) return l ~= nil and l ~= cjson.null and #l > 0 end
  return b.blocker or set(b.destinations) or set(b.categories) or set(b.ratingGroups)
end

-- Plans what an account's CDRs took (per balance, summed) as balance changes and its journal entry.
-- `continued`: an earlier call of this batch charged the account already (NEED_PRICE): its journal
-- entry is extended, not replaced.
local function settleAccount(takes, order, continued)
  local journal = {}
  for _, key in ipairs(order) do
    local t = takes[key]
    if t.amount > 0 then
      local hash = hashOf(t.b.scope)
      changes[#changes + 1] = { account = ACCOUNT, hash = hash, b = t.b, amount = t.amount }
      taken[hash .. '|' .. t.b.id] = (taken[hash .. '|' .. t.b.id] or 0) + t.amount
      journal[#journal + 1] = t.b.scope .. ',' .. t.b.id .. ',' .. t.b.unit .. ',' .. fmt(t.amount)
    end
  end
  if #journal == 0 then return end
  local field = ARGV[1] .. ':' .. ACCOUNT
  local before = continued and redis.call('HGET', KEYS[7], field)
  if before then journal[#journal + 1] = before end
  local j = journals[KEYS[7]] or {}
  j[#j + 1] = field
  j[#j + 1] = table.concat(journal, ';')
  journals[KEYS[7]] = j
end

local function record(takes, order, planned)
  for _, m in ipairs(planned) do
    local key = m.b.scope .. ':' .. m.b.id
    if not takes[key] then takes[key] = { b = m.b, amount = 0 }; order[#order + 1] = key end
    takes[key].amount = takes[key].amount + m.amount
    m.b.value = m.b.value - m.amount -- the next CDR of the account plans against what is left
  end
end

local function available(b) return b.value - b.held end

-- The account's balances less what earlier accounts of this call take from them (a shared group's).
local function balancesOf(acct)
  local list = accountBalances(acct)
  for _, b in ipairs(list) do b.value = b.value - (taken[hashOf(b.scope) .. '|' .. b.id] or 0) end
  return list
end

local function sum(list, acct, i)
  local units = {}
  for u in string.gmatch(ARGV[i + 1], '[^,]+') do units[u] = true end
  for _, b in ipairs(list) do
    -- generic balances pay any unit's usage before money (CGRateS order), so they need the per-CDR plan
    if (b.unit ~= 'money' and (units[b.unit] or b.unit == 'generic') and isActive(b)) or (b.unit == 'money' and restricted(b)) then
      return { 'EACH' }
    end
  end
  local floor = accountFloor(acct)
  local total = tonumber(ARGV[i])
  local planned = plan(list, { unit = 'money', units = 0, amount = total }, available, floor)
  if not planned then return { 'EACH' } end
  local takes, order = {}, {}
  record(takes, order, planned)
  settleAccount(takes, order, false)
  return { 'OK', total }
end

local function each(list, acct, i)
  local floor = accountFloor(acct)
  local n = tonumber(ARGV[i])
  local takes, order, out = {}, {}, {}
  for k = 0, n - 1 do
    local c = readCharge(i + 1 + 8 * k)
    local planned, code, covered = plan(list, c, available, floor)
    if code == 'NEED_PRICE' then
      settleAccount(takes, order, true)
      return { 'NEED_PRICE', k + 1, covered, unpack(out) }
    end
    if planned then
      local money = 0
      for _, m in ipairs(planned) do if m.b.unit == 'money' then money = money + m.amount end end
      record(takes, order, planned)
      out[#out + 1] = money
    else
      out[#out + 1] = code
    end
  end
  settleAccount(takes, order, true)
  return { 'OK', unpack(out) }
end

local results = {}
local i = 5
for a = 0, tonumber(ARGV[4]) - 1 do
  local base = 5 * a
  KEYS = { all[base + 1], all[base + 2], all[base + 3], all[base + 4], all[base + 5], outbox, journal }
  ACCOUNT = ARGV[i]
  local mode = ARGV[i + 1]
  local width = mode == 'sum' and 4 or 3 + 8 * tonumber(ARGV[i + 2])
  expireDue({})
  local acct = loadAccount()
  if not acct then results[#results + 1] = { 'ACCOUNT_NOT_FOUND' }
  elseif acct.status ~= 'active' then results[#results + 1] = { 'ACCOUNT_INACTIVE' }
  elseif mode == 'sum' then results[#results + 1] = sum(balancesOf(acct), acct, i + 2)
  else results[#results + 1] = each(balancesOf(acct), acct, i + 2) end
  i = i + width
end

-- point of no return
local lines = {}
for _, c in ipairs(changes) do
  local b = c.b
  local after = redis.call('HINCRBY', c.hash, 'v:' .. b.id, -c.amount)
  lines[#lines + 1] = c.account .. ',' .. b.scope .. ',' .. b.id .. ',' .. b.unit .. ',cdr,' .. fmt(-c.amount)
    .. ',0,' .. fmt(after)
end
for key, fields in pairs(journals) do
  redis.call('HSET', key, unpack(fields))
  redis.call('EXPIRE', key, tonumber(ARGV[2]))
end
if #lines > 0 then
  redis.call('XADD', outbox, '*', 'op', ARGV[1], 'account', '', 'at', ARGV[3], 'moves', table.concat(lines, ';'))
end
return results
