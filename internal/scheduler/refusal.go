package scheduler

import "errors"

// Refused reports whether err is [Scheduler.Admit]'s or [Scheduler.Pick]'s
// refusal of a request for load ([ErrSaturated], [ErrQueueFull],
// [ErrQueueTimeout]), as opposed to no endpoint or a cancellation. The
// scheduler gives reasons; what a client is answered for each is the
// caller's (pool.RefusalError).
func Refused(err error) bool {
	return errors.Is(err, ErrSaturated) || errors.Is(err, ErrQueueFull) || errors.Is(err, ErrQueueTimeout)
}
