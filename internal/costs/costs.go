// Package costs computes a request's llmRequestCosts from its token usage:
// token counts directly, or a CEL expression over the usage, the model, the
// backend and the route (Envoy AI Gateway API §13).
//
// Expressions are compiled and test-evaluated once, when a configuration is
// applied, so a type error rejects the configuration instead of failing
// requests. A Calculator is immutable and safe for concurrent use.
//
// This package must not import the HTTP front end, the request pipeline
// (internal/processor), the translator or control-plane packages; the
// types it shares with them live in internal/llm.
package costs

import (
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"

	"github.com/aigw-dev/aigw/internal/config"
	"github.com/aigw-dev/aigw/internal/llm"
)

// Value is one computed cost.
type Value struct {
	// Key is the cost's metadataKey.
	Key   string
	Value uint64
}

// Input is what a cost is computed from.
type Input struct {
	Usage llm.Usage
	// Model is the model sent upstream (after modelNameOverride).
	Model string
	// Backend is the AIServiceBackend as "name.namespace".
	Backend string
	// Route is the AIGatewayRoute as "namespace/name".
	Route string
}

// Calculator computes a list of costs.
type Calculator struct {
	costs []cost
}

type cost struct {
	key  string
	typ  config.CostType
	prog cel.Program
}

// newEnv declares the CEL variables of §13; token counts are uint.
func newEnv() (*cel.Env, error) {
	return cel.NewEnv(
		cel.Variable("model", cel.StringType),
		cel.Variable("backend", cel.StringType),
		cel.Variable("route_name", cel.StringType),
		cel.Variable("input_tokens", cel.UintType),
		cel.Variable("cached_input_tokens", cel.UintType),
		cel.Variable("cache_creation_input_tokens", cel.UintType),
		cel.Variable("output_tokens", cel.UintType),
		cel.Variable("total_tokens", cel.UintType),
		cel.Variable("reasoning_tokens", cel.UintType),
	)
}

