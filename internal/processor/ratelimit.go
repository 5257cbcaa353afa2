package processor

import (
	"context"
	"net/http"

	"github.com/aigw-dev/aigw/internal/ratelimit"
)

// checkRateLimits checks the routed request against its rule's rate
// limits before any upstream: over a client's budget the answer is a 429,
// and no fallback is tried (the budget is the client's, not a backend's).
func (s *Session) checkRateLimits() error {
	rules := s.rt.limits[s.rule]
	if len(rules) == 0 {
		return nil
	}
	t, err := s.rt.p.limiter.Check(context.Background(), rules, &ratelimit.Request{
		Route:  s.rule.Route.Name + "/" + s.rule.Name,
		Header: s.info.Header, Method: s.info.Method, Path: s.info.Path, Client: s.info.RemoteAddr,
	})
	if err != nil {
		return err
	}
	s.ticket = t
	return nil
}

// rateLimitHeaders adds the x-ratelimit-* headers of the request's
// tightest rule to the client's response.
func (s *Session) rateLimitHeaders(h http.Header) {
	s.ticket.WriteHeader(h)
}

// chargeRateLimits charges the request's buckets with its cost, once,
// whatever number of attempts it took: the usage of the response the
// client got (none when no attempt answered). The response's end charges;
// Finish charges a request whose response never ended.
func (s *Session) chargeRateLimits(ctx context.Context) {
	if s.quotaTicket != nil {
		s.chargeQuota(ctx, s.attempt.Translator.Usage())
	}
	if s.ticket == nil {
		return
	}
	t := s.ticket
	s.ticket = nil
	var values map[string]uint64
	if s.attempt != nil {
		cv := s.costs(s.attempt.Translator.Usage())
		values = make(map[string]uint64, len(cv))
		for _, v := range cv {
			values[v.Key] = v.Value
		}
	}
	t.Charge(ctx, func(key string) (uint64, bool) {
		v, ok := values[key]
		return v, ok
	})
}
