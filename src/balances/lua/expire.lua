-- expire: release every reservation of the account whose time has come (ARGV[3] = now).
-- Needs no operation id (ARGV[1], ARGV[2], KEYS[7] unused): expiring twice changes nothing.
-- Returns {0, JSON {code, movements, expired: [reservation ids]}}.
local due = redis.call('ZRANGEBYSCORE', KEYS[5], '-inf', ARGV[3])
local out, expired = {}, {}
for _, resId in ipairs(due) do
  local raw = redis.call('HGET', KEYS[4], resId)
  if raw then releaseHolds('expire', resId, cjson.decode(raw), out) else redis.call('ZREM', KEYS[5], resId) end
  expired[#expired + 1] = resId
end
if #expired == 0 then return { 0, '{"code":"OK","movements":{},"expired":{}}' } end
return { 0, cjson.encode({ code = 'OK', movements = out, expired = expired }) }
