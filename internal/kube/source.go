// Package kube is the gateway's Kubernetes control plane: it watches the
// resources the gateway serves (the same kinds `aigw run` reads from
// files) through controller-runtime informers and compiles them with the
// same compiler, internal/standalone, whenever they change.
package kube

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	egv1a1 "github.com/envoyproxy/gateway/api/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	gaiev1 "sigs.k8s.io/gateway-api-inference-extension/api/v1"
	gwapiv1 "sigs.k8s.io/gateway-api/apis/v1"

	infv1a2 "github.com/aigw-dev/aigw/api/inferencev1alpha2"
	aigv1a1 "github.com/aigw-dev/aigw/api/v1alpha1"
	aigv1b1 "github.com/aigw-dev/aigw/api/v1beta1"
	"github.com/aigw-dev/aigw/internal/config"
	"github.com/aigw-dev/aigw/internal/standalone"
)

// DefaultControllerName is the GatewayClass spec.controllerName whose
// Gateways the gateway serves.
const DefaultControllerName = "aigw.dev/gateway-controller"

// NewScheme returns a scheme with every kind the gateway reads.
func NewScheme() (*runtime.Scheme, error) {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		clientgoscheme.AddToScheme, gwapiv1.Install, egv1a1.AddToScheme, aigv1a1.AddToScheme, aigv1b1.AddToScheme,
		gaiev1.Install, infv1a2.AddToScheme,
	} {
		if err := add(s); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// watched are the kinds compiled: the aigateway.envoyproxy.io kinds in
// their storage version (the API server converts), Gateway API's, Envoy
// Gateway's, GAIE's and the core kinds they reference.
func watched() []client.ObjectList {
	return []client.ObjectList{
		&gwapiv1.GatewayClassList{}, &gwapiv1.GatewayList{}, &gwapiv1.HTTPRouteList{}, &gwapiv1.BackendTLSPolicyList{},
		&gwapiv1.ReferenceGrantList{},
		&aigv1b1.AIGatewayRouteList{}, &aigv1b1.AIServiceBackendList{}, &aigv1b1.BackendSecurityPolicyList{},
		&aigv1b1.GatewayConfigList{}, &aigv1a1.QuotaPolicyList{},
		&egv1a1.BackendList{}, &egv1a1.BackendTrafficPolicyList{}, &egv1a1.ClientTrafficPolicyList{}, &egv1a1.SecurityPolicyList{},
		&gaiev1.InferencePoolList{}, &infv1a2.InferenceObjectiveList{}, &infv1a2.InferenceModelRewriteList{},
		&corev1.SecretList{}, &corev1.ConfigMapList{}, &corev1.ServiceList{}, &corev1.PodList{},
	}
}

// Options configure a [Source].
type Options struct {
	// ControllerName selects the GatewayClasses whose Gateways are served;
	// "" means DefaultControllerName.
	ControllerName string
	// Gateways, when set, narrows the Gateways served to these
	// ("namespace/name"), among those of our GatewayClasses: replicas that
	// serve different Gateways of one controller.
	Gateways []string
	// Addresses are where clients reach the Gateways (IP addresses or
	// host names, such as the gateway Service's), reported in the status
	// of those whose spec.addresses name none.
	Addresses []string
	// Debounce is the least time between two compilations while changes
	// keep coming (the first change after a quiet one waits a tenth of
	// it); 0 means 100ms.
	Debounce time.Duration
	Logger   *slog.Logger
}

// Source watches the API server and compiles what it holds.
type Source struct {
	opts    Options
	scheme  *runtime.Scheme
	cache   cache.Cache
	lists   []client.ObjectList
	changed chan struct{}
	out     chan struct{}

	// selection is which Pods the configuration in force read (nil before
	// the first load); a Pod change is classified against it.
	selection atomic.Pointer[standalone.PodSelection]
	// dirty are the pools whose endpoints changed since
	// PoolEndpoints last read them, by name; endpoints signals them.
	mu        sync.Mutex
	dirty     map[string]standalone.PoolPods
	endpoints chan struct{}
	// pending is the last configuration loaded and the Pods it read, until
	// it is in force (see Serving).
	pending struct {
		cfg  *config.Config
		pods standalone.PodSelection
	}
	// loading is set once the first load began.
	loading atomic.Bool
	// closedConfig is the routeless configuration served when the first
	// load had a client policy it cannot enforce.
	closedConfig atomic.Pointer[config.Config]
	// refused are the resources whose part of a configuration the data
	// plane refused (Refuse), left out of the loads until they change.
	refusedMu sync.Mutex
	refused   map[objectRef]refused
	// credentialEpoch counts the changes of Secrets and ConfigMaps, which
	// a refused resource may have been refused for.
	credentialEpoch atomic.Int64
}

// objectRef names an object of a kind.
type objectRef struct{ kind, namespace, name string }

// refused is a resource the data plane refused: at a generation (its
// status writes leave it), while no Secret or ConfigMap changed.
type refused struct {
	generation, credentialEpoch int64
	err                         error
}

// refusable maps a part of a configuration a data plane may refuse to the
// kinds of the resources it is compiled from.
var refusable = map[string][]string{
	config.PartRoute:         {"AIGatewayRoute", "HTTPRoute"},
	config.PartBackend:       {"AIServiceBackend"},
	config.PartBackendPolicy: {"BackendSecurityPolicy"},
	config.PartClientPolicy:  {"SecurityPolicy"},
}

// Refuse tells the source that the data plane refused a configuration it
// loaded, for err. The resources the parts named in err's
// [config.PartError]s were compiled from are left out of the next loads
// (reported with err in their status) until they, or any Secret or
// ConfigMap, change, and a new load is signalled. It reports whether it
// left out anything new: if not, loading again would be refused again.
func (s *Source) Refuse(ctx context.Context, err error) bool {
	s.refusedMu.Lock()
	defer s.refusedMu.Unlock()
	added := false
	for _, pe := range config.PartErrors(err) {
		namespace, name, ok := strings.Cut(pe.Name, "/")
		if !ok || strings.Contains(name, "/") {
			continue // a backend of a direct reference: no resource of its own
		}
		for _, kind := range refusable[pe.Part] {
			o, gerr := s.objectOf(kind)
			if gerr != nil || s.cache.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, o) != nil {
				continue
			}
			ref := objectRef{kind, namespace, name}
			if _, seen := s.refused[ref]; !seen {
				added = true
			}
			if s.refused == nil {
				s.refused = map[objectRef]refused{}
			}
			s.refused[ref] = refused{o.GetGeneration(), s.credentialEpoch.Load(), fmt.Errorf("refused by the data plane: %w", pe.Err)}
			break
		}
	}
	if added {
		s.poke()
	}
	return added
}

