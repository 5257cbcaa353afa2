package scheduler

import (
	"errors"
	"net/http"

	"github.com/aigw-dev/aigw/internal/apierror"
)

// Refusal is the client's answer to a request [Scheduler.Admit] or
// [Scheduler.Pick] turned away for load, the same from `aigw epp` and from
// the gateway's own picking, with GAIE's status codes: 429 for a sheddable
// request while the pool is saturated and for a full flow-control queue,
// 503 for a request that waited the queue's whole TTL. It returns nil for
// any other error (no endpoint, cancellation), which the caller maps.
func Refusal(err error) *apierror.Error {
	switch {
	case errors.Is(err, ErrSaturated):
		return &apierror.Error{Status: http.StatusTooManyRequests, Type: apierror.TypeRateLimit, Code: "pool_saturated",
			Message: "the inference pool is saturated; sheddable request dropped"}
	case errors.Is(err, ErrQueueFull):
		return &apierror.Error{Status: http.StatusTooManyRequests, Type: apierror.TypeRateLimit, Code: "queue_full",
			Message: "the inference pool is saturated and its request queue is full"}
	case errors.Is(err, ErrQueueTimeout):
		return apierror.Unavailable("the request timed out waiting for the saturated inference pool", err)
	default:
		return nil
	}
}
