package podsource_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gaiev1 "sigs.k8s.io/gateway-api-inference-extension/api/v1"

	infv1a2 "github.com/aigw-dev/aigw/api/inferencev1alpha2"
	"github.com/aigw-dev/aigw/internal/podsource"
	"github.com/aigw-dev/aigw/internal/scheduler"
	"github.com/aigw-dev/aigw/internal/testenv"
)

// waitTimeout bounds every wait for the source to catch up with the API
// server; generous, since the machines running these tests are small.
const waitTimeout = 30 * time.Second

// harness is one control plane shared by the scenarios of a test, each of
// which works in its own namespace.
type harness struct {
	env *testenv.Env
	// c also knows InferencePool v1alpha2 (testenv's client does not).
	c client.Client
}

// startHarness starts the control plane and installs the v1alpha2
// InferencePool CRD, which the pinned GAIE release no longer ships.
func startHarness(t *testing.T) *harness {
	t.Helper()
	env := testenv.StartEnv(t)
	scheme, err := testenv.NewScheme()
	require.NoError(t, err)
	require.NoError(t, infv1a2.AddToScheme(scheme))
	c, err := client.New(env.Config, client.Options{Scheme: scheme})
	require.NoError(t, err)

	env.InstallV1Alpha2CRDs(t)
	return &harness{env: env, c: c}
}

// fixture is one scenario: a namespace and the objects in it.
type fixture struct {
	t  *testing.T
	h  *harness
	ns string
}

// newFixture creates the namespace ns.
func (h *harness) newFixture(t *testing.T, ns string) *fixture {
	t.Helper()
	require.NoError(t, h.c.Create(t.Context(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}))
	return &fixture{t: t, h: h, ns: ns}
}

// start runs a Source with o in the fixture's namespace until the test ends.
func (f *fixture) start(o podsource.Options) (*podsource.Source, *recorder) {
	f.t.Helper()
	rec := &recorder{changed: make(chan struct{}, 1)}
	o.PoolNamespace = f.ns
	o.OnChange = rec.onChange
	o.Logger = slog.New(slog.NewTextHandler(f.t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
	src, err := podsource.New(f.h.env.Config, o)
	require.NoError(f.t, err)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx) }()
	f.t.Cleanup(func() {
		cancel()
		require.NoError(f.t, <-done, "Run")
	})
	return src, rec
}

// recorder collects the sets a Source delivers.
type recorder struct {
	mu      sync.Mutex
	sets    [][]scheduler.Endpoint
	changed chan struct{} // signalled after each delivery
}

func (r *recorder) onChange(eps []scheduler.Endpoint) {
	r.mu.Lock()
	r.sets = append(r.sets, eps)
	r.mu.Unlock()
	select {
	case r.changed <- struct{}{}:
	default:
	}
}

// deliveries returns how many sets were delivered and the last one.
func (r *recorder) deliveries() (int, []scheduler.Endpoint) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.sets) == 0 {
		return 0, nil
	}
	return len(r.sets), r.sets[len(r.sets)-1]
}

// waitFor waits until the last delivered set is want.
func (r *recorder) waitFor(t *testing.T, want []scheduler.Endpoint) {
	t.Helper()
	deadline := time.NewTimer(waitTimeout)
	defer deadline.Stop()
	for {
		n, got := r.deliveries()
		diff := cmp.Diff(want, got)
		if n > 0 && diff == "" {
			return
		}
		select {
		case <-r.changed:
		case <-deadline.C:
			t.Fatalf("after %v and %d deliveries, the last set is not the expected one (-want +got):\n%s", waitTimeout, n, diff)
		}
	}
}

// waitUntil polls cond until it holds or waitTimeout passes.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after %v", what, waitTimeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ep is an expected endpoint.
func ep(pod, addr string, labels map[string]string) scheduler.Endpoint {
	return scheduler.Endpoint{Address: addr, PodName: pod, Labels: labels}
}

// readyPod creates a ready Pod with the given IP and labels.
func (f *fixture) readyPod(name, ip string, labels map[string]string) {
	f.t.Helper()
	f.h.env.CreateReadyPod(f.t, testenv.Pod{Name: name, Namespace: f.ns, Labels: labels, IP: ip, Port: 8000})
}

// pendingPod creates a Pod without status: no IP, not ready.
func (f *fixture) pendingPod(name string, labels map[string]string) {
	f.t.Helper()
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: f.ns, Labels: labels},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "model-server", Image: "unused"}}},
	}
	require.NoError(f.t, f.h.c.Create(f.t.Context(), p))
}

