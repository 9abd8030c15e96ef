-- account-admin: create or change an account.   ARGV[6] action (create | update)
-- ARGV[7..] field, value pairs (type, currency, status, creditLimitNano, subject, sharedGroup, tenant, id, subscriptions)
-- Checks: replay; ACCOUNT_EXISTS (create) / ACCOUNT_NOT_FOUND (update); a closed account stays closed.
local r = replay(); if r then return r end
local exists = redis.call('EXISTS', KEYS[1]) == 1
if ARGV[6] == 'create' and exists then return fail('ACCOUNT_EXISTS') end
if ARGV[6] == 'update' and not exists then return fail('ACCOUNT_NOT_FOUND') end
if ARGV[6] == 'update' and redis.call('HGET', KEYS[1], 'status') == 'closed' then return fail('ACCOUNT_INACTIVE', 'closed') end
-- point of no return
local fields = {}
for i = 7, #ARGV do fields[#fields + 1] = ARGV[i] end
if #fields > 0 then redis.call('HSET', KEYS[1], unpack(fields)) end
return finish({ code = 'OK', movements = {} })
