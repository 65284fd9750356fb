-- A follower's round trip: read the version and, when ARGV[1] (the owner) is not empty and
-- nobody holds the lease, take it (SET NX PX) with a fence that grows on every acquisition.
-- KEYS[1] lease, KEYS[2] fence counter, KEYS[3] version
-- ARGV[1] owner ('' = only read), ARGV[2] lease milliseconds
-- Returns {version or nil, fence acquired (0 = none), lease milliseconds left (-2 = no lease)}
local version = redis.call('GET', KEYS[3])
local fence = 0
if ARGV[1] ~= '' and redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  fence = redis.call('INCR', KEYS[2])
  redis.call('SET', KEYS[1], ARGV[1] .. ' ' .. fence, 'PX', ARGV[2])
end
return {version, fence, redis.call('PTTL', KEYS[1])}