// pod reads the Pod name.
func (f *fixture) pod(name string) *corev1.Pod {
	f.t.Helper()
	p := &corev1.Pod{}
	require.NoError(f.t, f.h.c.Get(f.t.Context(), types.NamespacedName{Namespace: f.ns, Name: name}, p))
	return p
}

// setReady sets the Pod's Ready condition and, when ip is not empty, its IP.
func (f *fixture) setReady(name string, ready bool, ip string) {
	f.t.Helper()
	p := f.pod(name)
	status := corev1.ConditionFalse
	if ready {
		status = corev1.ConditionTrue
	}
	if ip != "" {
		p.Status.PodIP, p.Status.PodIPs = ip, []corev1.PodIP{{IP: ip}}
		p.Status.Phase = corev1.PodRunning
	}
	cond := corev1.PodCondition{Type: corev1.PodReady, Status: status, LastTransitionTime: metav1.Now()}
	found := false
	for i := range p.Status.Conditions {
		if p.Status.Conditions[i].Type == corev1.PodReady {
			p.Status.Conditions[i], found = cond, true
		}
	}
	if !found {
		p.Status.Conditions = append(p.Status.Conditions, cond)
	}
	require.NoError(f.t, f.h.c.Status().Update(f.t.Context(), p))
}

// updatePod changes the Pod's metadata or spec.
func (f *fixture) updatePod(name string, change func(*corev1.Pod)) {
	f.t.Helper()
	p := f.pod(name)
	change(p)
	require.NoError(f.t, f.h.c.Update(f.t.Context(), p))
}

// deletePod deletes the Pod (at once: it is bound to no node).
func (f *fixture) deletePod(name string) {
	f.t.Helper()
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: f.ns}}
	require.NoError(f.t, f.h.c.Delete(f.t.Context(), p))
}

// terminatePod deletes the Pod but keeps it, terminating, with a finalizer.
func (f *fixture) terminatePod(name string) {
	f.t.Helper()
	f.updatePod(name, func(p *corev1.Pod) { p.Finalizers = append(p.Finalizers, "test.aigw.dev/keep") })
	f.deletePod(name)
	require.NotNil(f.t, f.pod(name).DeletionTimestamp, "Pod %s must be terminating", name)
}

// createPool creates a v1 InferencePool.
func (f *fixture) createPool(name string, selector map[string]string, ports ...int32) {
	f.t.Helper()
	f.h.env.CreatePool(f.t, testenv.Pool{Name: name, Namespace: f.ns, Selector: selector, TargetPorts: ports, EndpointPicker: "epp"})
}

// updatePool changes a v1 InferencePool.
func (f *fixture) updatePool(name string, change func(*gaiev1.InferencePool)) {
	f.t.Helper()
	p := &gaiev1.InferencePool{}
	require.NoError(f.t, f.h.c.Get(f.t.Context(), types.NamespacedName{Namespace: f.ns, Name: name}, p))
	change(p)
	require.NoError(f.t, f.h.c.Update(f.t.Context(), p))
}

// createPoolV1Alpha2 creates a v1alpha2 InferencePool.
func (f *fixture) createPoolV1Alpha2(name string, selector map[string]string, port int32) {
	f.t.Helper()
	p := &infv1a2.InferencePool{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: f.ns},
		Spec: infv1a2.InferencePoolSpec{
			Selector:         map[infv1a2.LabelKey]infv1a2.LabelValue{},
			TargetPortNumber: port,
			ExtensionRef:     &infv1a2.Extension{Name: "epp"},
		},
	}
	for k, v := range selector {
		p.Spec.Selector[infv1a2.LabelKey(k)] = infv1a2.LabelValue(v)
	}
	require.NoError(f.t, f.h.c.Create(f.t.Context(), p))
}

// updatePoolV1Alpha2 changes a v1alpha2 InferencePool.
func (f *fixture) updatePoolV1Alpha2(name string, change func(*infv1a2.InferencePool)) {
	f.t.Helper()
	p := &infv1a2.InferencePool{}
	require.NoError(f.t, f.h.c.Get(f.t.Context(), types.NamespacedName{Namespace: f.ns, Name: name}, p))
	change(p)
	require.NoError(f.t, f.h.c.Update(f.t.Context(), p))
}

// deleteObject deletes obj, named name in the fixture's namespace.
func (f *fixture) deleteObject(obj client.Object, name string) {
	f.t.Helper()
	obj.SetNamespace(f.ns)
	obj.SetName(name)
	require.NoError(f.t, f.h.c.Delete(f.t.Context(), obj))
}

// nsName turns a test name into a namespace name.
func nsName(prefix string, i int) string {
	return strings.ToLower(fmt.Sprintf("%s-%d", prefix, i))
}
