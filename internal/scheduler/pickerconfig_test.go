package scheduler

import (
	"context"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
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
