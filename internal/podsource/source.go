package podsource

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync/atomic"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gaiev1 "sigs.k8s.io/gateway-api-inference-extension/api/v1"

	infv1a2 "github.com/aigw-dev/aigw/api/inferencev1alpha2"
	"github.com/aigw-dev/aigw/internal/kubewatch"
	"github.com/aigw-dev/aigw/internal/scheduler"
)

// Options configures a [Source]. Either PoolName is set (pool mode, like
// GAIE's EPP --pool-name) or Selector and TargetPorts are (selector mode,
// like --endpoint-selector and --endpoint-target-ports).
type Options struct {
	// PoolNamespace is the namespace of the pool and of its Pods (in
	// selector mode, of the Pods). Required; it is the only namespace watched.
	PoolNamespace string
	// PoolName names the InferencePool. Empty means selector mode.
	PoolName string
	// PoolGroup is the pool's API group: [GroupV1] (the default when empty)
	// or [GroupV1Alpha2]. Pool mode only.
	PoolGroup string

	// Selector selects the Pods by label (all pairs must match). Selector
	// mode only, and then required.
	Selector map[string]string
	// TargetPorts are the model servers' ports on each Pod; each one makes
	// an endpoint. Selector mode only, and then required.
	TargetPorts []int

	// OnChange receives the full set of ready endpoints, sorted by address:
	// once when the caches have synced (possibly empty), then after every
	// change. It is never called concurrently; the slice and its label maps
	// belong to the callee. Required.
	OnChange func([]scheduler.Endpoint)
	// Logger receives pool changes, endpoint-set sizes and watch errors; nil
	// discards them.
	Logger *slog.Logger
}

// Source watches the Pods behind one InferencePool (or one label selector)
// and reports its endpoints through [Options.OnChange]. Create it with
// [New] and start it with [Source.Run].
type Source struct {
	cfg    *rest.Config
	opts   Options
	scheme *runtime.Scheme
	log    *slog.Logger

	running atomic.Bool
	synced  atomic.Bool
}

// New validates o and returns a Source for the cluster cfg points to. It
// does not contact the API server; [Source.Run] does.
func New(cfg *rest.Config, o Options) (*Source, error) {
	if cfg == nil {
		return nil, errors.New("podsource: no rest.Config")
	}
	if err := validate(&o); err != nil {
		return nil, fmt.Errorf("podsource: %w", err)
	}
	o.Selector = maps.Clone(o.Selector)
	o.TargetPorts = slices.Clone(o.TargetPorts)
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if o.PoolName != "" {
		log = log.With("pool", o.PoolNamespace+"/"+o.PoolName, "group", o.PoolGroup)
	} else {
		log = log.With("namespace", o.PoolNamespace, "selector", o.Selector, "ports", o.TargetPorts)
	}

	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{corev1.AddToScheme, gaiev1.Install, infv1a2.AddToScheme} {
		if err := add(scheme); err != nil {
			return nil, fmt.Errorf("podsource: scheme: %w", err)
		}
	}
	return &Source{cfg: cfg, opts: o, scheme: scheme, log: log}, nil
}

// validate checks o and fills in the default pool group.
func validate(o *Options) error {
	if o.OnChange == nil {
		return errors.New("OnChange is required")
	}
	if o.PoolNamespace == "" {
		return errors.New("a namespace is required")
	}
	if errs := validation.IsDNS1123Label(o.PoolNamespace); len(errs) > 0 {
		return fmt.Errorf("namespace %q: %v", o.PoolNamespace, errs)
	}
	if o.PoolName != "" {
		if len(o.Selector) > 0 || len(o.TargetPorts) > 0 {
			return fmt.Errorf("pool %s: Selector and TargetPorts are for selector mode (no pool), not with a pool", o.PoolName)
		}
		switch o.PoolGroup {
		case "":
			o.PoolGroup = GroupV1
		case GroupV1, GroupV1Alpha2:
		default:
			return fmt.Errorf("pool %s: unknown InferencePool group %q (want %s or %s)", o.PoolName, o.PoolGroup, GroupV1, GroupV1Alpha2)
		}
		return nil
	}
	if o.PoolGroup != "" {
		return fmt.Errorf("PoolGroup %q without a PoolName", o.PoolGroup)
	}
	if len(o.Selector) == 0 {
		return errors.New("no pool name and no selector: one of them is required")
	}
	if _, err := labels.ValidatedSelectorFromSet(o.Selector); err != nil {
		return fmt.Errorf("selector: %w", err)
	}
	if len(o.TargetPorts) == 0 {
		return errors.New("selector mode needs at least one target port")
	}
	for i, p := range o.TargetPorts {
		if !validPort(p) {
			return fmt.Errorf("target port %d is not in 1-65535", p)
		}
		if slices.Contains(o.TargetPorts[:i], p) {
			return fmt.Errorf("target port %d is listed twice", p)
		}
	}
	return nil
}

