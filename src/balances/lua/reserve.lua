-- reserve: hold amounts for a session until commit, release or expiry.
-- ARGV[6] reservation id   ARGV[7] expires at (epoch ms)   ARGV[8] final (see debit.lua)
-- ARGV[9] n, then n x (scope a|g, balance id, amount > 0)
-- Checks, in order: replay; RESERVATION_EXISTS; ACCOUNT_NOT_FOUND; ACCOUNT_INACTIVE; BALANCE_NOT_FOUND;
-- BALANCE_INACTIVE; INSUFFICIENT (available = value - held). Then writes.
local r = replay(); if r then return r end
local moves = readMoves(9)
if redis.call('HEXISTS', KEYS[4], ARGV[6]) == 1 then return fail('RESERVATION_EXISTS', ARGV[6]) end
local acct = loadAccount()
if not acct then return fail('ACCOUNT_NOT_FOUND') end
if acct.status ~= 'active' then return fail('ACCOUNT_INACTIVE', acct.status) end
if #moves == 0 and ARGV[10] then return fail(ARGV[10], 'planned') end
local metas = {}
for i, m in ipairs(moves) do
  local meta = balance(m.scope, m.id)
  if not meta then return fail('BALANCE_NOT_FOUND', m.id) end
  if not isActive(meta) then return fail('BALANCE_INACTIVE', m.id) end
  if meta.value - meta.held - m.amount < floorOf(meta, acct) then
    if ARGV[8] == '1' then return fail('INSUFFICIENT', m.id) end
    return { 0, cjson.encode({ code = 'INSUFFICIENT', detail = m.id, retry = true }) }
  end
  metas[i] = meta
end
-- point of no return
local out, held = {}, {}
for i, m in ipairs(moves) do
  out[#out + 1] = apply('reserve', m.scope, m.id, metas[i].unit, 0, m.amount)
  held[#held + 1] = { m.scope, m.id, fmt(m.amount) }
end
redis.call('HSET', KEYS[4], ARGV[6], cjson.encode({ expiresMs = ARGV[7], moves = held }))
redis.call('ZADD', KEYS[5], tonumber(ARGV[7]), ARGV[6])
return finish({ code = 'OK', movements = out, reservationId = ARGV[6], expiresMs = ARGV[7] })
