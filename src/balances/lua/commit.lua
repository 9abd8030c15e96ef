-- commit: take the used part of a reservation (planned as debit.lua plans, within what the
-- reservation holds on each balance) and release the rest.
-- ARGV[6] reservation id   ARGV[7..14] the charge actually used   ARGV[15] note
-- Checks, in order: replay; RESERVATION_NOT_FOUND (also when it expired: expiry releases it first);
-- NEED_PRICE; RESERVATION_EXCEEDED (the use costs more than is held). Then writes. The account may
-- have been suspended meanwhile: usage already consumed is still settled.
NOTE = ARGV[15] or ''
local r = replay(); if r then return r end
local raw = redis.call('HGET', KEYS[4], ARGV[6])
local out = {}
if raw and tonumber(decodeReservation(raw).expiresMs) <= NOW then
  releaseHolds('expire', ARGV[6], decodeReservation(raw), out)
  raw = nil
end
if not raw then return fail('RESERVATION_NOT_FOUND', ARGV[6]) end
local reservation = decodeReservation(raw)
local holds = {}
for _, h in ipairs(reservation.moves) do holds[h[1] .. ':' .. h[2]] = tonumber(h[3]) end
local list = {}
for _, b in ipairs(accountBalances()) do
  if holds[b.scope .. ':' .. b.id] then list[#list + 1] = b end
end
local moves, code, covered = plan(list, readCharge(7), function(b) return holds[b.scope .. ':' .. b.id] end, 0)
if code == 'NEED_PRICE' then return needPrice(covered) end
if not moves then return fail('RESERVATION_EXCEEDED') end
-- point of no return
releaseHolds('release', ARGV[6], reservation, out)
for _, m in ipairs(moves) do
  if m.amount > 0 then out[#out + 1] = apply('commit', m.b.scope, m.b.id, m.b.unit, -m.amount, 0) end
end
return finish({ code = 'OK', movements = out, reservationId = ARGV[6] })
