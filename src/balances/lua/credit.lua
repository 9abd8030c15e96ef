-- credit: add amounts to balances (top-up, refund, positive adjustment).
-- ARGV[6] kind (topup | refund | adjust)   ARGV[7] n, then n x (scope a|g, balance id, amount > 0),
-- then the caller's note
-- Checks, in order: replay; ACCOUNT_NOT_FOUND; ACCOUNT_INACTIVE (closed only); BALANCE_NOT_FOUND. Then writes.
-- Refusals are not recorded: a corrected retry under the same reference works.
NOTE = ARGV[8 + 3 * tonumber(ARGV[7])] or ''
local r = replay(); if r then return r end
local acct = loadAccount()
if not acct then return refuse('ACCOUNT_NOT_FOUND') end
if acct.status == 'closed' then return refuse('ACCOUNT_INACTIVE', acct.status) end
local moves = readMoves(7)
local metas = {}
for i, m in ipairs(moves) do
  metas[i] = balance(m.scope, m.id)
  if not metas[i] then return refuse('BALANCE_NOT_FOUND', m.id) end
end
-- point of no return
local out = {}
for i, m in ipairs(moves) do out[#out + 1] = apply(ARGV[6], m.scope, m.id, metas[i].unit, m.amount, 0) end
return finish({ code = 'OK', movements = out })
