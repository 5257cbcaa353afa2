package scheduler

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// maxMetricsBytes bounds one exposition read.
const maxMetricsBytes = 8 << 20

// newScrapeClient returns a client whose every phase is bounded by timeout,
// with a few idle connections per endpoint kept for the next scrape.
func newScrapeClient(timeout time.Duration) *http.Client {
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			Proxy:                 nil, // endpoints are pod IPs: never via a proxy
			DialContext:           (&net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConnsPerHost:   2,
			IdleConnTimeout:       90 * time.Second,
			ResponseHeaderTimeout: timeout,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// Start scrapes every endpoint's metrics every ScrapeInterval until ctx
// ends, following SetEndpoints, then returns nil. It may be called once.
//
// One goroutine per endpoint, each with its own ticker: a slow or hanging
// endpoint (up to ScrapeTimeout) then delays only its own scrapes, which a
// bounded worker set would not guarantee without a queue and per-endpoint
// deadlines of its own; pools have at most a few hundred endpoints, and a
// parked goroutine costs a few KB. Scrapes are never spawned per tick, and a
// tick that falls due while a scrape is still running is dropped.
func (s *Scheduler) Start(ctx context.Context) error {
	if !s.started.CompareAndSwap(false, true) {
		return errors.New("scheduler: Start called twice")
	}
	var wg sync.WaitGroup
	workers := map[*endpointState]context.CancelFunc{}
	reconcile := func() {
		snap := s.snap.Load()
		live := make(map[*endpointState]bool, len(snap.list))
		for _, st := range snap.list {
			live[st] = true
			if _, ok := workers[st]; !ok {
				wctx, cancel := context.WithCancel(ctx)
				workers[st] = cancel
				wg.Go(func() { s.scrapeLoop(wctx, st) })
			}
		}
		for st, cancel := range workers {
			if !live[st] {
				cancel()
				delete(workers, st)
			}
		}
	}
	reconcile()
	if s.flow != nil {
		wg.Go(func() { s.flow.Run(ctx) })
	}
	for {
		select {
		case <-ctx.Done():
			for _, cancel := range workers {
				cancel()
			}
			wg.Wait()
			return nil
		case <-s.changed:
			reconcile()
		}
	}
}

func (s *Scheduler) scrapeLoop(ctx context.Context, st *endpointState) {
	t := time.NewTicker(s.cfg.ScrapeInterval)
	defer t.Stop()
	for {
		s.scrapeOnce(ctx, st)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// scrapeOnce fetches and parses st's metrics and records the outcome.
func (s *Scheduler) scrapeOnce(ctx context.Context, st *endpointState) {
	picks := st.picks.Load() // the scrape reflects at most the picks before it
	m, err := s.fetch(ctx, st)
	if err != nil {
		if ctx.Err() != nil {
			return // shutting down or endpoint removed: not the endpoint's fault
		}
		msg := err.Error()
		st.lastErr.Store(&msg)
		if !st.failing.Swap(true) {
			s.logger.Warn("scheduler: endpoint metrics unavailable", "endpoint", st.addr, "error", err)
		}
		return
	}
	s.observe(st, m, picks)
	if st.failing.Swap(false) {
		s.logger.Info("scheduler: endpoint metrics recovered", "endpoint", st.addr)
	}
}

// observe records a scrape of st that began when the endpoint had had
// picks primary picks, and learns the adapter names it reports.
func (s *Scheduler) observe(st *endpointState, m *Metrics, picks int64) {
	m.picksBefore = picks
	for _, a := range m.ActiveAdapters {
		s.adapters.LoadOrStore(a, struct{}{})
	}
	for _, a := range m.WaitingAdapters {
		s.adapters.LoadOrStore(a, struct{}{})
	}
	st.metrics.Store(m)
}

func (s *Scheduler) fetch(ctx context.Context, st *endpointState) (*Metrics, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.ScrapeTimeout)
	defer cancel()
	url := "http://" + st.addr + "/metrics"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("scrape %s: %w", url, err)
	}
	req.Header.Set("Accept", "text/plain;version=0.0.4")
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("scrape %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		return nil, fmt.Errorf("scrape %s: status %s", url, resp.Status)
	}
	m, err := parseMetrics(io.LimitReader(resp.Body, maxMetricsBytes), st.ep.Load().Labels[EngineTypeLabel])
	if err != nil {
		return nil, fmt.Errorf("scrape %s: %w", url, err)
	}
	m.UpdateTime = time.Now()
	return m, nil
}
