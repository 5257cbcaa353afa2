package processor

import (
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"syscall"
	"time"

	"github.com/aigw-dev/aigw/internal/apierror"
	"github.com/aigw-dev/aigw/internal/config"
	"github.com/aigw-dev/aigw/internal/pool"
)

// upstreamError maps a failed attempt's error to the client-facing error.
func upstreamError(err error) error {
	var e *apierror.Error
	if errors.As(err, &e) {
		return err // already client-facing (a pool's own verdict)
	}
	if errors.Is(err, apierror.ErrUpstreamTimeout) {
		return apierror.UpstreamTimeout(err)
	}
	return apierror.Upstream(err)
}

// retriableError reports whether a failed attempt may be retried.
func retriableError(p *config.RetryPolicy, err error) bool {
	on := func(c config.RetryOn) bool { return slices.Contains(p.On, c) }
	anyFailure := on(config.RetryOn5xx) || on(config.RetryOnGatewayError)
	switch {
	case errors.Is(err, pool.ErrUnavailable):
		// A pool that cannot serve (picker failed closed, every endpoint
		// failed) hands the request to the next tier.
		return true
	case errors.Is(err, apierror.ErrUpstreamTimeout):
		return anyFailure || on(config.RetryOnDeadlineExceeded) || on(config.RetryOnReset)
	case isConnectFailure(err):
		return anyFailure || on(config.RetryOnConnectFailure)
	default:
		return anyFailure || on(config.RetryOnReset)
	}
}

func isConnectFailure(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	return errors.Is(err, syscall.ECONNREFUSED)
}

// retriableStatus reports whether a response status may be retried.
func retriableStatus(p *config.RetryPolicy, code int) bool {
	for _, c := range p.On {
		switch c {
		case config.RetryOn5xx:
			if code >= 500 {
				return true
			}
		case config.RetryOnGatewayError:
			if code == http.StatusBadGateway || code == http.StatusServiceUnavailable || code == http.StatusGatewayTimeout {
				return true
			}
		case config.RetryOnRetriable4xx:
			if code == http.StatusConflict {
				return true
			}
		case config.RetryOnRetriableStatus:
			if slices.Contains(p.StatusCodes, int32(code)) {
				return true
			}
		}
	}
	return false
}

// backOff waits before retry number n (1-based) with exponential back-off
// and full jitter, as Envoy does.
func backOff(ctx context.Context, p *config.RetryPolicy, n int) error {
	base := p.BackOffBase.Std()
	if base <= 0 {
		return nil
	}
	maxD := p.BackOffMax.Std()
	if maxD <= 0 {
		maxD = 10 * base
	}
	d := base << min(n-1, 20)
	if d > maxD || d <= 0 {
		d = maxD
	}
	d = time.Duration(rand.Int64N(int64(d) + 1))
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
