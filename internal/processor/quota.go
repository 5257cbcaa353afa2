package processor

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/aigw-dev/aigw/internal/config"
	"github.com/aigw-dev/aigw/internal/costs"
	"github.com/aigw-dev/aigw/internal/llm"
	"github.com/aigw-dev/aigw/internal/ratelimit"
)

// backendQuota is a backend's compiled QuotaPolicy: its rules, and the
// cost each charges (by the rule's name).
type backendQuota struct {
	service []*ratelimit.Rule
	models  map[string][]*ratelimit.Rule
	costs   *costs.Calculator
}

// compileQuota compiles the quota of backend name.
func compileQuota(name string, q *config.BackendQuota) (*backendQuota, error) {
	var rules []config.RateLimitRule
	var prices []config.RequestCost
	add := func(id string, b *config.QuotaBucket, expr string) {
		rules = append(rules, config.RateLimitRule{Name: id, Limit: b.Limit, Window: b.Window, Selectors: b.Selectors,
			Shadow: b.Shadow, Shared: true, ResponseCostKey: id, NoHeaders: true})
		price := config.RequestCost{MetadataKey: id, Type: config.CostTotalToken}
		if expr != "" {
			price = config.RequestCost{MetadataKey: id, Type: config.CostCEL, CEL: expr}
		}
		prices = append(prices, price)
	}
	prefix := "quota/" + name + "/"
	if q.Service != nil {
		add(prefix+"service", q.Service, q.Service.CostExpression)
	}
	models := map[string][2]int{} // model → its rules' span in rules
	for _, m := range q.Models {
		first := len(rules)
		if m.Default != nil {
			add(prefix+"model/"+m.Model+"/default", m.Default, m.CostExpression)
		}
		for i := range m.Rules {
			add(prefix+"model/"+m.Model+"/rule/"+strconv.Itoa(i), &m.Rules[i], m.CostExpression)
		}
		models[m.Model] = [2]int{first, len(rules)}
	}
	compiled, err := ratelimit.Compile(rules)
	if err != nil {
		return nil, fmt.Errorf("quota %s: %w", q.Policy, err)
	}
	calc, err := costs.New(prices)
	if err != nil {
		return nil, fmt.Errorf("quota %s: costExpression: %w", q.Policy, err)
	}
	out := &backendQuota{models: map[string][]*ratelimit.Rule{}, costs: calc}
	if q.Service != nil {
		out.service = compiled[:1]
	}
	for m, span := range models {
		out.models[m] = compiled[span[0]:span[1]]
	}
	return out, nil
}

// checkQuota checks the attempt's backend quota for its model; an
// exhausted one gives an error for which another backend is tried.
func (s *Session) checkQuota(ctx context.Context, a *Attempt) error {
	s.quotaTicket = nil
	q := s.rt.quotas[a.Backend]
	if q == nil {
		return nil
	}
	t, err := s.rt.p.limiter.CheckQuota(ctx, q.service, q.models[a.RequestModel], &ratelimit.Request{
		Header: s.info.Header, Method: s.info.Method, Path: s.info.Path, Client: s.info.RemoteAddr,
	})
	if err != nil {
		return err
	}
	s.quotaTicket = t
	return nil
}

// quotaExhausted reports whether err is a backend's spent quota.
func quotaExhausted(err error) bool { return errors.Is(err, ratelimit.ErrQuotaExhausted) }

// chargeQuota charges the quota of the backend that answered with the
// request's usage, priced by each rule's cost expression.
func (s *Session) chargeQuota(ctx context.Context, usage llm.Usage) {
	t := s.quotaTicket
	if t == nil || s.attempt == nil {
		return
	}
	s.quotaTicket = nil
	q := s.rt.quotas[s.attempt.Backend]
	route := ""
	if s.rule != nil {
		route = s.rule.Route.Name
	}
	values, err := q.costs.Calculate(costs.Input{Usage: usage, Model: s.attempt.RequestModel, Backend: costs.BackendName(s.backend.Name), Route: route})
	if err != nil {
		s.rt.p.logger.Warn("computing quota costs", "backend", s.backend.Name, "error", err)
		return
	}
	t.Charge(ctx, func(key string) (uint64, bool) {
		for _, v := range values {
			if v.Key == key {
				return v.Value, true
			}
		}
		return 0, false
	})
}
