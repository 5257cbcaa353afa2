package podsource_test

import (
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/rest"
	gaiev1 "sigs.k8s.io/gateway-api-inference-extension/api/v1"

	infv1a2 "github.com/aigw-dev/aigw/api/inferencev1alpha2"
	"github.com/aigw-dev/aigw/internal/podsource"
	"github.com/aigw-dev/aigw/internal/scheduler"
)

var (
	vllm     = map[string]string{"app": "vllm"}
	vllmRank = map[string]string{"app": "vllm", "rank": "1"}
	sglang   = map[string]string{"app": "sglang"}
	other    = map[string]string{"app": "other"}
	none     = []scheduler.Endpoint{}
)

// step changes the cluster, then the source must deliver want.
type step struct {
	name string
	do   func(f *fixture)
	want []scheduler.Endpoint
}

// One control plane, one namespace and Source per scenario; each scenario
// checks the initial set, then the set after each step.
func TestSource(t *testing.T) {
	h := startHarness(t)

	tests := []struct {
		name    string
		opts    podsource.Options // namespace, OnChange and Logger are set by the fixture
		setup   func(f *fixture)
		initial []scheduler.Endpoint
		steps   []step
	}{
		{
			name: "v1 pool",
			opts: podsource.Options{PoolName: "pool"},
			setup: func(f *fixture) {
				f.createPool("pool", vllm, 8000)
				f.readyPod("a", "127.0.0.2", vllm)
				f.readyPod("b", "127.0.0.3", vllm)
				f.readyPod("c", "127.0.0.4", other)
				f.pendingPod("d", vllm)
			},
			initial: []scheduler.Endpoint{ep("a", "127.0.0.2:8000", vllm), ep("b", "127.0.0.3:8000", vllm)},
			steps: []step{
				{
					name: "pod becomes unready",
					do:   func(f *fixture) { f.setReady("b", false, "") },
					want: []scheduler.Endpoint{ep("a", "127.0.0.2:8000", vllm)},
				},
				{
					name: "pod becomes ready again",
					do:   func(f *fixture) { f.setReady("b", true, "") },
					want: []scheduler.Endpoint{ep("a", "127.0.0.2:8000", vllm), ep("b", "127.0.0.3:8000", vllm)},
				},
				{
					name: "pending pod gets an IP and becomes ready",
					do:   func(f *fixture) { f.setReady("d", true, "127.0.0.5") },
					want: []scheduler.Endpoint{ep("a", "127.0.0.2:8000", vllm), ep("b", "127.0.0.3:8000", vllm), ep("d", "127.0.0.5:8000", vllm)},
				},
				{
					name: "labels changed, still selected: new labels delivered",
					do:   func(f *fixture) { f.updatePod("a", func(p *corev1.Pod) { p.Labels = vllmRank }) },
					want: []scheduler.Endpoint{ep("a", "127.0.0.2:8000", vllmRank), ep("b", "127.0.0.3:8000", vllm), ep("d", "127.0.0.5:8000", vllm)},
				},
				{
					name: "labels changed out of the selector",
					do:   func(f *fixture) { f.updatePod("b", func(p *corev1.Pod) { p.Labels = other }) },
					want: []scheduler.Endpoint{ep("a", "127.0.0.2:8000", vllmRank), ep("d", "127.0.0.5:8000", vllm)},
				},
				{
					name: "labels changed into the selector",
					do:   func(f *fixture) { f.updatePod("c", func(p *corev1.Pod) { p.Labels = vllm }) },
					want: []scheduler.Endpoint{ep("a", "127.0.0.2:8000", vllmRank), ep("c", "127.0.0.4:8000", vllm), ep("d", "127.0.0.5:8000", vllm)},
				},
				{
					name: "pool gets a second target port: two endpoints per pod",
					do: func(f *fixture) {
						f.updatePool("pool", func(p *gaiev1.InferencePool) {
							p.Spec.TargetPorts = []gaiev1.Port{{Number: 8000}, {Number: 8001}}
						})
					},
					want: []scheduler.Endpoint{
						ep("a", "127.0.0.2:8000", vllmRank), ep("a", "127.0.0.2:8001", vllmRank),
						ep("c", "127.0.0.4:8000", vllm), ep("c", "127.0.0.4:8001", vllm),
						ep("d", "127.0.0.5:8000", vllm), ep("d", "127.0.0.5:8001", vllm),
					},
				},
				{
					name: "pod deleted",
					do:   func(f *fixture) { f.deletePod("c") },
					want: []scheduler.Endpoint{
						ep("a", "127.0.0.2:8000", vllmRank), ep("a", "127.0.0.2:8001", vllmRank),
						ep("d", "127.0.0.5:8000", vllm), ep("d", "127.0.0.5:8001", vllm),
					},
				},
				{
					name: "pod terminating (deletionTimestamp set, still ready)",
					do:   func(f *fixture) { f.terminatePod("d") },
					want: []scheduler.Endpoint{ep("a", "127.0.0.2:8000", vllmRank), ep("a", "127.0.0.2:8001", vllmRank)},
				},
				{
					name: "pool selector narrowed to no pod",
					do: func(f *fixture) {
						f.updatePool("pool", func(p *gaiev1.InferencePool) {
							p.Spec.Selector.MatchLabels = map[gaiev1.LabelKey]gaiev1.LabelValue{"rank": "2"}
						})
					},
					want: none,
				},
				{
					name: "pool selector widened",
					do: func(f *fixture) {
						f.updatePool("pool", func(p *gaiev1.InferencePool) {
							p.Spec.Selector.MatchLabels = map[gaiev1.LabelKey]gaiev1.LabelValue{"rank": "1"}
						})
					},
					want: []scheduler.Endpoint{ep("a", "127.0.0.2:8000", vllmRank), ep("a", "127.0.0.2:8001", vllmRank)},
				},
				{
					name: "pool deleted: empty set",
					do:   func(f *fixture) { f.deleteObject(&gaiev1.InferencePool{}, "pool") },
					want: none,
				},
				{
					name: "pool created again",
					do:   func(f *fixture) { f.createPool("pool", vllm, 9000) },
					want: []scheduler.Endpoint{ep("a", "127.0.0.2:9000", vllmRank)},
				},
			},
		},
		{
			name: "v1 pool missing at start",
			opts: podsource.Options{PoolName: "late", PoolGroup: podsource.GroupV1},
			setup: func(f *fixture) {
				f.readyPod("a", "127.0.0.2", vllm)
			},
			initial: none,
			steps: []step{{
				name: "pool created",
				do:   func(f *fixture) { f.createPool("late", vllm, 8000) },
				want: []scheduler.Endpoint{ep("a", "127.0.0.2:8000", vllm)},
			}},
		},
		{
			name: "v1alpha2 pool",
			opts: podsource.Options{PoolName: "old", PoolGroup: podsource.GroupV1Alpha2},
			setup: func(f *fixture) {
				f.createPoolV1Alpha2("old", vllm, 8000)
				// A v1 pool of the same name must not be confused with it.
				f.createPool("old", sglang, 7000)
				f.readyPod("a", "127.0.0.2", vllm)
				f.readyPod("b", "127.0.0.3", sglang)
			},
			initial: []scheduler.Endpoint{ep("a", "127.0.0.2:8000", vllm)},
			steps: []step{
				{
					name: "selector changed",
					do: func(f *fixture) {
						f.updatePoolV1Alpha2("old", func(p *infv1a2.InferencePool) {
							p.Spec.Selector = map[infv1a2.LabelKey]infv1a2.LabelValue{"app": "sglang"}
						})
					},
					want: []scheduler.Endpoint{ep("b", "127.0.0.3:8000", sglang)},
				},
				{
					name: "target port changed",
					do: func(f *fixture) {
						f.updatePoolV1Alpha2("old", func(p *infv1a2.InferencePool) { p.Spec.TargetPortNumber = 9000 })
					},
					want: []scheduler.Endpoint{ep("b", "127.0.0.3:9000", sglang)},
				},
				{
					name: "pool deleted: empty set",
					do:   func(f *fixture) { f.deleteObject(&infv1a2.InferencePool{}, "old") },
					want: none,
				},
			},
		},
		{
			name: "selector mode",
			opts: podsource.Options{Selector: vllm, TargetPorts: []int{8000, 8001}},
			setup: func(f *fixture) {
				f.readyPod("a", "127.0.0.2", vllm)
				f.readyPod("b", "127.0.0.3", other)
			},
			initial: []scheduler.Endpoint{ep("a", "127.0.0.2:8000", vllm), ep("a", "127.0.0.2:8001", vllm)},
			steps: []step{
				{
					name: "IPv6 pod added",
					do:   func(f *fixture) { f.readyPod("v6", "fd00::2", vllm) },
					want: []scheduler.Endpoint{
						ep("a", "127.0.0.2:8000", vllm), ep("a", "127.0.0.2:8001", vllm),
						ep("v6", "[fd00::2]:8000", vllm), ep("v6", "[fd00::2]:8001", vllm),
					},
				},
				{
					name: "labels changed out of the selector",
					do:   func(f *fixture) { f.updatePod("a", func(p *corev1.Pod) { p.Labels = other }) },
					want: []scheduler.Endpoint{ep("v6", "[fd00::2]:8000", vllm), ep("v6", "[fd00::2]:8001", vllm)},
				},
				{
					name: "pod deleted",
					do:   func(f *fixture) { f.deletePod("v6") },
					want: none,
				},
			},
		},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := h.newFixture(t, nsName("source", i))
			tc.setup(f)
			src, rec := f.start(tc.opts)
			rec.waitFor(t, tc.initial)
			waitUntil(t, "Synced", src.Synced)
			for _, s := range tc.steps {
				t.Logf("step: %s", s.name)
				s.do(f)
				rec.waitFor(t, s.want)
			}
		})
	}

	// Changes that leave the set as it is are not delivered. Events of one
	// kind reach the source in order, so after the harmless changes a
	// relevant one is made: when its set arrives, the harmless ones were
	// handled too, and exactly one more delivery must have happened.
	t.Run("no delivery when nothing changed", func(t *testing.T) {
		f := h.newFixture(t, "source-unchanged")
		f.createPool("pool", vllm, 8000)
		f.readyPod("a", "127.0.0.2", vllm)
		f.readyPod("x", "127.0.0.3", other)
		_, rec := f.start(podsource.Options{PoolName: "pool"})
		initial := []scheduler.Endpoint{ep("a", "127.0.0.2:8000", vllm)}
		rec.waitFor(t, initial)
		n, _ := rec.deliveries()
		require.Equal(t, 1, n, "one initial delivery")

		// Pods: annotations, a non-selected pod changing, a new non-selected pod.
		f.updatePod("a", func(p *corev1.Pod) { p.Annotations = map[string]string{"note": "harmless"} })
		f.updatePod("x", func(p *corev1.Pod) { p.Labels = map[string]string{"app": "other", "v": "2"} })
		f.setReady("x", false, "")
		f.readyPod("y", "127.0.0.4", other)
		f.readyPod("b", "127.0.0.5", vllm) // relevant
		afterPods := []scheduler.Endpoint{ep("a", "127.0.0.2:8000", vllm), ep("b", "127.0.0.5:8000", vllm)}
		rec.waitFor(t, afterPods)
		n, _ = rec.deliveries()
		require.Equal(t, 2, n, "harmless Pod changes must not be delivered")

		// The pool: a change of its picker reference, then of its ports.
		f.updatePool("pool", func(p *gaiev1.InferencePool) { p.Spec.EndpointPickerRef.Name = "another-epp" })
		f.updatePool("pool", func(p *gaiev1.InferencePool) { p.Labels = map[string]string{"team": "x"} })
		f.updatePool("pool", func(p *gaiev1.InferencePool) { // relevant
			p.Spec.TargetPorts = []gaiev1.Port{{Number: 8000}, {Number: 8001}}
		})
		rec.waitFor(t, []scheduler.Endpoint{
			ep("a", "127.0.0.2:8000", vllm), ep("a", "127.0.0.2:8001", vllm),
			ep("b", "127.0.0.5:8000", vllm), ep("b", "127.0.0.5:8001", vllm),
		})
		n, _ = rec.deliveries()
		require.Equal(t, 3, n, "harmless pool changes must not be delivered")
	})
}