// objectOf returns an empty object of kind, among the kinds watched.
func (s *Source) objectOf(kind string) (client.Object, error) {
	for _, l := range s.lists {
		o, err := itemOf(s.scheme, l)
		if err != nil {
			return nil, err
		}
		gvk, err := apiutil.GVKForObject(o, s.scheme)
		if err == nil && gvk.Kind == kind {
			return o, nil
		}
	}
	return nil, fmt.Errorf("kind %s is not watched", kind)
}

// refuse files the refusals that still hold for objs in set, and forgets
// those of objects that changed or are gone.
func (s *Source) refuse(set *standalone.Set, objs []client.Object) {
	s.refusedMu.Lock()
	defer s.refusedMu.Unlock()
	if len(s.refused) == 0 {
		return
	}
	current := map[objectRef]int64{}
	for _, o := range objs {
		gvk, err := apiutil.GVKForObject(o, s.scheme)
		if err != nil {
			continue
		}
		ref := objectRef{gvk.Kind, o.GetNamespace(), o.GetName()}
		if _, ok := s.refused[ref]; ok {
			current[ref] = o.GetGeneration()
		}
	}
	epoch := s.credentialEpoch.Load()
	for ref, r := range s.refused {
		if g, ok := current[ref]; !ok || g != r.generation || epoch != r.credentialEpoch {
			delete(s.refused, ref) // changed, gone, or its Secrets may have: try it again
			continue
		}
		set.Refuse(ref.kind, ref.namespace, ref.name, r.err)
	}
}

