package scheduler

import (
	"context"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aigw-dev/aigw/internal/flowcontrol"
)

// profileShape is a comparable summary of a profile.
type profileShape struct {
	scorers   []string // "Type=weight"
	picker    string
	fallbacks int
}

func shapeOf(p Profile) profileShape {
	var s profileShape
	for _, ws := range p.Scorers {
		s.scorers = append(s.scorers, fmt.Sprintf("%T=%g", ws.Scorer, ws.Weight))
	}
	s.picker = fmt.Sprintf("%T", p.Picker)
	s.fallbacks = p.Fallbacks
	return s
}

func TestParsePickerConfig(t *testing.T) {
	gaieDefault, err := os.ReadFile("testdata/gaie-default-config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	base := DefaultConfig()
	base.Profile.Fallbacks = 0
	tests := []struct {
		name      string
		yaml      string
		want      profileShape
		check     func(t *testing.T, c Config)
		warnings  int
		wantError string
	}{
		{
			name: "GAIE integration default config",
			yaml: string(gaieDefault),
			want: profileShape{
				scorers: []string{"scheduler.QueueScorer=1", "scheduler.KVCacheScorer=1", "scheduler.PrefixScorer=1", "scheduler.LoRAAffinityScorer=1"},
				picker:  "*scheduler.MaxScorePicker",
			},
			warnings: 1, // featureGates
		},
		{
			name: "GAIE default weights, prefix parameters, three endpoints",
			yaml: `
apiVersion: inference.networking.x-k8s.io/v1alpha1
kind: EndpointPickerConfig
plugins:
- type: queue-scorer
- type: kv-cache-utilization-scorer
- type: prefix-cache-scorer
- type: approx-prefix-cache-producer
  parameters: {blockSizeTokens: 32, maxPrefixTokensToMatch: 4096, lruCapacityPerServer: 1000, autoTune: false}
- name: top3
  type: max-score-picker
  parameters: {maxNumOfEndpoints: 3}
- type: utilization-detector
  parameters: {queueDepthThreshold: 8, kvCacheUtilThreshold: 0.9, metricsStalenessThreshold: 500ms}
saturationDetector: {pluginRef: utilization-detector}
schedulingProfiles:
- name: default
  plugins:
  - {pluginRef: queue-scorer, weight: 2}
  - {pluginRef: kv-cache-utilization-scorer, weight: 2}
  - {pluginRef: prefix-cache-scorer, weight: 3}
  - {pluginRef: top3}
`,
			want: profileShape{
				scorers:   []string{"scheduler.QueueScorer=2", "scheduler.KVCacheScorer=2", "scheduler.PrefixScorer=3"},
				picker:    "*scheduler.MaxScorePicker",
				fallbacks: 2,
			},
			check: func(t *testing.T, c Config) {
				want := PrefixConfig{BlockSizeTokens: 32, MaxBlocks: 128, IndexCapacity: 1000}
				if c.Prefix != want {
					t.Errorf("prefix = %+v, want %+v", c.Prefix, want)
				}
				if c.QueueThreshold != 8 || c.KVCacheThreshold != 0.9 || c.Staleness != 500*time.Millisecond {
					t.Errorf("saturation = %d %v %v", c.QueueThreshold, c.KVCacheThreshold, c.Staleness)
				}
			},
		},
		{
			name: "round robin alone",
			yaml: "plugins:\n- type: round-robin-picker\nschedulingProfiles:\n- name: rr\n  plugins:\n  - pluginRef: round-robin-picker\n",
			want: profileShape{scorers: []string{"scheduler.LeastRequestScorer=1"}, picker: "*scheduler.RoundRobinPicker"},
		},
		{
			name: "no profile: every scorer and picker with weight 1",
			yaml: "plugins:\n- type: least-request-scorer\n- type: random-picker\n  parameters: {maxNumOfEndpoints: 2}\n",
			want: profileShape{scorers: []string{"scheduler.LeastRequestScorer=1"}, picker: "*scheduler.RandomPicker", fallbacks: 1},
		},
		{
			name: "weight 0 disables a scorer",
			yaml: "plugins:\n- type: queue-scorer\n- type: running-requests-size-scorer\nschedulingProfiles:\n- name: p\n  plugins:\n  - {pluginRef: queue-scorer, weight: 0}\n  - {pluginRef: running-requests-size-scorer, weight: 1.5}\n",
			want: profileShape{scorers: []string{"scheduler.RunningRequestsScorer=1.5"}, picker: "*scheduler.MaxScorePicker"},
		},
		{
			name:      "unknown plugin type named with its field",
			yaml:      "plugins:\n- type: queue-scorer\n- type: magic-scorer\n",
			wantError: `plugins[1].type: unknown plugin type "magic-scorer"`,
		},
		{
			name:      "dangling plugin reference",
			yaml:      "plugins:\n- type: queue-scorer\nschedulingProfiles:\n- name: p\n  plugins:\n  - pluginRef: kv\n",
			wantError: `schedulingProfiles[0].plugins[0].pluginRef: no plugin named "kv"`,
		},
		{
			name:      "two profiles",
			yaml:      "plugins:\n- type: queue-scorer\nschedulingProfiles:\n- name: a\n  plugins: [{pluginRef: queue-scorer}]\n- name: b\n  plugins: [{pluginRef: queue-scorer}]\n",
			wantError: "only one (single-profile-handler) is supported",
		},
		{
			name:      "unknown field",
			yaml:      "plugins: []\nschedulingProfile: []\n",
			wantError: `unknown field "schedulingProfile"`,
		},
		{
			name:      "bad parameters",
			yaml:      "plugins:\n- type: max-score-picker\n  parameters: {maxEndpoints: 2}\n",
			wantError: `plugins[0].parameters: max-score-picker: json: unknown field "maxEndpoints"`,
		},
		{
			name:      "wrong kind",
			yaml:      "kind: InferencePool\nplugins: [{type: queue-scorer}]\n",
			wantError: `kind: "InferencePool" is not "EndpointPickerConfig"`,
		},
		{
			name:      "negative weight",
			yaml:      "plugins: [{type: queue-scorer}]\nschedulingProfiles: [{name: p, plugins: [{pluginRef: queue-scorer, weight: -1}]}]\n",
			wantError: "schedulingProfiles[0].plugins[0].weight: -1 must not be negative",
		},
		{
			name: "flow control, GAIE's FlowControlConfig",
			yaml: `
featureGates: [flowControl]
plugins:
- type: queue-scorer
- {name: rr, type: round-robin-fairness-policy}
- type: fcfs-ordering-policy
- type: static-usage-limit-policy
flowControl:
  maxRequests: 1k
  maxBytes: 1Gi
  defaultRequestTTL: 30s
  usageLimitPolicyPluginRef: static-usage-limit-policy
  defaultPriorityBand: {maxRequests: "100", fairnessPolicyRef: rr}
  priorityBands:
  - {priority: 10, maxBytes: 500M, orderingPolicyRef: fcfs-ordering-policy}
  - {priority: -1, maxRequests: 5, fairnessPolicyRef: global-strict-fairness-policy}
`,
			want: profileShape{scorers: []string{"scheduler.QueueScorer=1"}, picker: "*scheduler.MaxScorePicker"},
			check: func(t *testing.T, c Config) {
				want := &flowcontrol.Config{
					Limits:      flowcontrol.Limits{MaxRequests: 1000, MaxBytes: 1 << 30},
					DefaultTTL:  30 * time.Second,
					DefaultBand: flowcontrol.BandConfig{Limits: flowcontrol.Limits{MaxRequests: 100}, Fairness: flowcontrol.RoundRobin},
					Bands: map[int]flowcontrol.BandConfig{
						10: {Limits: flowcontrol.Limits{MaxBytes: 500_000_000}, Fairness: flowcontrol.GlobalStrict},
						-1: {Limits: flowcontrol.Limits{MaxRequests: 5}, Fairness: flowcontrol.GlobalStrict},
					},
				}
				if !reflect.DeepEqual(c.FlowControl, want) {
					t.Errorf("flow control = %+v, want %+v", c.FlowControl, want)
				}
			},
		},
		{
			name: "flow control gate without a section: defaults",
			yaml: "featureGates: [flowControl]\nplugins: [{type: queue-scorer}]\n",
			want: profileShape{scorers: []string{"scheduler.QueueScorer=1"}, picker: "*scheduler.MaxScorePicker"},
			check: func(t *testing.T, c Config) {
				if c.FlowControl == nil || c.FlowControl.MaxRequests != 0 || c.FlowControl.DefaultTTL != 0 {
					t.Errorf("flow control = %+v, want on with no limits", c.FlowControl)
				}
			},
		},
		{
			name:     "flow control section without the gate is ignored, as in GAIE",
			yaml:     "plugins: [{type: queue-scorer}]\nflowControl: {maxRequests: 10}\n",
			want:     profileShape{scorers: []string{"scheduler.QueueScorer=1"}, picker: "*scheduler.MaxScorePicker"},
			warnings: 1,
			check: func(t *testing.T, c Config) {
				if c.FlowControl != nil {
					t.Errorf("flow control = %+v, want off", c.FlowControl)
				}
			},
		},
		{
			name:      "flow control: unsupported ordering policy",
			yaml:      "featureGates: [flowControl]\nplugins: [{type: queue-scorer}]\nflowControl: {priorityBands: [{priority: 1, orderingPolicyRef: edf-ordering-policy}]}\n",
			wantError: `flowControl.priorityBands[0].orderingPolicyRef: "edf-ordering-policy" is not a plugin of a supported type (supported: fcfs-ordering-policy)`,
		},
		{
			name:      "flow control: fairness ref naming a scorer",
			yaml:      "featureGates: [flowControl]\nplugins: [{type: queue-scorer}]\nflowControl: {defaultPriorityBand: {fairnessPolicyRef: queue-scorer}}\n",
			wantError: `flowControl.defaultPriorityBand.fairnessPolicyRef: "queue-scorer" is not a plugin of a supported type`,
		},
		{
			name:      "flow control: negative limit",
			yaml:      "featureGates: [flowControl]\nplugins: [{type: queue-scorer}]\nflowControl: {maxRequests: -3}\n",
			wantError: "flowControl.maxRequests: -3 must not be negative",
		},
		{
			name:      "flow control: duplicate band",
			yaml:      "featureGates: [flowControl]\nplugins: [{type: queue-scorer}]\nflowControl: {priorityBands: [{priority: 1}, {priority: 1}]}\n",
			wantError: "flowControl.priorityBands[1].priority: priority 1 is configured twice",
		},
		{
			name:      "flow control: unknown field",
			yaml:      "featureGates: [flowControl]\nplugins: [{type: queue-scorer}]\nflowControl: {maxQueue: 3}\n",
			wantError: `flowControl: json: unknown field "maxQueue"`,
		},
		{
			name:      "invalid saturation threshold",
			yaml:      "plugins: [{type: queue-scorer}, {type: utilization-detector, parameters: {kvCacheUtilThreshold: 2}}]\n",
			wantError: "KVCacheThreshold 2 must be in (0,1]",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, warnings, err := ParsePickerConfig([]byte(tt.yaml), base)
			if tt.wantError != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantError) {
					t.Fatalf("error = %v, want it to contain %q", err, tt.wantError)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := shapeOf(cfg.Profile); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("profile = %+v, want %+v", got, tt.want)
			}
			if len(warnings) != tt.warnings {
				t.Errorf("warnings = %q, want %d", warnings, tt.warnings)
			}
			if tt.check != nil {
				tt.check(t, cfg)
			}
			if _, err := New(cfg, nil); err != nil {
				t.Errorf("New: %v", err)
			}
		})
	}
}

