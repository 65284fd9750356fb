-- Extend the lease only if the caller still holds it with the same fence.
-- KEYS[1] lease; ARGV[1] 'owner fence', ARGV[2] lease milliseconds. Returns 1 or 0.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