// New returns a source on the API server cfg reaches. Kinds the server
// does not serve (a CRD not installed) are left out, with a log line.
func New(cfg *rest.Config, opts Options) (*Source, error) {
	if opts.ControllerName == "" {
		opts.ControllerName = DefaultControllerName
	}
	if opts.Debounce <= 0 {
		opts.Debounce = 100 * time.Millisecond
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	scheme, err := NewScheme()
	if err != nil {
		return nil, err
	}
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	mapper, err := apiutil.NewDynamicRESTMapper(cfg, hc)
	if err != nil {
		return nil, fmt.Errorf("kubernetes discovery: %w", err)
	}
	// The cache holds every watched object of the cluster: it keeps only
	// what the compiler reads (no managed fields; of a Pod, its labels,
	// container ports and readiness; of Helm's release Secrets, no data).
	c, err := cache.New(cfg, cache.Options{Scheme: scheme, Mapper: mapper, HTTPClient: hc,
		DefaultTransform: cache.TransformStripManagedFields(),
		ByObject:         map[client.Object]cache.ByObject{&corev1.Pod{}: {Transform: trimPod}, &corev1.Secret{}: {Transform: trimSecret}}})
	if err != nil {
		return nil, fmt.Errorf("kubernetes cache: %w", err)
	}
	s := &Source{opts: opts, scheme: scheme, cache: c, changed: make(chan struct{}, 1), out: make(chan struct{}, 1),
		dirty: map[string]standalone.PoolPods{}, endpoints: make(chan struct{}, 1)}
	for _, l := range watched() {
		gvk, err := apiutil.GVKForObject(l, scheme)
		if err != nil {
			return nil, err
		}
		gvk.Kind = strings.TrimSuffix(gvk.Kind, "List")
		if _, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version); err != nil {
			if meta.IsNoMatchError(err) {
				opts.Logger.Info("kubernetes: kind not served by the API server; not watched", "kind", gvk.String())
				continue
			}
			return nil, fmt.Errorf("kubernetes discovery of %s: %w", gvk, err)
		}
		s.lists = append(s.lists, l)
	}
	return s, nil
}

// Start runs the informers until ctx ends and waits until their caches
// have synced.
func (s *Source) Start(ctx context.Context) error {
	began := time.Now()
	go func() {
		if err := s.cache.Start(ctx); err != nil {
			s.opts.Logger.Error("kubernetes: the watch stopped", "error", err)
		}
	}()
	notify := toolscache.ResourceEventHandlerDetailedFuncs{
		AddFunc: func(_ any, initialList bool) {
			if !initialList { // the informer's replay of its cache, which loads read
				s.poke()
			}
		},
		UpdateFunc: func(o, n any) {
			if compiledChange(o, n) {
				s.poke()
			}
		},
		DeleteFunc: func(any) { s.poke() },
	}
	for _, l := range s.lists {
		obj, err := itemOf(s.scheme, l)
		if err != nil {
			return err
		}
		inf, err := s.cache.GetInformer(ctx, obj)
		if err != nil {
			return fmt.Errorf("kubernetes informer: %w", err)
		}
		var handler toolscache.ResourceEventHandler = notify
		switch obj.(type) {
		case *corev1.Pod:
			handler = s.podHandler()
		case *corev1.Secret, *corev1.ConfigMap:
			handler = credentialHandler(notify, &s.credentialEpoch)
		}
		if _, err := inf.AddEventHandler(handler); err != nil {
			return fmt.Errorf("kubernetes informer: %w", err)
		}
	}
	informed := time.Since(began)
	if !s.cache.WaitForCacheSync(ctx) {
		return fmt.Errorf("kubernetes: the caches did not sync: %w", context.Cause(ctx))
	}
	s.opts.Logger.Info("kubernetes: caches synced", "kinds", len(s.lists), "informers_after", informed.Round(time.Millisecond), "synced_after", time.Since(began).Round(time.Millisecond))
	go s.debounce(ctx)
	return nil
}

