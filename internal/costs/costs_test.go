package costs

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aigw-dev/aigw/internal/config"
	"github.com/aigw-dev/aigw/internal/llm"
)

func TestCalculate(t *testing.T) {
	c, err := New([]config.RequestCost{
		{MetadataKey: "in", Type: config.CostInputToken},
		{MetadataKey: "out", Type: config.CostOutputToken},
		{MetadataKey: "total", Type: config.CostTotalToken},
		{MetadataKey: "cached", Type: config.CostCachedInputToken},
		{MetadataKey: "reasoning", Type: config.CostReasoningToken},
		{MetadataKey: "weighted", Type: config.CostCEL, CEL: "model == 'gpt-4o' ? input_tokens + 4u * output_tokens : total_tokens"},
		{MetadataKey: "per_backend", Type: config.CostCEL, CEL: "backend == 'openai.default' && route_name == 'default/chat' ? 1 : 0"},
		{MetadataKey: "signed", Type: config.CostCEL, CEL: "int(output_tokens) * 2"},
	})
	require.NoError(t, err)
	require.Equal(t, 8, c.Len())
	got, err := c.Calculate(Input{
		Usage: llm.Usage{InputTokens: 10, OutputTokens: 3, TotalTokens: 13, CachedInputTokens: 4, ReasoningTokens: 1},
		Model: "gpt-4o", Backend: BackendName("default/openai"), Route: "default/chat",
	})
	require.NoError(t, err)
	require.Equal(t, []Value{{"in", 10}, {"out", 3}, {"total", 13}, {"cached", 4}, {"reasoning", 1}, {"weighted", 22}, {"per_backend", 1}, {"signed", 6}}, got)
}

func TestCompileErrors(t *testing.T) {
	tests := []struct {
		name, expr, want string
	}{
		{name: "mixed int and uint", expr: "input_tokens + 10", want: "invalid CEL expression"},
		{name: "double", expr: "double(input_tokens) * 0.5", want: "must evaluate to int or uint"},
		{name: "string", expr: "model", want: "must evaluate to int or uint"},
		{name: "unknown variable", expr: "prompt_tokens", want: "undeclared reference"},
		{name: "negative at test evaluation", expr: "int(input_tokens) - 1", want: "is negative"},
		{name: "empty", expr: " ", want: "needs a cel expression"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New([]config.RequestCost{{MetadataKey: "k", Type: config.CostCEL, CEL: tc.expr}})
			require.ErrorContains(t, err, tc.want)
			require.ErrorContains(t, err, `cost "k": `)
			// The loader's check rejects the same expressions, for the
			// same reason, without the cost's name.
			checkErr := CheckCEL(tc.expr)
			require.ErrorContains(t, checkErr, tc.want)
			require.Equal(t, `cost "k": `+checkErr.Error(), err.Error())
		})
	}
	require.NoError(t, CheckCEL("uint(input_tokens) * 2u + output_tokens"))
}

func TestRuntimeNegative(t *testing.T) {
	c, err := New([]config.RequestCost{{MetadataKey: "k", Type: config.CostCEL, CEL: "10 - int(output_tokens)"}})
	require.NoError(t, err)
	_, err = c.Calculate(Input{Usage: llm.Usage{OutputTokens: 11}})
	require.ErrorContains(t, err, "is negative")
}
