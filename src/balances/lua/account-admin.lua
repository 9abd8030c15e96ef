-- account-admin: create or change an account, and the subscriptions (msisdn, imsi ...) that find it.
-- KEYS[8] the account's directory key (id -> tag)   KEYS[9] the set of every outbox
-- KEYS[10] the account's subscription fences (hash: type:value -> claim version)
-- then per subscription i: KEYS[9 + 2i] its directory key, KEYS[10 + 2i] the account hash of the
-- owner the caller saw (or the directory key again when it saw none)
-- ARGV[6] action: create | update | subscribe | unsubscribe | fence   ARGV[7] mode: whole | account
-- ARGV[8] tag (create)   ARGV[9] n, then n x (type:value, x)   then field, value pairs (create, update)
--
-- Mode 'whole' (one Redis, every key reachable): each claim is checked and written here with the
-- account, atomically; x is the owner the caller saw. A claim whose owner does not list it was left
-- by an older version's refused request and is free.
-- Mode 'account' (a Cluster: directory keys live in other slots; KEYS[8], KEYS[9] and the claim keys
-- are not touched): the caller claimed each subscription first (subscription-claim) under version x.
-- A fence at or above x means another caller found the claim unlisted and freed it, so it is
-- refused; unsubscribe and fence leave a fence at x. The protocol is described in identity.ts.
-- Checks: replay; ACCOUNT_EXISTS (create) / ACCOUNT_NOT_FOUND; a closed account takes no change
-- but giving a subscription back; SUBSCRIPTION_TAKEN. Refusals are not recorded.
local action, whole = ARGV[6], ARGV[7] == 'whole'
local subs = {}
for i = 1, tonumber(ARGV[9]) do
  subs[i] = { key = ARGV[8 + 2 * i], x = ARGV[9 + 2 * i], dir = KEYS[9 + 2 * i], owner = KEYS[10 + 2 * i] }
end
local fieldsFrom = 10 + 2 * #subs

local function listed(acctKey, key)
  local keys = redis.call('HGET', acctKey, 'subscriptionKeys')
  if not keys then return redis.call('EXISTS', acctKey) == 1 end -- written before subscriptionKeys: assume so
  return string.find(keys, ',' .. key .. ',', 1, true) ~= nil
end

local function fence(s)
  if tonumber(s.x) > tonumber(redis.call('HGET', KEYS[10], s.key) or '-1') then
    redis.call('HSET', KEYS[10], s.key, s.x)
  end
end

local function claimable(s)
  if not whole then return tonumber(redis.call('HGET', KEYS[10], s.key) or '-1') < tonumber(s.x) end
  local owner = redis.call('GET', s.dir)
  if not owner or owner == ACCOUNT then return true end
  return owner == s.x and s.owner ~= s.dir and not listed(s.owner, s.key)
end

local function currentSubs()
  local list = {}
  for _, s in ipairs(cjson.decode(redis.call('HGET', KEYS[1], 'subscriptions') or '[]')) do
    list[#list + 1] = s.type .. ':' .. s.value
  end
  return list
end

-- The list as stored: JSON, and ',type:value,...,' for the step's quick check.
local function writeSubs(list)
  local json = {}
  for i, k in ipairs(list) do
    local at = string.find(k, ':', 1, true)
    json[i] = '{"type":' .. cjson.encode(string.sub(k, 1, at - 1)) .. ',"value":'
      .. cjson.encode(string.sub(k, at + 1)) .. '}'
  end
  redis.call('HSET', KEYS[1], 'subscriptions', '[' .. table.concat(json, ',') .. ']',
    'subscriptionKeys', ',' .. table.concat(list, ',') .. ',')
end

local exists = redis.call('EXISTS', KEYS[1]) == 1

-- fence (a Cluster's cleanup, not an operation): says whether the account lists the subscription,
-- and if not, fences it so that no claim up to version x can be listed any more.
if action == 'fence' then
  if exists and listed(KEYS[1], subs[1].key) then return { 0, cjson.encode({ code = 'LISTED' }) } end
  fence(subs[1])
  return { 0, cjson.encode({ code = 'OK' }) }
end

local r = replay(); if r then return r end
if action == 'create' then
  if exists then return refuse('ACCOUNT_EXISTS') end
  local tag = whole and redis.call('GET', KEYS[8])
  if tag and tag ~= ARGV[8] then return refuse('ACCOUNT_EXISTS', 'in another shared group') end
elseif not exists then return refuse('ACCOUNT_NOT_FOUND')
elseif action ~= 'unsubscribe' and redis.call('HGET', KEYS[1], 'status') == 'closed' then
  return refuse('ACCOUNT_INACTIVE', 'closed')
end
if action == 'create' or action == 'subscribe' then
  for _, s in ipairs(subs) do
    if not claimable(s) then return refuse('SUBSCRIPTION_TAKEN', s.key) end
  end
end
-- point of no return
local fields = {}
for i = fieldsFrom, #ARGV do fields[#fields + 1] = ARGV[i] end
if #fields > 0 then redis.call('HSET', KEYS[1], unpack(fields)) end
if action == 'create' and whole then
  redis.call('SET', KEYS[8], ARGV[8])
  redis.call('SADD', KEYS[9], KEYS[6])
end
if action ~= 'update' then
  local drop, kept = {}, {}
  for _, s in ipairs(subs) do drop[s.key] = true end
  if action ~= 'create' then
    for _, k in ipairs(currentSubs()) do if not drop[k] then kept[#kept + 1] = k end end
  end
  for _, s in ipairs(subs) do
    if action == 'unsubscribe' then
      if whole and redis.call('GET', s.dir) == ACCOUNT then redis.call('DEL', s.dir) end
      if not whole then fence(s) end
    else
      kept[#kept + 1] = s.key
      if whole then redis.call('SET', s.dir, ACCOUNT) end
    end
  end
  writeSubs(kept)
end
return finish({ code = 'OK', movements = {} })
