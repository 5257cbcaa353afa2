package httpproxy

import (
	"context"
	"log/slog"
	"net"
	"strconv"
	"sync"

	"github.com/aigw-dev/aigw/internal/config"
	"github.com/aigw-dev/aigw/internal/scheduler"
)

// schedulers keeps one endpoint scheduler per InferencePool across
// configuration reloads, so scraped metrics, in-flight counts and the
// prefix-cache index survive a reload. The gateway picks with them for
// pools without an endpoint picker and when a FailOpen picker fails.
type schedulers struct {
	logger *slog.Logger
	mu     sync.Mutex
	m      map[string]*schedEntry
}

type schedEntry struct {
	s      *scheduler.Scheduler
	cancel context.CancelFunc
}

func newSchedulers(logger *slog.Logger) *schedulers {
	return &schedulers{logger: logger, m: map[string]*schedEntry{}}
}

// get returns the pool's scheduler, started on first use; the pool sets
// its endpoints.
func (ss *schedulers) get(pool string) (*scheduler.Scheduler, error) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	e, ok := ss.m[pool]
	if !ok {
		s, err := scheduler.New(scheduler.DefaultConfig(), ss.logger.With("pool", pool))
		if err != nil {
			return nil, err
		}
		ctx, cancel := context.WithCancel(context.Background())
		go func() { _ = s.Start(ctx) }()
		e = &schedEntry{s: s, cancel: cancel}
		ss.m[pool] = e
	}
	return e.s, nil
}

// retain stops the schedulers of pools not in keep.
func (ss *schedulers) retain(keep map[string]bool) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	for name, e := range ss.m {
		if !keep[name] {
			e.cancel()
			delete(ss.m, name)
		}
	}
}

func (ss *schedulers) close() { ss.retain(nil) }

func schedulerEndpoints(eps []config.PoolEndpoint) []scheduler.Endpoint {
	out := make([]scheduler.Endpoint, len(eps))
	for i, e := range eps {
		out[i] = scheduler.Endpoint{Address: net.JoinHostPort(e.IP, strconv.Itoa(int(e.Port))), PodName: e.Pod}
	}
	return out
}
