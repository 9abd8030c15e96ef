-- commit: take all or part of a reservation and release the rest.
-- ARGV[6] reservation id   ARGV[7] n, then n x (scope a|g, balance id, amount >= 0); n = 0 with
-- ARGV[8] = a code records that failure (the planner found the use larger than the holds).
-- Checks, in order: replay; RESERVATION_NOT_FOUND (also when it expired: expiry releases it first);
-- RESERVATION_EXCEEDED (a balance not held, or more than held). Then writes. The account may be
-- suspended meanwhile: usage already consumed is still settled.
local r = replay(); if r then return r end
local raw = redis.call('HGET', KEYS[4], ARGV[6])
local out = {}
if raw and tonumber(cjson.decode(raw).expiresMs) <= NOW then
  releaseHolds('expire', ARGV[6], cjson.decode(raw), out)
  raw = nil
end
if not raw then return fail('RESERVATION_NOT_FOUND', ARGV[6]) end
local reservation = cjson.decode(raw)
local moves = readMoves(7)
if #moves == 0 and ARGV[8] then return fail(ARGV[8], 'planned') end
for _, m in ipairs(moves) do
  local heldHere = -1
  for _, h in ipairs(reservation.moves) do if h[1] == m.scope and h[2] == m.id then heldHere = tonumber(h[3]) end end
  if m.amount > heldHere then return fail('RESERVATION_EXCEEDED', m.id) end
end
-- point of no return
releaseHolds('release', ARGV[6], reservation, out)
for _, m in ipairs(moves) do
  if m.amount > 0 then
    local meta = balance(m.scope, m.id)
    out[#out + 1] = apply('commit', m.scope, m.id, meta.unit, -m.amount, 0)
  end
end
return finish({ code = 'OK', movements = out, reservationId = ARGV[6] })