// credentialHandler is notify that also counts the changes in epoch.
func credentialHandler(notify toolscache.ResourceEventHandlerDetailedFuncs, epoch *atomic.Int64) toolscache.ResourceEventHandler {
	return toolscache.ResourceEventHandlerDetailedFuncs{
		AddFunc: func(o any, initialList bool) {
			if !initialList {
				epoch.Add(1)
			}
			notify.AddFunc(o, initialList)
		},
		UpdateFunc: func(o, n any) {
			if compiledChange(o, n) {
				epoch.Add(1)
			}
			notify.UpdateFunc(o, n)
		},
		DeleteFunc: func(o any) {
			epoch.Add(1)
			notify.DeleteFunc(o)
		},
	}
}

// compiledChange reports whether an update may change what the compiler
// reads: not a resync, and not a write of the status alone (which leaves
// metadata.generation, labels and annotations as they were), such as the
// status writer's own.
func compiledChange(o, n any) bool {
	a, ok := o.(client.Object)
	b, ok2 := n.(client.Object)
	if !ok || !ok2 {
		return true
	}
	if a.GetResourceVersion() == b.GetResourceVersion() {
		return false
	}
	if a.GetGeneration() == 0 || a.GetGeneration() != b.GetGeneration() { // kinds without generation: any change
		return true
	}
	return !maps.Equal(a.GetLabels(), b.GetLabels()) || !maps.Equal(a.GetAnnotations(), b.GetAnnotations()) ||
		!a.GetDeletionTimestamp().Equal(b.GetDeletionTimestamp())
}

// podHandler classifies Pod changes: one that a compilation read through
// a Service recompiles, one of a pool's Pods only refreshes that pool's
// endpoints (no compilation), and any other is ignored.
func (s *Source) podHandler() toolscache.ResourceEventHandler {
	return toolscache.ResourceEventHandlerDetailedFuncs{
		AddFunc: func(o any, initialList bool) {
			if !initialList { // the informer's replay of what its cache holds, which loads read
				s.podChanged(nil, podOf(o))
			}
		},
		UpdateFunc: func(o, n any) {
			old, new := podOf(o), podOf(n)
			if old != nil && new != nil && old.ResourceVersion == new.ResourceVersion {
				return // a resync
			}
			s.podChanged(old, new)
		},
		DeleteFunc: func(o any) { s.podChanged(podOf(o), nil) },
	}
}

// podOf is the Pod of an informer's event object, nil if none.
func podOf(o any) *corev1.Pod {
	if d, ok := o.(toolscache.DeletedFinalStateUnknown); ok {
		o = d.Obj
	}
	p, _ := o.(*corev1.Pod)
	return p
}

func (s *Source) podChanged(old, new *corev1.Pod) {
	sel := s.selection.Load()
	if sel == nil {
		if !s.loading.Load() {
			return // the first load reads the cache, this change included
		}
		s.opts.Logger.Debug("kubernetes: a Pod changed before a configuration is in force: compiling")
		s.poke()
		return
	}
	compile, pools := sel.Affects(old, new)
	if compile {
		s.opts.Logger.Debug("kubernetes: a Pod a Service resolves to changed: compiling")
		s.poke()
		return
	}
	if len(pools) == 0 {
		return
	}
	s.mu.Lock()
	for _, p := range pools {
		s.dirty[p.Pool] = *p
	}
	s.mu.Unlock()
	select {
	case s.endpoints <- struct{}{}:
	default:
	}
}

// EndpointChanges signals when pools' endpoints changed (Pods became
// ready or not, came or went) without anything else to compile; read them
// with [Source.PoolEndpoints].
func (s *Source) EndpointChanges() <-chan struct{} { return s.endpoints }

