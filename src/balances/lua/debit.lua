-- debit: take amounts from balances (a debit, or a negative adjustment).
-- ARGV[6] kind (debit | adjust)   ARGV[7] final (1: record INSUFFICIENT; 0: the caller will re-plan)
-- ARGV[8] n, then n x (scope a|g, balance id, amount > 0)
-- Checks, in order: replay; ACCOUNT_NOT_FOUND; ACCOUNT_INACTIVE; BALANCE_NOT_FOUND; BALANCE_INACTIVE;
-- INSUFFICIENT (value - held - amount below 0, or below -credit limit for postpaid money). Then writes.
-- n = 0 with ARGV[9] = a code records that failure (the planner found it) under the operation id.
local r = replay(); if r then return r end
local moves = readMoves(8)
local acct = loadAccount()
if not acct then return fail('ACCOUNT_NOT_FOUND') end
if acct.status ~= 'active' then return fail('ACCOUNT_INACTIVE', acct.status) end
if #moves == 0 and ARGV[9] then return fail(ARGV[9], 'planned') end
local metas = {}
for i, m in ipairs(moves) do
  local meta = balance(m.scope, m.id)
  if not meta then return fail('BALANCE_NOT_FOUND', m.id) end
  if not isActive(meta) then return fail('BALANCE_INACTIVE', m.id) end
  if meta.value - meta.held - m.amount < floorOf(meta, acct) then
    if ARGV[7] == '1' then return fail('INSUFFICIENT', m.id) end
    return { 0, cjson.encode({ code = 'INSUFFICIENT', detail = m.id, retry = true }) }
  end
  metas[i] = meta
end
-- point of no return
local out = {}
for i, m in ipairs(moves) do out[#out + 1] = apply(ARGV[6], m.scope, m.id, metas[i].unit, -m.amount, 0) end
return finish({ code = 'OK', movements = out })
