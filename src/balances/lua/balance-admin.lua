-- balance-admin: create, change or remove a balance (billing staff and bundle provisioning).
-- ARGV[6] action (add | update | remove)   ARGV[7] scope a|g   ARGV[8] balance id
-- ARGV[9] meta JSON (add, update)   ARGV[10] initial value (add)
-- Checks, in order: replay; ACCOUNT_NOT_FOUND; BALANCE_EXISTS (add) / BALANCE_NOT_FOUND; for remove,
-- RESERVATION_EXISTS while reservations hold it. A removed balance's value leaves through the ledger.
-- Refusals are not recorded: a corrected retry under the same reference works.
local r = replay(); if r then return r end
if redis.call('EXISTS', KEYS[1]) == 0 then return refuse('ACCOUNT_NOT_FOUND') end
local action, scope, id = ARGV[6], ARGV[7], ARGV[8]
local h = hashOf(scope)
local meta = balance(scope, id)
if action == 'add' then
  if meta then return refuse('BALANCE_EXISTS', id) end
  -- point of no return
  redis.call('HSET', h, 'm:' .. id, ARGV[9], 'v:' .. id, 0, 'h:' .. id, 0)
  local unit = cjson.decode(ARGV[9]).unit
  return finish({ code = 'OK', movements = { apply('create', scope, id, unit, tonumber(ARGV[10]), 0) } })
end
if not meta then return refuse('BALANCE_NOT_FOUND', id) end
if action == 'update' then
  redis.call('HSET', h, 'm:' .. id, ARGV[9])
  return finish({ code = 'OK', movements = {} })
end
if meta.held ~= 0 then return refuse('RESERVATION_EXISTS', id) end
-- point of no return
local out = { apply('remove', scope, id, meta.unit, -meta.value, 0) }
redis.call('HDEL', h, 'm:' .. id, 'v:' .. id, 'h:' .. id)
return finish({ code = 'OK', movements = out })
