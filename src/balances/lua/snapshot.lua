-- snapshot: expire due reservations, then read the account, its balances, the shared group's
-- balances and the open reservations, consistent at one instant.
-- Returns {account fields, balances fields, group balances fields, reservations fields}.
expireDue({})
return { redis.call('HGETALL', KEYS[1]), redis.call('HGETALL', KEYS[2]), redis.call('HGETALL', KEYS[3]),
  redis.call('HGETALL', KEYS[4]) }
