-- cdr-revert: gives back what a batch of CDRs took from its accounts (cdr-charge's journal), once:
-- each account's journal entry goes with the money it gave back. A balance removed meanwhile is
-- not recreated (what it gave is noted in the ledger with kind revert-lost).
-- KEYS as cdr-charge (5 per account, then the outbox and the journal)   ARGV[1] batch id   ARGV[2] number of accounts A   ARGV[3] now,
-- then A account ids. Returns per account 1 if it was given something back, else 0.
local all = KEYS
local outbox, journal = all[#all - 1], all[#all]
local ledgers, given = {}, {}
for a = 0, tonumber(ARGV[2]) - 1 do
  local base = 5 * a
  KEYS = { all[base + 1], all[base + 2], all[base + 3], all[base + 4], all[base + 5], outbox, journal }
  ACCOUNT = ARGV[4 + a]
  local field = ARGV[1] .. ':' .. ACCOUNT
  local entry = redis.call('HGET', KEYS[7], field)
  given[#given + 1] = entry and 1 or 0
  if entry then
    local lines = ledgers[KEYS[6]] or {}
    for scope, id, unit, amount in string.gmatch(entry, '([ag]),([^,;]+),([^,;]+),(%d+)') do
      local h = hashOf(scope)
      if redis.call('HEXISTS', h, 'm:' .. id) == 1 then
        local after = redis.call('HINCRBY', h, 'v:' .. id, tonumber(amount))
        lines[#lines + 1] = ACCOUNT .. ',' .. scope .. ',' .. id .. ',' .. unit .. ',revert,' .. amount .. ',0,' .. fmt(after)
      else
        lines[#lines + 1] = ACCOUNT .. ',' .. scope .. ',' .. id .. ',' .. unit .. ',revert-lost,0,0,0'
      end
    end
    ledgers[KEYS[6]] = lines
    redis.call('HDEL', KEYS[7], field)
  end
end
for key, lines in pairs(ledgers) do
  if #lines > 0 then
    redis.call('XADD', key, '*', 'op', 'revert:' .. ARGV[1], 'account', '', 'at', ARGV[3], 'moves', table.concat(lines, ';'))
  end
end
return given
