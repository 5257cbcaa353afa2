// Package policysource is the Kubernetes source of an endpoint picker's
// request policy: it watches the InferenceObjectives and
// InferenceModelRewrites (inference.networking.x-k8s.io/v1alpha2, GAIE
// v1.5's CRDs) that reference one InferencePool and reports the resulting
// [scheduler.Policy] whenever it changes, as GAIE's EPP reconciles them.
//
// The contract:
//
//   - An object applies when it is in the pool's namespace, is not being
//     deleted, and its spec.poolRef names the pool with the pool's group
//     (an empty group means inference.networking.k8s.io, the CRD default)
//     and kind InferencePool (or empty).
//   - Objectives: name → spec.priority (unset means 0).
//   - Rewrites: the rewrites' rules ordered oldest resource first (ties by
//     name), each resource's rules in list order; a rule's exact model
//     matches become [scheduler.RewriteRule.Models], a rule without
//     matches is generic. A rule that cannot be used (no targets, weights
//     set on some targets only, matches none of which is an Exact model
//     match) is left out with a warning naming it; the others apply.
//   - [Options.OnChange] gets the whole policy once the caches have synced
//     and then only when it changed; never concurrently.
//
// The CRDs must be installed: without them [Source.Run] fails, so callers
// start it only when asked to.
package policysource

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"reflect"
	"slices"
	"sync/atomic"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gaiev1 "sigs.k8s.io/gateway-api-inference-extension/api/v1"

	infv1a2 "github.com/aigw-dev/aigw/api/inferencev1alpha2"
	"github.com/aigw-dev/aigw/internal/kubewatch"
	"github.com/aigw-dev/aigw/internal/scheduler"
)

// Options configures a [Source].
type Options struct {
	// PoolNamespace is the namespace of the pool and of the watched
	// objects. Required.
	PoolNamespace string
	// PoolName names the InferencePool. Required.
	PoolName string
	// PoolGroup is the pool's API group; empty means
	// inference.networking.k8s.io.
	PoolGroup string
	// OnChange receives the whole policy; required.
	OnChange func(scheduler.Policy)
	// Logger receives changes and left-out rules; nil discards them.
	Logger *slog.Logger
}

// Source watches the objectives and rewrites of one pool. Create it with
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
	switch {
	case cfg == nil:
		return nil, errors.New("policysource: no rest.Config")
	case o.OnChange == nil:
		return nil, errors.New("policysource: OnChange is required")
	case o.PoolName == "":
		return nil, errors.New("policysource: a pool name is required")
	}
	if errs := validation.IsDNS1123Label(o.PoolNamespace); len(errs) > 0 {
		return nil, fmt.Errorf("policysource: namespace %q: %v", o.PoolNamespace, errs)
	}
	if o.PoolGroup == "" {
		o.PoolGroup = gaiev1.GroupName
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	scheme := runtime.NewScheme()
	if err := infv1a2.AddToScheme(scheme); err != nil {
		return nil, fmt.Errorf("policysource: scheme: %w", err)
	}
	return &Source{cfg: cfg, opts: o, scheme: scheme, log: log.With("pool", o.PoolNamespace+"/"+o.PoolName)}, nil
}

// Synced reports whether the first policy has been delivered.
func (s *Source) Synced() bool { return s.synced.Load() }

// Run watches until ctx ends, then returns nil. It fails early when the
// cache cannot be set up (e.g. the CRDs are not installed). Run may be
// called once.
func (s *Source) Run(ctx context.Context) error {
	if !s.running.CompareAndSwap(false, true) {
		return errors.New("policysource: Run called more than once")
	}
	var last *scheduler.Policy
	return kubewatch.Run(ctx, s.cfg, kubewatch.Options{
		Scheme:    s.scheme,
		Namespace: s.opts.PoolNamespace,
		Objects:   []client.Object{&infv1a2.InferenceObjective{}, &infv1a2.InferenceModelRewrite{}},
		Logger:    s.log,
		Name:      "policysource",
	}, func(ctx context.Context, r client.Reader) {
		p, err := s.compute(ctx, r)
		if err != nil {
			s.log.Error("policysource: cannot compute the policy", "error", err)
			return
		}
		if last != nil && reflect.DeepEqual(*last, p) {
			return
		}
		last = &p
		s.log.Info("policysource: policy changed", "objectives", len(p.Objectives), "rewrite_rules", len(p.Rewrites))
		s.opts.OnChange(clonePolicy(p))
		s.synced.Store(true)
	})
}

