package scheduler

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestConcurrentPick runs picks from many goroutines while the endpoint set
// changes and the scraper runs; -race checks the synchronisation, and every
// pick must name endpoints from one of the two sets.
func TestConcurrentPick(t *testing.T) {
	srvA := servePromFile(t, "vllm", nil)
	srvB := servePromFile(t, "sglang", nil)
	setA := []Endpoint{{Address: addr(srvA)}, {Address: "127.0.0.1:1"}}
	setB := []Endpoint{{Address: addr(srvA)}, {Address: addr(srvB)}}
	valid := map[string]bool{addr(srvA): true, addr(srvB): true, "127.0.0.1:1": true}

	cfg := DefaultConfig()
	cfg.Profile.Scorers = append(cfg.Profile.Scorers,
		WeightedScorer{Scorer: LeastRequestScorer{}, Weight: 1},
		WeightedScorer{Scorer: LoRAAffinityScorer{}, Weight: 1})
	s, err := New(cfg, nil)
	require.NoError(t, err)
	s.SetEndpoints(setA)
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan error, 1)
	go func() { started <- s.Start(ctx) }()

	prompt := strings.Repeat("shared system prompt ", 50)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for g := range 8 {
		wg.Go(func() {
			for i := range 300 {
				r := &Request{Model: "m", Prompt: fmt.Sprintf("%s user %d", prompt, i%7), LoRA: "sql-lora", Priority: g%2 - 1}
				res, err := s.Pick(context.Background(), r)
				if errors.Is(err, ErrSaturated) {
					continue
				}
				if err != nil {
					errs <- err
					return
				}
				for _, e := range res.Endpoints {
					if !valid[e] {
						errs <- fmt.Errorf("picked unknown endpoint %s", e)
						return
					}
				}
				done := s.Started(res.Endpoints[0])
				_ = s.Endpoints()
				done()
			}
		})
	}
	wg.Go(func() {
		for i := range 200 {
			if i%2 == 0 {
				s.SetEndpoints(setB)
			} else {
				s.SetEndpoints(setA)
			}
		}
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	cancel()
	require.NoError(t, <-started)
	for _, e := range s.Endpoints() {
		require.Zero(t, e.InFlight, e.Endpoint.Address)
	}
}
