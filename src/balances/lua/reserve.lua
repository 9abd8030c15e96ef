-- reserve: hold what a charge would cost (as debit.lua plans it) until commit, release or expiry.
-- ARGV[6] reservation id   ARGV[7] expires at (epoch ms)   ARGV[8..15] the charge
-- Due reservations of the account expire first. Checks, in order: replay; RESERVATION_EXISTS; ACCOUNT_NOT_FOUND; ACCOUNT_INACTIVE; NEED_PRICE;
-- INSUFFICIENT (available = value - held). Then writes.
local r = replay(); if r then return r end
expireDue({})
if redis.call('HEXISTS', KEYS[4], ARGV[6]) == 1 then return fail('RESERVATION_EXISTS', ARGV[6]) end
local acct = loadAccount()
if not acct then return fail('ACCOUNT_NOT_FOUND') end
if acct.status ~= 'active' then return fail('ACCOUNT_INACTIVE', acct.status) end
local c = readCharge(8)
local floor = 0
if acct.type == 'postpaid' then floor = -tonumber(acct.creditLimitNano or '0') end
local moves, code, covered = plan(accountBalances(acct), c, function(b) return b.value - b.held end, floor)
if code == 'NEED_PRICE' then return needPrice(covered) end
if not moves then return fail(code) end
-- point of no return
local out, held = {}, {}
for _, m in ipairs(moves) do
  if m.amount > 0 then
    out[#out + 1] = apply('reserve', m.b.scope, m.b.id, m.b.unit, 0, m.amount)
    held[#held + 1] = { m.b.scope, m.b.id, fmt(m.amount) }
  end
end
redis.call('HSET', KEYS[4], ARGV[6], cjson.encode({ expiresMs = ARGV[7], moves = held }))
redis.call('ZADD', KEYS[5], tonumber(ARGV[7]), ARGV[6])
return finish({ code = 'OK', movements = out, reservationId = ARGV[6], expiresMs = ARGV[7] })
