-- debit: take what a charge costs, all or nothing: matching unit balances first (heaviest, soonest
-- to expire), then money at the rated price for what they do not cover.
-- ARGV[6] kind (debit | adjust)   ARGV[7..14] the charge (see readCharge in common.lua)   ARGV[15] note
-- ARGV[16] 'force' (optional): skip the floor check, money may go below it (billing-internal callers
-- only: postpaid fees, invoice settlement, refunds; no route of the network role passes it).
-- Due reservations of the account expire first. Checks, in order: replay; ACCOUNT_NOT_FOUND;
-- ACCOUNT_INACTIVE; NEED_PRICE (not recorded: the caller prices the uncovered part exactly and calls
-- again); INSUFFICIENT (nothing below zero, or for postpaid money below minus the credit limit).
-- A debit is a provisioning write (billing staff, rerating): refusals are answered, not recorded, so a
-- corrected retry under the same reference goes through.
NOTE = ARGV[15] or ''
local r = replay(); if r then return r end
expireDue({})
local moves, reply = planAvailable(7, refuse, ARGV[16] == 'force' and -math.huge or nil)
if not moves then return reply end
-- point of no return
local out = {}
for _, m in ipairs(moves) do
  if m.amount > 0 then out[#out + 1] = apply(ARGV[6], m.b.scope, m.b.id, m.b.unit, -m.amount, 0) end
end
return finish({ code = 'OK', movements = out })