// Synced reports whether the first endpoint set has been delivered, i.e.
// whether the source is ready (the EPP's readiness). It is safe to call from
// any goroutine.
func (s *Source) Synced() bool { return s.synced.Load() }

// Run starts the informers, waits for their caches to sync, delivers the
// first endpoint set and then every change, until ctx ends; then it stops
// the informers and returns nil. It fails early when the cache cannot be set
// up (e.g. the pool's CRD is not installed). Run may be called once.
func (s *Source) Run(ctx context.Context) error {
	if !s.running.CompareAndSwap(false, true) {
		return errors.New("podsource: Run called more than once")
	}
	var (
		last       []scheduler.Endpoint
		poolState  string
		poolLogged bool
	)
	return kubewatch.Run(ctx, s.cfg, s.watchOptions(), func(ctx context.Context, r client.Reader) {
		st, err := s.compute(ctx, r)
		if err != nil {
			// Reads from a synced cache do not fail in practice; the next
			// event retries.
			s.log.Error("podsource: cannot compute the endpoints", "error", err)
			return
		}
		if s.opts.PoolName != "" && (!poolLogged || st.pool != poolState) {
			if st.poolWarn {
				s.log.Warn("podsource: " + st.pool)
			} else {
				s.log.Info("podsource: InferencePool " + st.pool)
			}
			poolState, poolLogged = st.pool, true
		}
		if !s.synced.Load() || !equalEndpoints(st.eps, last) {
			last = cloneEndpoints(st.eps)
			s.log.Info("podsource: endpoints changed", "count", len(st.eps))
			s.opts.OnChange(st.eps)
			s.synced.Store(true)
		}
	})
}

// state is one computation of the endpoint set.
type state struct {
	eps []scheduler.Endpoint
	// pool describes what the pool yields (pool mode only), for the log;
	// poolWarn marks a pool that yields nothing.
	pool     string
	poolWarn bool
}

// compute computes the endpoint set from the cache.
func (s *Source) compute(ctx context.Context, r client.Reader) (state, error) {
	t := target{selector: s.opts.Selector, ports: s.opts.TargetPorts}
	var st state
	if s.opts.PoolName != "" {
		key := types.NamespacedName{Namespace: s.opts.PoolNamespace, Name: s.opts.PoolName}
		var err error
		t, err = poolTarget(ctx, r, s.opts.PoolGroup, key)
		switch {
		case apierrors.IsNotFound(err):
			return state{eps: []scheduler.Endpoint{}, pool: "InferencePool not found: no endpoints", poolWarn: true}, nil
		case err != nil:
			return state{}, err
		case len(t.selector) == 0:
			// A Service with an empty selector selects nothing either; the
			// v1 CRD requires at least one label.
			return state{eps: []scheduler.Endpoint{}, pool: "InferencePool has an empty selector: no endpoints", poolWarn: true}, nil
		}
		// fmt prints maps sorted by key, so equal pools read the same.
		st.pool = fmt.Sprintf("selects %v on ports %v", t.selector, t.ports)
	}
	var pods corev1.PodList
	if err := r.List(ctx, &pods,
		client.InNamespace(s.opts.PoolNamespace),
		client.MatchingLabels(t.selector),
		client.UnsafeDisableDeepCopyOption(true), // read only; endpointsOf copies the labels
	); err != nil {
		return state{}, fmt.Errorf("list Pods in %s: %w", s.opts.PoolNamespace, err)
	}
	st.eps = endpointsOf(pods.Items, t.ports)
	return st, nil
}

// watchOptions restricts the cache to the namespace, and further to the
// pool (by name) or, in selector mode, to the selected Pods.
func (s *Source) watchOptions() kubewatch.Options {
	o := kubewatch.Options{Scheme: s.scheme, Namespace: s.opts.PoolNamespace, Logger: s.log, Name: "podsource"}
	if s.opts.PoolName != "" {
		// The pool's selector may change, so all Pods of the namespace are
		// cached; of the pools, only this one.
		pool := newPoolObject(s.opts.PoolGroup)
		o.Objects = []client.Object{&corev1.Pod{}, pool}
		o.ByObject = map[client.Object]cache.ByObject{
			pool: {Field: fields.OneTermEqualSelector("metadata.name", s.opts.PoolName)},
		}
		return o
	}
	o.Objects = []client.Object{&corev1.Pod{}}
	o.ByObject = map[client.Object]cache.ByObject{
		&corev1.Pod{}: {Label: labels.SelectorFromSet(s.opts.Selector)},
	}
	return o
}