func TestNewRejectsBadOptions(t *testing.T) {
	cfg := &rest.Config{Host: "https://127.0.0.1:1"}
	onChange := func([]scheduler.Endpoint) {}
	tests := []struct {
		name    string
		opts    podsource.Options
		wantErr string
	}{
		{"no OnChange", podsource.Options{PoolNamespace: "ns", PoolName: "p"}, "OnChange is required"},
		{"no namespace", podsource.Options{PoolName: "p", OnChange: onChange}, "a namespace is required"},
		{"bad namespace", podsource.Options{PoolNamespace: "Not_A_Label", PoolName: "p", OnChange: onChange}, `namespace "Not_A_Label"`},
		{"unknown group", podsource.Options{PoolNamespace: "ns", PoolName: "p", PoolGroup: "example.com", OnChange: onChange}, `unknown InferencePool group "example.com"`},
		{"pool and selector", podsource.Options{PoolNamespace: "ns", PoolName: "p", Selector: vllm, OnChange: onChange}, "not with a pool"},
		{"group without pool", podsource.Options{PoolNamespace: "ns", PoolGroup: podsource.GroupV1, Selector: vllm, TargetPorts: []int{8000}, OnChange: onChange}, "without a PoolName"},
		{"neither pool nor selector", podsource.Options{PoolNamespace: "ns", OnChange: onChange}, "no pool name and no selector"},
		{"bad selector", podsource.Options{PoolNamespace: "ns", Selector: map[string]string{"app": "bad value"}, TargetPorts: []int{8000}, OnChange: onChange}, "selector:"},
		{"no ports", podsource.Options{PoolNamespace: "ns", Selector: vllm, OnChange: onChange}, "at least one target port"},
		{"port out of range", podsource.Options{PoolNamespace: "ns", Selector: vllm, TargetPorts: []int{0}, OnChange: onChange}, "target port 0 is not in 1-65535"},
		{"duplicate port", podsource.Options{PoolNamespace: "ns", Selector: vllm, TargetPorts: []int{8000, 8000}, OnChange: onChange}, "target port 8000 is listed twice"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := podsource.New(cfg, tc.opts)
			require.ErrorContains(t, err, tc.wantErr)
			require.ErrorContains(t, err, "podsource: ")
		})
	}

	_, err := podsource.New(nil, podsource.Options{PoolNamespace: "ns", PoolName: "p", OnChange: onChange})
	require.ErrorContains(t, err, "no rest.Config")

	for _, o := range []podsource.Options{
		{PoolNamespace: "ns", PoolName: "p", OnChange: onChange},
		{PoolNamespace: "ns", PoolName: "p", PoolGroup: podsource.GroupV1Alpha2, OnChange: onChange},
		{PoolNamespace: "ns", Selector: vllm, TargetPorts: []int{8000, 8001}, OnChange: onChange, Logger: slog.Default()},
	} {
		_, err := podsource.New(cfg, o)
		require.NoError(t, err)
	}
}

// Run fails, with context, when the cache cannot be set up, and runs once.
func TestRunFailsWithoutAPIServer(t *testing.T) {
	cfg := &rest.Config{Host: "https://127.0.0.1:1"} // nothing listens on port 1
	src, err := podsource.New(cfg, podsource.Options{PoolNamespace: "ns", PoolName: "p", OnChange: func([]scheduler.Endpoint) {}})
	require.NoError(t, err)
	err = src.Run(t.Context())
	require.ErrorContains(t, err, "podsource: cache for namespace ns")
	require.False(t, src.Synced())
	require.ErrorContains(t, src.Run(t.Context()), "Run called more than once")
}
