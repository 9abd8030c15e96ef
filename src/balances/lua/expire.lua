-- expire: release every reservation of the account whose time has come (ARGV[3] = now).
-- Needs no operation id (ARGV[1], ARGV[2], KEYS[7] unused): expiring twice changes nothing.
-- Returns {0, JSON {code, movements, expired: [reservation ids]}}.
local out = {}
local expired = expireDue(out)
if #expired == 0 then return { 0, '{"code":"OK","movements":{},"expired":{}}' } end
return { 0, cjson.encode({ code = 'OK', movements = out, expired = expired }) }
