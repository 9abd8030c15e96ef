-- release: give a whole reservation back.   ARGV[6] reservation id
-- Checks: replay; RESERVATION_NOT_FOUND. Then writes.
local r = replay(); if r then return r end
local raw = redis.call('HGET', KEYS[4], ARGV[6])
if not raw then return fail('RESERVATION_NOT_FOUND', ARGV[6]) end
-- point of no return
local out = {}
releaseHolds('release', ARGV[6], decodeReservation(raw), out)
return finish({ code = 'OK', movements = out, reservationId = ARGV[6] })
