-- After a 304: replace the version (new fetched-at time) and push both expiries, under the same
-- fence rule as write.lua.
-- KEYS[1] fence counter, KEYS[2] snapshot, KEYS[3] version
-- ARGV[1] fence, ARGV[2] version, ARGV[3] expiry milliseconds
-- Returns 1, 0 when fenced out, -1 when there is no snapshot to touch.
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) < current then
  return 0
end
if redis.call('PEXPIRE', KEYS[2], ARGV[3]) == 0 then
  return -1
end
redis.call('SET', KEYS[3], ARGV[2], 'PX', ARGV[3])
return 1