// PoolEndpoints returns the current endpoints of the pools whose Pods
// changed since the last call, by pool name ("namespace/name"), as a
// compilation would make them.
func (s *Source) PoolEndpoints(ctx context.Context) map[string][]config.PoolEndpoint {
	s.mu.Lock()
	dirty := s.dirty
	s.dirty = map[string]standalone.PoolPods{}
	s.mu.Unlock()
	out := make(map[string][]config.PoolEndpoint, len(dirty))
	for name, p := range dirty {
		var list corev1.PodList
		if err := s.cache.List(ctx, &list, client.InNamespace(p.Namespace), client.MatchingLabels(p.Selector)); err != nil {
			s.opts.Logger.Warn("kubernetes: listing a pool's Pods; its endpoints wait for the next change", "pool", name, "error", err)
			continue
		}
		pods := make([]*corev1.Pod, len(list.Items))
		for i := range list.Items {
			pods[i] = &list.Items[i]
		}
		out[name] = p.Endpoints(pods)
	}
	return out
}

func (s *Source) poke() {
	select {
	case s.changed <- struct{}{}:
	default:
	}
}

// debounce turns changes into signals on Changes: the first after a quiet
// interval soon (after a tenth of the interval, which gathers the objects
// of one `kubectl apply`), then at most one per interval while changes
// keep coming, each gathering what came meanwhile.
func (s *Source) debounce(ctx context.Context) {
	var last time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.changed:
		}
		wait := max(s.opts.Debounce/10, s.opts.Debounce-time.Since(last))
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		last = time.Now()
		select {
		case s.out <- struct{}{}:
		default:
		}
	}
}

// Changes signals, at most every debounce interval, that the watched
// resources changed since the last Load.
func (s *Source) Changes() <-chan struct{} { return s.out }

// Load compiles the resources the caches hold now: Gateways of our
// GatewayClasses, the HTTPRoutes attached to them, and every other kind
// the compiler reads. A resource with errors is left out and the rest
// compiled (Result.Skipped lists the errors), as a controller reports a
// broken resource and serves the others; except a broken client policy
// (SecurityPolicy, BackendTrafficPolicy, ClientTrafficPolicy), which
// fails the load: skipping it would leave its routes open or unlimited.
func (s *Source) Load(ctx context.Context) (*standalone.Result, error) {
	s.loading.Store(true) // before the cache is read: later Pod changes are not in this load
	set := standalone.NewClusterSet()
	if err := s.fill(ctx, set); err != nil {
		return &standalone.Result{}, err
	}
	cfg, warnings, skipped := set.CompileValid()
	res := &standalone.Result{Config: cfg, Warnings: warnings, Skipped: skipped, Pods: set.PodSelection()}
	defer func() {
		if res.Config != nil {
			s.mu.Lock()
			s.pending.cfg, s.pending.pods = res.Config, res.Pods
			s.mu.Unlock()
		}
	}()
	var guarding []error
	for _, err := range skipped {
		var e *standalone.Error
		if errors.As(err, &e) && guardingKinds[e.Source.Kind] {
			guarding = append(guarding, err)
		}
	}
	switch {
	case cfg == nil:
		res.Config = nil
		return res, errors.Join(skipped...)
	case len(guarding) > 0 && s.selection.Load() == nil:
		// Nothing serves yet, so there is no running configuration to
		// keep: start closed (the Gateways' listeners, no route), report,
		// and serve the routes once the policy is fixed, instead of
		// exiting and taking every replica down with it.
		s.opts.Logger.Error("kubernetes: a client policy cannot be enforced: serving no route until it is fixed", "error", errors.Join(guarding...).Error())
		res.Config = closed(cfg)
		s.closedConfig.Store(res.Config)
		return res, nil
	case len(guarding) > 0:
		res.Config = nil
		return res, errors.Join(guarding...)
	}
	return res, nil
}

// closed is cfg without its routes and what only they use: its listeners
// answer every request 404 and reach no upstream.
func closed(cfg *config.Config) *config.Config {
	out := &config.Config{Version: cfg.Version}
	for _, g := range cfg.Gateways {
		out.Gateways = append(out.Gateways, config.Gateway{Name: g.Name, Listeners: g.Listeners, Client: g.Client, MaxRequestBodyBytes: g.MaxRequestBodyBytes})
	}
	return out
}

