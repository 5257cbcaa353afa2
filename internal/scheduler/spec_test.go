package scheduler

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aigw-dev/aigw/internal/config"
)

// TestSpecRoundTrip: an EndpointPickerConfig parsed once by the control
// plane and carried as plain data builds the same scheduler configuration
// in the data plane.
func TestSpecRoundTrip(t *testing.T) {
	for name, text := range map[string]string{
		"default": ``,
		"weights and picker": `plugins:
- type: least-request-scorer
- type: prefix-cache-scorer
  parameters: {blockSizeTokens: 32, maxPrefixBlocksToMatch: 64, lruCapacityPerServer: 1000}
- type: random-picker
  parameters: {maxNumOfEndpoints: 3}
- type: utilization-detector
  parameters: {queueDepthThreshold: 7, kvCacheUtilThreshold: 0.9, metricsStalenessThreshold: 500ms}
schedulingProfiles:
- name: default
  plugins: [{pluginRef: least-request-scorer, weight: 2}, {pluginRef: prefix-cache-scorer}, {pluginRef: random-picker}]
`,
		"flow control": `featureGates: [flowControl]
flowControl:
  maxRequests: 10
  maxBytes: 1Mi
  defaultRequestTTL: 30s
  defaultPriorityBand: {maxRequests: 5}
  priorityBands: [{priority: 10, maxRequests: 3, fairnessPolicyRef: rr}]
plugins: [{type: queue-scorer}, {type: round-robin-fairness-policy, name: rr}]
`,
	} {
		t.Run(name, func(t *testing.T) {
			parsed, _, err := ParsePickerConfig([]byte(text), DefaultConfig())
			require.NoError(t, err)
			spec, err := Spec(parsed)
			require.NoError(t, err)
			built, err := FromSpec(spec, DefaultConfig())
			require.NoError(t, err)
			require.Equal(t, parsed, built)
		})
	}
}

func TestFromSpecRejectsUnknownPlugins(t *testing.T) {
	spec := &config.Scheduler{Scorers: []config.WeightedScorer{{Type: PluginMaxScorePicker, Weight: 1}}, Picker: PluginMaxScorePicker}
	_, err := FromSpec(spec, DefaultConfig())
	require.ErrorContains(t, err, `"max-score-picker" is not a scorer`)
	spec = &config.Scheduler{Scorers: []config.WeightedScorer{{Type: PluginQueueScorer, Weight: 1}}, Picker: "magic"}
	_, err = FromSpec(spec, DefaultConfig())
	require.ErrorContains(t, err, `"magic" is not a picker`)
}