// compute builds the policy from the cache.
func (s *Source) compute(ctx context.Context, r client.Reader) (scheduler.Policy, error) {
	p := scheduler.Policy{Objectives: map[string]int{}}
	var objectives infv1a2.InferenceObjectiveList
	if err := r.List(ctx, &objectives, client.InNamespace(s.opts.PoolNamespace)); err != nil {
		return p, fmt.Errorf("list InferenceObjectives in %s: %w", s.opts.PoolNamespace, err)
	}
	for i := range objectives.Items {
		o := &objectives.Items[i]
		if !o.DeletionTimestamp.IsZero() || !s.references(&o.Spec.PoolRef) {
			continue
		}
		prio := 0
		if o.Spec.Priority != nil {
			prio = *o.Spec.Priority
		}
		p.Objectives[o.Name] = prio
	}

	var rewrites infv1a2.InferenceModelRewriteList
	if err := r.List(ctx, &rewrites, client.InNamespace(s.opts.PoolNamespace)); err != nil {
		return p, fmt.Errorf("list InferenceModelRewrites in %s: %w", s.opts.PoolNamespace, err)
	}
	items := slices.DeleteFunc(rewrites.Items, func(rw infv1a2.InferenceModelRewrite) bool {
		return !rw.DeletionTimestamp.IsZero() || rw.Spec.PoolRef == nil || !s.references(rw.Spec.PoolRef)
	})
	slices.SortFunc(items, func(a, b infv1a2.InferenceModelRewrite) int {
		if c := a.CreationTimestamp.Compare(b.CreationTimestamp.Time); c != 0 {
			return c
		}
		return cmp.Compare(a.Name, b.Name)
	})
	for i := range items {
		for j, rule := range items[i].Spec.Rules {
			src := fmt.Sprintf("InferenceModelRewrite %s/%s rules[%d]", items[i].Namespace, items[i].Name, j)
			rr, err := convertRule(rule, src)
			if err == nil {
				err = rr.Validate()
			}
			if err != nil {
				s.log.Warn("policysource: rule left out", "rule", src, "error", err)
				continue
			}
			p.Rewrites = append(p.Rewrites, rr)
		}
	}
	return p, nil
}

// references reports whether ref names the watched pool.
func (s *Source) references(ref *infv1a2.PoolObjectReference) bool {
	r := ref.Defaulted()
	return string(r.Name) == s.opts.PoolName && string(r.Group) == s.opts.PoolGroup && r.Kind == infv1a2.DefaultPoolRefKind
}

// convertRule turns a CRD rule into the server's form.
func convertRule(rule infv1a2.InferenceModelRewriteRule, src string) (scheduler.RewriteRule, error) {
	rr := scheduler.RewriteRule{Source: src}
	for _, m := range rule.Matches {
		if m.Model == nil || m.Model.Value == "" || (m.Model.Type != nil && *m.Model.Type != infv1a2.MatchExact) {
			continue
		}
		rr.Models = append(rr.Models, m.Model.Value)
	}
	if len(rule.Matches) > 0 && len(rr.Models) == 0 {
		// Not generic: it matches nothing this picker can compare.
		return rr, errors.New("no Exact model match")
	}
	for _, t := range rule.Targets {
		rr.Targets = append(rr.Targets, scheduler.WeightedModel{Model: t.ModelRewrite, Weight: int(t.Weight)})
	}
	return rr, nil
}

// clonePolicy copies p so the callee owns it.
func clonePolicy(p scheduler.Policy) scheduler.Policy {
	out := scheduler.Policy{Objectives: maps.Clone(p.Objectives)}
	for _, r := range p.Rewrites {
		r.Models, r.Targets = slices.Clone(r.Models), slices.Clone(r.Targets)
		out.Rewrites = append(out.Rewrites, r)
	}
	return out
}

// Installed reports whether the API server serves both CRDs the source
// watches (GAIE v1.5 installs them; v1.6 no longer ships them). An error
// means the API server could not be asked.
func Installed(cfg *rest.Config) (bool, error) {
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return false, fmt.Errorf("policysource: discovery: %w", err)
	}
	list, err := dc.ServerResourcesForGroupVersion(infv1a2.GroupVersion.String())
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("policysource: discovery of %s: %w", infv1a2.GroupVersion, err)
	}
	found := 0
	for _, r := range list.APIResources {
		if r.Name == "inferenceobjectives" || r.Name == "inferencemodelrewrites" {
			found++
		}
	}
	return found == 2, nil
}
