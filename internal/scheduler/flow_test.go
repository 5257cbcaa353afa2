package scheduler

import (
	"context"
	"fmt"
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

	// While nothing waits, the last scrapes decide: a has room (a queue of
	// 3 < 5), so requests go straight through whatever was picked since.
	setMetrics(t, s, a, Metrics{WaitingQueue: 3})
	setMetrics(t, s, b, Metrics{WaitingQueue: 7})
	for range 4 {
		require.NoError(t, <-admitAsync(s, &Request{}))
	}

	// Every endpoint saturated: requests wait; a sheddable one is dropped.
	setMetrics(t, s, a, Metrics{WaitingQueue: 5})
	var held []<-chan error
	for i := range 3 {
		held = append(held, admitAsync(s, &Request{}))
		require.Eventually(t, func() bool { return s.Queued()[0] == i+1 }, 5*time.Second, time.Millisecond)
	}
	_, err := s.Admit(t.Context(), &Request{Priority: -1})
	require.ErrorIs(t, err, ErrSaturated)

	// A higher priority arriving later leaves first.
	high := admitAsync(s, &Request{Priority: 2})
	require.Eventually(t, func() bool { return s.Queued()[2] == 1 }, 5*time.Second, time.Millisecond)
	// a scrapes a queue of 3: room for two, counting what is sent to it
	// from now on, so the queue drains by two (the high one and the oldest)
	// and the rest waits for the next scrape.
	setMetrics(t, s, a, Metrics{WaitingQueue: 3})
	require.NoError(t, <-high)
	require.NoError(t, <-held[0])
	select {
	case err := <-held[1]:
		t.Fatalf("a third request left before a's next scrape: %v", err)
	case <-time.After(30 * time.Millisecond):
	}
	setMetrics(t, s, a, Metrics{WaitingQueue: 0})
	require.NoError(t, <-held[1])
	require.NoError(t, <-held[2])
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

func TestRefused(t *testing.T) {
	for _, err := range []error{fmt.Errorf("%w: 2 candidates", ErrSaturated), fmt.Errorf("%w: 3 requests queued", ErrQueueFull), ErrQueueTimeout} {
		require.True(t, Refused(err), err)
	}
	require.False(t, Refused(context.Canceled))
	require.False(t, Refused(ErrNoEndpoints))
}
