package ratelimit

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// takeScript is Take in one atomic step: KEYS[1] the bucket; ARGV the
// limit, the cost and the bucket's expiry (Unix milliseconds). It returns
// {1 when passed, the count after}.
var takeScript = redis.NewScript(`
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
local limit = tonumber(ARGV[1])
local cost = tonumber(ARGV[2])
if used >= limit or cost > limit - used then
  return {0, used}
end
if cost > 0 then
  used = redis.call('INCRBY', KEYS[1], cost)
  redis.call('PEXPIREAT', KEYS[1], ARGV[3])
end
return {1, used}
`)

// addScript adds ARGV[1] to KEYS[1], expiring at ARGV[2].
var addScript = redis.NewScript(`
redis.call('INCRBY', KEYS[1], ARGV[1])
redis.call('PEXPIREAT', KEYS[1], ARGV[2])
return 1
`)

// Redis is a Store in Redis, shared by the gateway replicas that use it.
// Buckets expire with their window; the scripts run by their SHA once
// loaded.
type Redis struct {
	client redis.UniversalClient
	prefix string
}

// RedisOptions configure a Redis store.
type RedisOptions struct {
	// URL is redis://[user:password@]host:port[/db] (rediss:// for TLS),
	// or unix:///path.sock.
	URL string
	// Timeout bounds each call (dial, read, write); 0 means 100ms.
	Timeout time.Duration
	// Prefix starts every key; "" means "aigw:rl:".
	Prefix string
}

// quietRedis keeps go-redis's own logger (process-wide, printing every
// failed dial) quiet: the limiter logs a failing store once, and counts
// each failure.
var quietRedis sync.Once

type discardLogger struct{}

func (discardLogger) Printf(context.Context, string, ...any) {}

// NewRedis returns a store on the Redis server opts.URL names. It does not
// connect until used: a Redis that is down when the gateway starts is a
// store error like any other.
func NewRedis(opts RedisOptions) (*Redis, error) {
	quietRedis.Do(func() { redis.SetLogger(discardLogger{}) })
	o, err := redis.ParseURL(opts.URL)
	if err != nil {
		return nil, fmt.Errorf("redis URL: %w", err)
	}
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = 100 * time.Millisecond
	}
	o.DialTimeout, o.ReadTimeout, o.WriteTimeout = timeout, timeout, timeout
	o.MaxRetries = -1 // a failed call fails: the limiter's failure mode decides
	o.ContextTimeoutEnabled = true
	prefix := opts.Prefix
	if prefix == "" {
		prefix = "aigw:rl:"
	}
	return &Redis{client: redis.NewClient(o), prefix: prefix}, nil
}

// Take implements [Store].
func (r *Redis) Take(ctx context.Context, key string, limit, cost uint64, expire time.Time) (uint64, bool, error) {
	res, err := takeScript.Run(ctx, r.client, []string{r.prefix + key}, limit, cost, expire.UnixMilli()).Int64Slice()
	if err != nil {
		return 0, false, fmt.Errorf("redis: %w", err)
	}
	if len(res) != 2 {
		return 0, false, fmt.Errorf("redis: unexpected reply %v", res)
	}
	return uint64(res[1]), res[0] == 1, nil
}

// Add implements [Store].
func (r *Redis) Add(ctx context.Context, key string, cost uint64, expire time.Time) error {
	if err := addScript.Run(ctx, r.client, []string{r.prefix + key}, cost, expire.UnixMilli()).Err(); err != nil {
		return fmt.Errorf("redis: %w", err)
	}
	return nil
}

// Close closes the connections.
func (r *Redis) Close() error { return r.client.Close() }
