package scheduler

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aigw-dev/aigw/internal/flowcontrol"
)

// admitAsync runs Admit, Pick and Started in the background, as a caller
// does; the request stays in flight.
func admitAsync(s *Scheduler, r *Request) <-chan error {
	res := make(chan error, 1)
	go func() {
		done, err := s.Admit(context.Background(), r)
		if err == nil {
			var pick Result
			pick, err = s.Pick(context.Background(), r)
			if err == nil {
				s.Started(pick.Endpoints[0])
			}
			done()
		}
		res <- err
	}()
	return res
}

func TestFlowControlHoldsWhileEveryEndpointIsSaturated(t *testing.T) {
	a, b := "10.0.0.1:1", "10.0.0.2:1"
	cfg := DefaultConfig()
	cfg.FlowControl = &flowcontrol.Config{PollInterval: time.Millisecond}
	s := newTestScheduler(t, cfg, a, b)
	go s.flow.Run(t.Context()) // Start would scrape these addresses

	// a has room for two more requests before its queue counts as full:
	// the picks since its scrape count, so the third waits.
	setMetrics(t, s, a, Metrics{WaitingQueue: 3})
	setMetrics(t, s, b, Metrics{WaitingQueue: 7})
	for range 2 {
		require.NoError(t, <-admitAsync(s, &Request{}))
	}
	held := admitAsync(s, &Request{})
	require.Eventually(t, func() bool { return s.Queued()[0] == 1 }, 5*time.Second, time.Millisecond)

	// A sheddable request is dropped, not queued.
	_, err := s.Admit(t.Context(), &Request{Priority: -1})
	require.ErrorIs(t, err, ErrSaturated)

	// A higher priority arriving later leaves first once b scrapes idle.
	high := admitAsync(s, &Request{Priority: 2})
	require.Eventually(t, func() bool { return s.Queued()[2] == 1 }, 5*time.Second, time.Millisecond)
	setMetrics(t, s, b, Metrics{WaitingQueue: 4}) // room for one
	require.NoError(t, <-high)
	select {
	case err := <-held:
		t.Fatalf("the priority-0 request left with b full again: %v", err)
	case <-time.After(30 * time.Millisecond):
	}
	setMetrics(t, s, a, Metrics{WaitingQueue: 0})
	require.NoError(t, <-held)
	require.Equal(t, map[int]int{0: 0, 2: 0}, s.Queued())
}

func TestFlowControlDoesNotHoldOnUnknownMetrics(t *testing.T) {
	cfg := DefaultConfig()
	cfg.FlowControl = &flowcontrol.Config{}
	s := newTestScheduler(t, cfg, "10.0.0.1:1") // never scraped
	done, err := s.Admit(t.Context(), &Request{})
	require.NoError(t, err, "a pool whose metrics are unknown is not held back")
	done()

	empty := newTestScheduler(t, cfg)
	_, err = empty.Admit(t.Context(), &Request{})
	require.NoError(t, err, "an empty pool is Pick's to answer (503)")
}

func TestAdmitWithoutFlowControl(t *testing.T) {
	a := "10.0.0.1:1"
	s := newTestScheduler(t, DefaultConfig(), a)
	setMetrics(t, s, a, Metrics{WaitingQueue: 50})
	done, err := s.Admit(t.Context(), &Request{Priority: -1})
	require.NoError(t, err, "without flow control Admit never waits; Pick sheds")
	done()
	require.Nil(t, s.Queued())
}

func TestRefusal(t *testing.T) {
	for _, tc := range []struct {
		err    error
		status int
		code   string
	}{
		{fmt.Errorf("%w: 2 candidates", ErrSaturated), http.StatusTooManyRequests, "pool_saturated"},
		{fmt.Errorf("%w: 3 requests queued", ErrQueueFull), http.StatusTooManyRequests, "queue_full"},
		{ErrQueueTimeout, http.StatusServiceUnavailable, "service_unavailable"},
	} {
		r := Refusal(tc.err)
		require.NotNil(t, r, tc.err)
		require.Equal(t, tc.status, r.Status)
		require.Equal(t, tc.code, r.Code)
	}
	require.Nil(t, Refusal(context.Canceled))
	require.Nil(t, Refusal(ErrNoEndpoints))
}
