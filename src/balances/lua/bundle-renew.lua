-- bundle-renew: a plan bundle's grant for a new period (billing renewals, src/balances/bundles.ts).
-- KEYS as every verb of one account (common.lua). ARGV[3] is the renewal instant (the period start).
-- ARGV[6] main balance id (plan.{seq}.{suffix})   ARGV[7] its meta JSON (unit, weight, filters, and
--   expiryMs = the new period end)   ARGV[8] allowance (base units, >= 0)
-- ARGV[9] renewal: reset | rollover   ARGV[10] rollover cap (base units)
-- ARGV[11] this renewal's rollover sibling id (plan.{seq}.{suffix}.ro{k})   ARGV[12] its meta JSON
--   (weight + 1, expiry after rolloverPeriods)   ARGV[13] the siblings' id prefix (plan.{seq}.{suffix}.ro)
-- Checks, in order: replay; ACCOUNT_NOT_FOUND; ACCOUNT_INACTIVE (closed); BALANCE_EXISTS (the main id
-- holds another unit, or the sibling id is taken); ALREADY_RENEWED (OK, nothing moved: the main
-- balance already runs to this period end). Then, atomically: siblings that expired by now leave
-- (kind expire); of the main balance's available units (value - held) min(available, cap) move to
-- the new sibling (kind rollover), the rest leaves (kind expire); the main value becomes the
-- allowance (kind renew, or create on the first grant). Held units stay held: a data session open
-- across the renewal commits against the new allowance.
-- Refusals are not recorded (provisioning): a corrected retry under the same op id works.
-- Returns {replayed, {code, movements, rolled, dropped}}.
local r = replay(); if r then return r end
local acct = loadAccount()
if not acct then return refuse('ACCOUNT_NOT_FOUND') end
if acct.status == 'closed' then return refuse('ACCOUNT_INACTIVE', acct.status) end
local mainId, metaJson, allowance = ARGV[6], ARGV[7], tonumber(ARGV[8])
local newMeta = cjson.decode(metaJson)
local main = balance('a', mainId)
if main and main.unit ~= newMeta.unit then return refuse('BALANCE_EXISTS', mainId) end
if main and main.expiryMs ~= cjson.null and main.expiryMs ~= nil
  and tonumber(main.expiryMs) >= tonumber(newMeta.expiryMs) then
  return finish({ code = 'OK', movements = {}, rolled = '0', dropped = '0', detail = 'ALREADY_RENEWED' })
end
local available, rolled = 0, 0
if main then available = math.max(0, main.value - main.held) end
if ARGV[9] == 'rollover' then rolled = math.min(available, tonumber(ARGV[10])) end
local dropped = available - rolled
local siblingId = ARGV[11]
if rolled > 0 and balance('a', siblingId) then return refuse('BALANCE_EXISTS', siblingId) end

-- Siblings whose validity ended by now: what is not held leaves; an unheld one is removed.
local expired = {}
local prefix = ARGV[13]
if prefix ~= '' then
  local list = {}
  collect('a', list)
  for _, b in ipairs(list) do
    if string.sub(b.id, 1, #prefix) == prefix and b.expiryMs ~= nil and b.expiryMs ~= cjson.null
      and tonumber(b.expiryMs) <= NOW then
      expired[#expired + 1] = b
    end
  end
  table.sort(expired, function(a, b) return a.id < b.id end)
end

-- point of no return
local out = {}
for _, b in ipairs(expired) do
  local free = b.value - b.held
  if free > 0 then out[#out + 1] = apply('expire', 'a', b.id, b.unit, -free, 0) end
  if b.held == 0 then redis.call('HDEL', KEYS[2], 'm:' .. b.id, 'v:' .. b.id, 'h:' .. b.id) end
end
if not main then
  redis.call('HSET', KEYS[2], 'm:' .. mainId, metaJson, 'v:' .. mainId, 0, 'h:' .. mainId, 0)
  out[#out + 1] = apply('create', 'a', mainId, newMeta.unit, allowance, 0)
  return finish({ code = 'OK', movements = out, rolled = '0', dropped = '0' })
end
if rolled > 0 then
  redis.call('HSET', KEYS[2], 'm:' .. siblingId, ARGV[12], 'v:' .. siblingId, 0, 'h:' .. siblingId, 0)
  out[#out + 1] = apply('rollover', 'a', mainId, main.unit, -rolled, 0)
  out[#out + 1] = apply('rollover', 'a', siblingId, main.unit, rolled, 0)
end
if dropped > 0 then out[#out + 1] = apply('expire', 'a', mainId, main.unit, -dropped, 0) end
redis.call('HSET', KEYS[2], 'm:' .. mainId, metaJson)
out[#out + 1] = apply('renew', 'a', mainId, main.unit, allowance - (main.value - rolled - dropped), 0)
return finish({ code = 'OK', movements = out, rolled = fmt(rolled), dropped = fmt(dropped) })
