-- snapshot: expire due reservations, then read the account, its balances, the shared group's
-- balances and the open reservations (what a planner needs, consistent at one instant).
-- Returns {account fields, balances fields, group balances fields, reservations fields}.
local due = redis.call('ZRANGEBYSCORE', KEYS[5], '-inf', ARGV[3])
local out = {}
for _, resId in ipairs(due) do
  local raw = redis.call('HGET', KEYS[4], resId)
  if raw then releaseHolds('expire', resId, cjson.decode(raw), out) else redis.call('ZREM', KEYS[5], resId) end
end
return { redis.call('HGETALL', KEYS[1]), redis.call('HGETALL', KEYS[2]), redis.call('HGETALL', KEYS[3]),
  redis.call('HGETALL', KEYS[4]) }