// New compiles costs. Each CEL expression must type-check to int or uint
// and evaluate without error on an all-zero input.
func New(list []config.RequestCost) (*Calculator, error) {
	if len(list) == 0 {
		return &Calculator{}, nil
	}
	env, err := newEnv()
	if err != nil {
		return nil, fmt.Errorf("creating the CEL environment: %w", err)
	}
	c := &Calculator{}
	var errs []error
	for _, rc := range list {
		ct := cost{key: rc.MetadataKey, typ: rc.Type}
		if rc.Type == config.CostCEL {
			prog, err := compile(env, rc.CEL)
			if err != nil {
				errs = append(errs, fmt.Errorf("cost %q: %w", rc.MetadataKey, err))
				continue
			}
			ct.prog = prog
		}
		c.costs = append(c.costs, ct)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	// Test-evaluate, as Envoy AI Gateway does, so runtime errors such as a
	// negative result surface now.
	if _, err := c.Calculate(testInput()); err != nil {
		return nil, fmt.Errorf("%w, with every token count 0", err)
	}
	return c, nil
}

// CheckCEL reports what is wrong with expr as the expression of a CEL cost:
// what [New] would reject it for, without the cost's name. It compiles and
// test-evaluates expr as New does, so that the configuration loader reports
// the error with the file and field that hold expr, before anything runs.
func CheckCEL(expr string) error {
	env, err := newEnv()
	if err != nil {
		return fmt.Errorf("creating the CEL environment: %w", err)
	}
	prog, err := compile(env, expr)
	if err != nil {
		return err
	}
	if _, err := eval(prog, testInput().vars()); err != nil {
		return fmt.Errorf("%w, with every token count 0", err)
	}
	return nil
}

// testInput is the all-zero input expressions are test-evaluated on.
func testInput() Input {
	return Input{Model: "dummy", Backend: "dummy.dummy", Route: "dummy/dummy"}
}

func compile(env *cel.Env, expr string) (cel.Program, error) {
	if strings.TrimSpace(expr) == "" {
		return nil, errors.New("type CEL needs a cel expression")
	}
	ast, iss := env.Compile(expr)
	if iss.Err() != nil {
		return nil, fmt.Errorf("invalid CEL expression %q: %s", expr, issues(iss))
	}
	if t := ast.OutputType(); !t.IsExactType(types.IntType) && !t.IsExactType(types.UintType) && !t.IsExactType(types.DynType) {
		return nil, fmt.Errorf("CEL expression %q must evaluate to int or uint, not %s", expr, t)
	}
	prog, err := env.Program(ast, cel.CostLimit(100000))
	if err != nil {
		return nil, fmt.Errorf("CEL expression %q: %w", expr, err)
	}
	return prog, nil
}

// Len reports how many costs the calculator computes.
func (c *Calculator) Len() int { return len(c.costs) }

// Calculate computes every cost for in.
func (c *Calculator) Calculate(in Input) ([]Value, error) {
	if len(c.costs) == 0 {
		return nil, nil
	}
	u := in.Usage
	out := make([]Value, 0, len(c.costs))
	var vars map[string]any
	for _, ct := range c.costs {
		var v uint64
		switch ct.typ {
		case config.CostInputToken:
			v = nonNeg(u.InputTokens)
		case config.CostCachedInputToken:
			v = nonNeg(u.CachedInputTokens)
		case config.CostCacheCreationInputToken:
			v = nonNeg(u.CacheCreationInputTokens)
		case config.CostOutputToken:
			v = nonNeg(u.OutputTokens)
		case config.CostTotalToken:
			v = nonNeg(u.TotalTokens)
		case config.CostReasoningToken:
			v = nonNeg(u.ReasoningTokens)
		case config.CostCEL:
			if vars == nil {
				vars = in.vars()
			}
			n, err := eval(ct.prog, vars)
			if err != nil {
				return nil, fmt.Errorf("cost %q: %w", ct.key, err)
			}
			v = n
		default:
			return nil, fmt.Errorf("cost %q: unknown type %q", ct.key, ct.typ)
		}
		out = append(out, Value{Key: ct.key, Value: v})
	}
	return out, nil
}

// vars are the CEL variables of in.
func (in Input) vars() map[string]any {
	u := in.Usage
	return map[string]any{
		"model": in.Model, "backend": in.Backend, "route_name": in.Route,
		"input_tokens": nonNeg(u.InputTokens), "cached_input_tokens": nonNeg(u.CachedInputTokens),
		"cache_creation_input_tokens": nonNeg(u.CacheCreationInputTokens), "output_tokens": nonNeg(u.OutputTokens),
		"total_tokens": nonNeg(u.TotalTokens), "reasoning_tokens": nonNeg(u.ReasoningTokens),
	}
}

// issues formats CEL compile errors on one line, each as "line:column:
// message", without the copy of the expression and the caret cel-go puts on
// lines of their own (the expression is quoted before them).
func issues(iss *cel.Issues) string {
	errs := iss.Errors()
	msgs := make([]string, 0, len(errs))
	for _, e := range errs {
		msg := strings.TrimSuffix(e.Message, " (in container '')")
		if loc := e.Location; loc != nil && loc.Line() > 0 {
			msg = fmt.Sprintf("%d:%d: %s", loc.Line(), loc.Column()+1, msg)
		}
		msgs = append(msgs, msg)
	}
	return strings.Join(msgs, "; ")
}

// eval runs a compiled CEL cost expression.
func eval(prog cel.Program, vars map[string]any) (uint64, error) {
	res, _, err := prog.Eval(vars)
	if err != nil {
		return 0, fmt.Errorf("evaluating CEL: %w", err)
	}
	switch n := res.Value().(type) {
	case int64:
		if n < 0 {
			return 0, fmt.Errorf("CEL result %d is negative", n)
		}
		return uint64(n), nil
	case uint64:
		return n, nil
	}
	return 0, fmt.Errorf("CEL result %v is a %T, not an int or uint", res.Value(), res.Value())
}

func nonNeg(n int64) uint64 {
	if n < 0 {
		return 0
	}
	return uint64(min(n, math.MaxInt64))
}

// BackendName turns "namespace/name" into the documented "name.namespace".
func BackendName(nsName string) string {
	ns, name, ok := strings.Cut(nsName, "/")
	if !ok {
		return nsName
	}
	return name + "." + ns
}
