package loadgen

import (
	"math/rand/v2"
	"time"
)

// Arrival is one planned request.
type Arrival struct {
	// At is when to send it, from the start of the run.
	At time.Duration
	// Request is what to send.
	Request Request
}

// Stream numbers of the two random sources of a plan (the PCG's second seed
// word), so that the request sequence does not depend on the rate.
const (
	arrivalStream = 1
	requestStream = 2
)

// Plan returns an open-loop schedule: Poisson arrivals at rate requests per
// second during d (exponential gaps, the first one included), each with the
// next request of w. Arrival times and requests come from two random streams
// seeded by seed, so equal seeds give equal plans, and plans at different
// rates send the same requests in the same order (only their times differ).
func Plan(w Workload, rate float64, d time.Duration, seed uint64) []Arrival {
	if rate <= 0 || d <= 0 {
		return nil
	}
	times := rand.New(rand.NewPCG(seed, arrivalStream))
	reqs := rand.New(rand.NewPCG(seed, requestStream))
	plan := make([]Arrival, 0, int(rate*d.Seconds()*1.1)+1)
	t := 0.0
	for {
		t += times.ExpFloat64() / rate
		at := time.Duration(t * float64(time.Second))
		if at >= d {
			return plan
		}
		plan = append(plan, Arrival{At: at, Request: w.Next(reqs)})
	}
}
