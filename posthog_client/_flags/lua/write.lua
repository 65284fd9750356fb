-- Store a snapshot and its version, refusing a writer whose fence is lower than the last one
-- handed out (a paused ex-leader never overwrites newer definitions). A larger fence than the
-- counter (the server lost its data, then an old leader wrote) raises the counter, so fences
-- stay monotonic even then.
-- KEYS[1] fence counter, KEYS[2] snapshot, KEYS[3] version
-- ARGV[1] fence, ARGV[2] snapshot, ARGV[3] version, ARGV[4] expiry milliseconds,
-- ARGV[5] channel to publish the version on ('' = none). Returns 1, or 0 when fenced out.
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) < current then
  return 0
end
if tonumber(ARGV[1]) > current then
  redis.call('SET', KEYS[1], ARGV[1])
end
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[4])
redis.call('SET', KEYS[3], ARGV[3], 'PX', ARGV[4])
if ARGV[5] ~= '' then
  redis.call('PUBLISH', ARGV[5], ARGV[3])
end
return 1