// Serving tells the source that the data plane now runs cfg, a
// configuration [Source.Load] returned: the Pods its compilation read
// classify Pod changes from now on.
func (s *Source) Serving(cfg *config.Config) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if cfg != nil && s.pending.cfg == cfg {
		pods := s.pending.pods
		s.selection.Store(&pods)
		// The compilation read the Pods when it began; a Pod that changed
		// since was classified against the previous selection. Every pool
		// of this one is read again from the cache, after this
		// configuration (the caller serializes the two), so the newest
		// Pods win.
		s.dirty = make(map[string]standalone.PoolPods, len(pods.Pools))
		for _, p := range pods.Pools {
			s.dirty[p.Pool] = p
		}
		if len(pods.Pools) > 0 {
			select {
			case s.endpoints <- struct{}{}:
			default:
			}
		}
	}
	s.pending.cfg = nil
}

// ourClasses returns the names of the GatewayClasses that name our
// controller.
func (s *Source) ourClasses(ctx context.Context) map[string]bool {
	var list gwapiv1.GatewayClassList
	if err := s.cache.List(ctx, &list); err != nil {
		return map[string]bool{}
	}
	return s.classesOf(&list)
}

// classesOf returns the names of the classes of list that name our
// controller.
func (s *Source) classesOf(list *gwapiv1.GatewayClassList) map[string]bool {
	classes := map[string]bool{}
	for _, gc := range list.Items {
		if string(gc.Spec.ControllerName) == s.opts.ControllerName {
			classes[gc.Name] = true
		}
	}
	return classes
}

// ours reports whether gw is served here: its GatewayClass is one of
// classes (ours), and it is one of Options.Gateways when those are set.
func (s *Source) ours(gw *gwapiv1.Gateway, classes map[string]bool) bool {
	return classes[string(gw.Spec.GatewayClassName)] && s.narrowedTo(gw.Namespace, gw.Name)
}

// narrowedTo reports whether the Gateway namespace/name is among those
// this source may serve: any, unless Options.Gateways narrows them.
func (s *Source) narrowedTo(namespace, name string) bool {
	return len(s.opts.Gateways) == 0 || slices.Contains(s.opts.Gateways, namespace+"/"+name)
}

// guardingKinds are the policies whose errors fail a load: what they
// guard would otherwise be served without them.
var guardingKinds = map[string]bool{"SecurityPolicy": true, "BackendTrafficPolicy": true, "ClientTrafficPolicy": true}

// fill adds the cached objects the compiler reads to set, in a stable
// order.
func (s *Source) fill(ctx context.Context, set *standalone.Set) error {
	var classes map[string]bool
	var gateways []gwapiv1.Gateway
	var objs []client.Object
	for _, l := range s.lists {
		list := l.DeepCopyObject().(client.ObjectList)
		if err := s.cache.List(ctx, list); err != nil {
			return fmt.Errorf("kubernetes: listing %T: %w", list, err)
		}
		switch l := list.(type) {
		case *gwapiv1.GatewayClassList:
			classes = s.classesOf(l)
			continue
		case *gwapiv1.GatewayList:
			gateways = l.Items
			continue
		}
		items, err := meta.ExtractList(list)
		if err != nil {
			return err
		}
		start := len(objs)
		for _, it := range items {
			objs = append(objs, it.(client.Object))
		}
		// Informers list in no order; the compiler's diagnostics and
		// tie-breaks should not change between two loads.
		slices.SortFunc(objs[start:], func(a, b client.Object) int {
			return cmp.Or(strings.Compare(a.GetNamespace(), b.GetNamespace()), strings.Compare(a.GetName(), b.GetName()))
		})
	}
	served := map[[2]string]bool{}
	slices.SortFunc(gateways, func(a, b gwapiv1.Gateway) int {
		return cmp.Or(strings.Compare(a.Namespace, b.Namespace), strings.Compare(a.Name, b.Name))
	})
	for i := range gateways {
		gw := &gateways[i]
		if s.ours(gw, classes) {
			if err := s.add(set, gw); err != nil {
				return err
			}
			served[[2]string{gw.Namespace, gw.Name}] = true
		}
	}
	s.refuse(set, objs)
	for _, o := range objs {
		switch r := o.(type) {
		case *gwapiv1.HTTPRoute:
			if !s.attached(r.Namespace, r.Spec.ParentRefs, served) {
				continue // another controller's route, or other replicas'
			}
		case *aigv1b1.AIGatewayRoute:
			if !s.attached(r.Namespace, r.Spec.ParentRefs, served) {
				continue
			}
		}
		if err := s.add(set, o); err != nil {
			return err
		}
	}
	return nil
}

