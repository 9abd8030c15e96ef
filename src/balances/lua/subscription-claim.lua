-- subscription-claim: who a subscription (msisdn, imsi ...) belongs to, on a Redis Cluster, where
-- its directory key lives in another slot than the account (see identity.ts for the protocol).
-- KEYS[1] the directory key (-> account id)   KEYS[2] its claim version (a counter, never reset)
-- ARGV[5] the claiming account   ARGV[6] action: claim | release
-- claim: ARGV[7], ARGV[8] an owner and version the caller fenced (freed), or ''.
--   Taken when free, already the account's, or still held by that fenced owner at that version;
--   every claim gets a new version. Otherwise SUBSCRIPTION_TAKEN with the owner and version.
-- release: ARGV[8] a version; the key goes only if the account still holds it at that version.
local owner = redis.call('GET', KEYS[1])
local version = tonumber(redis.call('GET', KEYS[2]) or '0')
if ARGV[6] == 'release' then
  if owner == ACCOUNT and version == tonumber(ARGV[8]) then redis.call('DEL', KEYS[1]) end
  return { 0, cjson.encode({ code = 'OK' }) }
end
if owner and owner ~= ACCOUNT and not (owner == ARGV[7] and version == tonumber(ARGV[8])) then
  return { 0, cjson.encode({ code = 'SUBSCRIPTION_TAKEN', owner = owner, version = version }) }
end
redis.call('SET', KEYS[1], ACCOUNT)
return { 0, cjson.encode({ code = 'OK', version = redis.call('INCR', KEYS[2]) }) }
