-- debit: take what a charge costs, all or nothing: matching unit balances first (heaviest, soonest
-- to expire), then money at the rated price for what they do not cover.
-- ARGV[6] kind (debit | adjust)   ARGV[7..14] the charge (see readCharge in common.lua)
-- Due reservations of the account expire first. Checks, in order: replay; ACCOUNT_NOT_FOUND; ACCOUNT_INACTIVE; NEED_PRICE (not recorded: the
-- caller prices the uncovered part exactly and calls again); INSUFFICIENT (nothing may go below
-- zero, or for postpaid money below minus the credit limit). Then writes.
local r = replay(); if r then return r end
expireDue({})
local acct = loadAccount()
if not acct then return fail('ACCOUNT_NOT_FOUND') end
if acct.status ~= 'active' then return fail('ACCOUNT_INACTIVE', acct.status) end
local c = readCharge(7)
local floor = 0
if acct.type == 'postpaid' then floor = -tonumber(acct.creditLimitNano or '0') end
local moves, code, covered = plan(accountBalances(acct), c, function(b) return b.value - b.held end, floor)
if code == 'NEED_PRICE' then return needPrice(covered) end
if not moves then return fail(code) end
-- point of no return
local out = {}
for _, m in ipairs(moves) do
  if m.amount > 0 then out[#out + 1] = apply(ARGV[6], m.b.scope, m.b.id, m.b.unit, -m.amount, 0) end
end
return finish({ code = 'OK', movements = out })
