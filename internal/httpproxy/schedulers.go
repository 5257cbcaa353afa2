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

// get returns the pool's scheduler, started on first use; a pool whose
// scheduler configuration changed gets a new one (the old one stops when
// retain no longer keeps it, so a rejected reload leaves the running
// configuration's scheduler alone). The pool sets its endpoints.
func (ss *schedulers) get(pool *config.Pool) (*scheduler.Scheduler, error) {
	key := schedKey(pool)
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if e, ok := ss.m[key]; ok {
		return e.s, nil
	}
	cfg := scheduler.DefaultConfig()
	if pool.SchedulerConfig != "" {
		var err error
		if cfg, _, err = scheduler.ParsePickerConfig([]byte(pool.SchedulerConfig), cfg); err != nil {
			return nil, err
		}
	}
	s, err := scheduler.New(cfg, ss.logger.With("pool", pool.Name))
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { _ = s.Start(ctx) }()
	ss.m[key] = &schedEntry{s: s, cancel: cancel}
	return s, nil
}

// schedKey identifies a pool's scheduler: its name and configuration.
func schedKey(pool *config.Pool) string { return pool.Name + "\x00" + pool.SchedulerConfig }

// retain stops the schedulers whose keys (schedKey) are not in keep.
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