// add files o, a copy the set may keep, in set under its apiVersion and
// kind, without the server's bookkeeping (managed fields).
func (s *Source) add(set *standalone.Set, o client.Object) error {
	gvk, err := apiutil.GVKForObject(o, s.scheme)
	if err != nil {
		return err
	}
	o.SetManagedFields(nil) // o is the cache's copy for this load (List deep-copies)
	set.Add(gvk.GroupVersion().String(), gvk.Kind, o)
	return nil
}

// attached reports whether a route of namespace with parents refs names one
// of the served Gateways as parent. A route without parents (which the
// compiler attaches to the one Gateway) is attached unless the source
// serves only some Gateways.
func (s *Source) attached(namespace string, refs []gwapiv1.ParentReference, served map[[2]string]bool) bool {
	if len(refs) == 0 {
		return len(s.opts.Gateways) == 0
	}
	for _, p := range refs {
		if (p.Kind != nil && *p.Kind != "Gateway") || (p.Group != nil && *p.Group != gwapiv1.GroupName) {
			continue
		}
		ns := namespace
		if p.Namespace != nil {
			ns = string(*p.Namespace)
		}
		if served[[2]string{ns, string(p.Name)}] {
			return true
		}
	}
	return false
}

// itemOf returns an empty object of l's item kind.
func itemOf(scheme *runtime.Scheme, l client.ObjectList) (client.Object, error) {
	gvk, err := apiutil.GVKForObject(l, scheme)
	if err != nil {
		return nil, err
	}
	gvk.Kind = strings.TrimSuffix(gvk.Kind, "List")
	o, err := scheme.New(gvk)
	if err != nil {
		return nil, err
	}
	return o.(client.Object), nil
}

// helmReleaseSecret is the type of the Secrets Helm keeps each release's
// manifests in: the largest Secrets of most clusters (up to 1 MiB each,
// one per revision), and never a credential.
const helmReleaseSecret corev1.SecretType = "helm.sh/release.v1"

// trimSecret drops the managed fields of a Secret, and the data of Helm's
// release Secrets.
func trimSecret(obj any) (any, error) {
	s, ok := obj.(*corev1.Secret)
	if !ok {
		return obj, nil
	}
	s.ManagedFields = nil
	if s.Type == helmReleaseSecret {
		s.Data, s.StringData = nil, nil
	}
	return s, nil
}

// trimPod keeps of a Pod what the compiler and the endpoint fast path
// read: its identity, labels and annotations, deletion, container ports
// (named Service target ports), phase, IPs and conditions. A Pod's spec
// (environment, volumes, …) is most of its size.
func trimPod(obj any) (any, error) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return obj, nil
	}
	out := &corev1.Pod{TypeMeta: pod.TypeMeta, ObjectMeta: metav1.ObjectMeta{
		Name: pod.Name, Namespace: pod.Namespace, UID: pod.UID, ResourceVersion: pod.ResourceVersion, Generation: pod.Generation,
		Labels: pod.Labels, Annotations: pod.Annotations, DeletionTimestamp: pod.DeletionTimestamp, CreationTimestamp: pod.CreationTimestamp,
	}, Status: corev1.PodStatus{Phase: pod.Status.Phase, Conditions: pod.Status.Conditions, PodIP: pod.Status.PodIP, PodIPs: pod.Status.PodIPs}}
	for _, c := range pod.Spec.Containers {
		if len(c.Ports) > 0 {
			out.Spec.Containers = append(out.Spec.Containers, corev1.Container{Name: c.Name, Ports: c.Ports})
		}
	}
	return out, nil
}
