-- reserve: hold what a charge would cost (as debit.lua plans it) until commit, release or expiry.
-- ARGV[6] reservation id   ARGV[7] expires at (epoch ms)   ARGV[8..15] the charge   ARGV[16] note
-- Due reservations of the account expire first. Checks, in order: replay; RESERVATION_EXISTS;
-- ACCOUNT_NOT_FOUND; ACCOUNT_INACTIVE; NEED_PRICE; INSUFFICIENT (available = value - held).
NOTE = ARGV[16] or ''
local r = replay(); if r then return r end
expireDue({})
if redis.call('HEXISTS', KEYS[4], ARGV[6]) == 1 then return fail('RESERVATION_EXISTS', ARGV[6]) end
local moves, reply = planAvailable(8, fail)
if not moves then return reply end
-- point of no return
local out, held = {}, {}
for _, m in ipairs(moves) do
  if m.amount > 0 then
    out[#out + 1] = apply('reserve', m.b.scope, m.b.id, m.b.unit, 0, m.amount)
    held[#held + 1] = { m.b.scope, m.b.id, fmt(m.amount) }
  end
end
redis.call('HSET', KEYS[4], ARGV[6], encodeReservation(ARGV[7], held))
redis.call('ZADD', KEYS[5], tonumber(ARGV[7]), ARGV[6])
return finish({ code = 'OK', movements = out, reservationId = ARGV[6], expiresMs = ARGV[7] })