func TestRoundRobinAndRandomPickers(t *testing.T) {
	cands := make([]Candidate, 4)
	for i := range cands {
		cands[i].Endpoint = &Endpoint{Address: fmt.Sprintf("10.0.0.%d:8000", i)}
	}
	var rr RoundRobinPicker
	var got [][]int
	for range 5 {
		got = append(got, rr.Pick(context.Background(), nil, cands, nil, 2))
	}
	want := [][]int{{0, 1}, {1, 2}, {2, 3}, {3, 0}, {0, 1}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("round robin = %v, want %v", got, want)
	}

	seq := []uint64{3, 0, 1} // Fisher–Yates: swap 0↔3, keep 1, swap 2↔3 → [3 1 0 2]
	i := 0
	rp := RandomPicker{Rand: func() uint64 { v := seq[i%len(seq)]; i++; return v }}
	if got := rp.Pick(context.Background(), nil, cands, nil, 3); !reflect.DeepEqual(got, []int{3, 1, 0}) {
		t.Errorf("random = %v, want [3 1 0]", got)
	}
	counts := make([]int, len(cands))
	var rnd RandomPicker
	for range 4000 {
		counts[rnd.Pick(context.Background(), nil, cands, nil, 1)[0]]++
	}
	for i, c := range counts {
		if c < 800 || c > 1200 { // expected 1000, σ ≈ 27
			t.Errorf("random picker chose endpoint %d %d times of 4000", i, c)
		}
	}
}
