package pool

import (
	"context"
	"encoding/json"
	"log/slog"
	"strconv"
	"sync"

	"github.com/aigw-dev/aigw/internal/config"
	"github.com/aigw-dev/aigw/internal/epp"
	"github.com/aigw-dev/aigw/internal/scheduler"
)

// Registry keeps what outlives one configuration: one scheduler per pool,
// so that scraped metrics, in-flight counts and the prefix-cache index
// survive a reload, and one connection per endpoint picker. It is safe for
// concurrent use.
type Registry struct {
	logger  *slog.Logger
	pickers *epp.Conns
	mu      sync.Mutex
	scheds  map[string]*schedEntry
}

type schedEntry struct {
	s      *scheduler.Scheduler
	cancel context.CancelFunc
}

// NewRegistry returns an empty registry; logger must not be nil.
func NewRegistry(logger *slog.Logger) *Registry {
	return &Registry{logger: logger, pickers: epp.NewConns(logger), scheds: map[string]*schedEntry{}}
}

// scheduler returns the pool's scheduler, made on first use. It scrapes the
// endpoints' metrics only when the gateway may pick for the pool (no
// picker, or a FailOpen one); otherwise it only counts requests in flight.
// A pool whose scheduler configuration changed gets a new one; the old one
// stops when Retain no longer keeps it, so a rejected reload leaves the
// running configuration's scheduler alone.
func (r *Registry) scheduler(cp *config.Pool, scrape bool) (*scheduler.Scheduler, error) {
	key := schedKey(cp, scrape)
	r.mu.Lock()
	defer r.mu.Unlock()
	if e, ok := r.scheds[key]; ok {
		return e.s, nil
	}
	cfg, err := scheduler.FromSpec(cp.Scheduler, scheduler.DefaultConfig())
	if err != nil {
		return nil, err
	}
	s, err := scheduler.New(cfg, r.logger.With("pool", cp.Name))
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	if scrape {
		go func() { _ = s.Start(ctx) }()
	}
	r.scheds[key] = &schedEntry{s: s, cancel: cancel}
	return s, nil
}

// schedKey identifies a pool's scheduler: its name, configuration and
// whether it scrapes.
func schedKey(cp *config.Pool, scrape bool) string {
	spec, _ := json.Marshal(cp.Scheduler) // plain data always encodes
	return cp.Name + "\x00" + string(spec) + "\x00" + strconv.FormatBool(scrape)
}

// scrapes reports whether the gateway may pick for the pool.
func scrapes(cp *config.Pool) bool {
	return cp.EndpointPicker == nil || cp.EndpointPicker.FailureMode == config.FailOpen
}

// Retain stops the schedulers and closes the picker connections that none
// of cfg's pools uses.
func (r *Registry) Retain(cfg *config.Config) {
	keep := map[string]bool{}
	var pickers []*config.EndpointPicker
	for _, b := range cfg.Backends {
		if b.Pool == nil {
			continue
		}
		keep[schedKey(b.Pool, scrapes(b.Pool))] = true
		if b.Pool.EndpointPicker != nil {
			pickers = append(pickers, b.Pool.EndpointPicker)
		}
	}
	r.retainSchedulers(keep)
	r.pickers.Retain(pickers)
}

func (r *Registry) retainSchedulers(keep map[string]bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for key, e := range r.scheds {
		if !keep[key] {
			e.cancel()
			delete(r.scheds, key)
		}
	}
}

// Close stops every scheduler and closes every picker connection.
func (r *Registry) Close() {
	r.retainSchedulers(nil)
	r.pickers.Close()
}

// PickerConns returns how many picker connections are kept (for tests and
// status).
func (r *Registry) PickerConns() int { return r.pickers.Len() }
