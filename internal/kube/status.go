package kube

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gaiev1 "sigs.k8s.io/gateway-api-inference-extension/api/v1"
	gwapiv1 "sigs.k8s.io/gateway-api/apis/v1"

	aigv1b1 "github.com/aigw-dev/aigw/api/v1beta1"
	"github.com/aigw-dev/aigw/internal/standalone"
)

// The conditions of the aigateway.envoyproxy.io kinds, as Envoy AI
// Gateway sets them: one, Accepted (True) or NotAccepted (False, the
// errors in its message).
const (
	ConditionAccepted    = "Accepted"
	ConditionNotAccepted = "NotAccepted"
)

// maxConditionMessage bounds a condition's message (the API server's own
// bound is 32 KiB).
const maxConditionMessage = 4096

// Status writes the outcome of each compilation into the status of the
// resources compiled, from the one replica that holds the leader Lease
// (every replica serves). Writes are merge patches of the status, skipped
// when the conditions are already there, so an unchanged cluster sees no
// writes; a failed write is retried.
type Status struct {
	src     *Source
	client  client.Client
	leading atomic.Bool
	mu      sync.Mutex
	last    *standalone.Result
	// unbound are the listeners the data plane could not serve, by name
	// ("namespace/gateway/listener"): why.
	unbound map[string]string
	// refusal is why the data plane refused last's configuration; nil
	// when it serves it.
	refusal error
	wake    chan struct{}
}

// StatusOptions configure [Source.StartStatus].
type StatusOptions struct {
	// LeaseNamespace and LeaseName name the coordination.k8s.io Lease the
	// replicas elect the status writer with; "" means $POD_NAMESPACE (else
	// "default") and "aigw-status", followed by a hash of the Gateways when
	// the source serves only some (replicas serving others elect their
	// own writer).
	LeaseNamespace, LeaseName string
	// Identity is this replica's name in the Lease and the field manager
	// of its status writes; "" means $POD_NAME, else the host name and a
	// random suffix.
	Identity string
	// LeaseDuration is how long a dead leader holds the Lease; 0 means 15s.
	LeaseDuration time.Duration
}

// StartStatus starts competing for the status writer's Lease until ctx
// ends; [Status.Report] hands it each compilation.
func (s *Source) StartStatus(ctx context.Context, cfg *rest.Config, opts StatusOptions) (*Status, error) {
	if opts.LeaseNamespace == "" {
		opts.LeaseNamespace = os.Getenv("POD_NAMESPACE")
		if opts.LeaseNamespace == "" {
			opts.LeaseNamespace = "default"
		}
	}
	if opts.LeaseName == "" {
		opts.LeaseName = "aigw-status"
		if len(s.opts.Gateways) > 0 {
			names := slices.Sorted(slices.Values(s.opts.Gateways))
			sum := sha256.Sum256([]byte(strings.Join(names, ",")))
			opts.LeaseName += "-" + hex.EncodeToString(sum[:5])
		}
	}
	if opts.Identity == "" {
		opts.Identity = os.Getenv("POD_NAME")
	}
	if opts.Identity == "" {
		host, _ := os.Hostname()
		opts.Identity = fmt.Sprintf("%s-%08x", host, rand.Uint32())
	}
	if opts.LeaseDuration <= 0 {
		opts.LeaseDuration = 15 * time.Second
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	lock, err := resourcelock.New(resourcelock.LeasesResourceLock, opts.LeaseNamespace, opts.LeaseName, cs.CoreV1(), cs.CoordinationV1(),
		resourcelock.ResourceLockConfig{Identity: opts.Identity})
	if err != nil {
		return nil, fmt.Errorf("kubernetes lease: %w", err)
	}
	c, err := client.New(cfg, client.Options{Scheme: s.scheme})
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	// The replica's name as field manager says which one wrote a status.
	st := &Status{src: s, client: client.WithFieldOwner(c, "aigw/"+opts.Identity), wake: make(chan struct{}, 1)}
	le, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
		Lock: lock, LeaseDuration: opts.LeaseDuration, RenewDeadline: opts.LeaseDuration * 2 / 3, RetryPeriod: opts.LeaseDuration / 7,
		ReleaseOnCancel: true, Name: opts.LeaseName,
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(context.Context) {
				s.opts.Logger.Info("kubernetes: this replica writes status", "lease", opts.LeaseNamespace+"/"+opts.LeaseName)
				st.leading.Store(true)
				st.poke()
			},
			OnStoppedLeading: func() { st.leading.Store(false) },
		},
	})
	if err != nil {
		return nil, fmt.Errorf("kubernetes leader election: %w", err)
	}
	go func() {
		for ctx.Err() == nil { // a lost Lease is competed for again
			le.Run(ctx)
		}
	}()
	go st.run(ctx)
	return st, nil
}

// Report hands the status writer a compilation's result, which the data
// plane serves (or, without a configuration, could not load).
func (st *Status) Report(res *standalone.Result) {
	st.mu.Lock()
	st.last, st.refusal = res, nil
	st.mu.Unlock()
	st.poke()
}

// Refused hands the status writer a compilation's result that the data
// plane refused for err, naming no resource the source could leave out:
// the Gateways are reported not Programmed, with err.
func (st *Status) Refused(res *standalone.Result, err error) {
	st.mu.Lock()
	st.last, st.refusal = res, err
	st.mu.Unlock()
	st.poke()
}

// ListenerFailures hands the status writer the listeners the data plane
// could not start or update (by name, "namespace/gateway/listener": why);
// they are reported Accepted=False, PortUnavailable, until a later
// configuration serves them.
func (st *Status) ListenerFailures(failed map[string]string) {
	st.mu.Lock()
	changed := !maps.Equal(st.unbound, failed)
	st.unbound = failed
	st.mu.Unlock()
	if changed {
		st.poke()
	}
}

func (st *Status) poke() {
	select {
	case st.wake <- struct{}{}:
	default:
	}
}

func (st *Status) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-st.wake:
		}
		st.mu.Lock()
		res, unbound, refusal := st.last, st.unbound, st.refusal
		st.mu.Unlock()
		if res == nil || !st.leading.Load() {
			continue
		}
		if err := st.write(ctx, res, unbound, refusal); err != nil && ctx.Err() == nil {
			level := slog.LevelWarn
			if apierrors.IsConflict(err) {
				level = slog.LevelDebug // another writer's update came first: the usual race
			}
			st.src.opts.Logger.Log(ctx, level, "kubernetes: writing status; retrying in a second", "error", err)
			time.AfterFunc(time.Second, st.poke)
		}
	}
}

// write sets the condition of every resource of the kinds with status
// that res speaks of.
func (st *Status) write(ctx context.Context, res *standalone.Result, unbound map[string]string, refusal error) error {
	problems := map[string][]string{}          // "Kind ns/name" → its errors
	noParent := map[string]map[string]string{} // HTTPRoutes ("ns/name"): their parentRefs naming no listener (field: why)
	conflicts := map[string][]listenerConflict{}
	for _, err := range res.Skipped {
		var e *standalone.Error
		if !errors.As(err, &e) || e.Source.Kind == "" {
			continue
		}
		key := e.Source.Kind + " " + e.Source.Namespace + "/" + e.Source.Name
		if e.Source.Kind == "Gateway" && (e.Reason == standalone.ReasonHostnameConflict || e.Reason == standalone.ReasonProtocolConflict) {
			// One listener left out; the Gateway's others are served.
			conflicts[key] = append(conflicts[key], listenerConflict{field: e.Field, reason: gwapiv1.ListenerConditionReason(e.Reason), message: e.Err.Error()})
			continue
		}
		if e.Source.Kind == "HTTPRoute" && e.Reason == standalone.ReasonNoMatchingParent {
			// That parent's condition; the route may be served by others.
			route := e.Source.Namespace + "/" + e.Source.Name
			if noParent[route] == nil {
				noParent[route] = map[string]string{}
			}
			noParent[route][e.Field] = e.Err.Error()
			continue
		}
		msg := e.Err.Error()
		if e.Field != "" {
			msg = e.Field + ": " + msg
		}
		problems[key] = append(problems[key], msg)
	}
	// Gateway API keeps a route whose backend reference does not resolve
	// (its requests get 503): a warning, reported as ResolvedRefs=False.
	unresolved := map[string][]string{}
	unresolvedReason := map[string]gwapiv1.RouteConditionReason{} // the weightiest reason of each route's
	for _, w := range res.Warnings {
		reason, ok := refReasons[w.Reason]
		if w.Source.Kind != "HTTPRoute" || !ok {
			continue
		}
		key := w.Source.Namespace + "/" + w.Source.Name
		unresolved[key] = append(unresolved[key], w.Field+": "+w.Message)
		if old, seen := unresolvedReason[key]; !seen || refReasonWeight[reason] > refReasonWeight[old] {
			unresolvedReason[key] = reason
		}
	}
	var errs []error
	var gateways gwapiv1.GatewayList
	if err := st.src.cache.List(ctx, &gateways); err != nil {
		return err
	}
	classes := st.src.ourClasses(ctx)
	served := map[[2]string]bool{}
	for i := range gateways.Items {
		if gw := &gateways.Items[i]; st.src.ours(gw, classes) {
			served[[2]string{gw.Namespace, gw.Name}] = true
		}
	}
	for _, k := range []struct {
		kind string
		list client.ObjectList
	}{{"AIGatewayRoute", &aigv1b1.AIGatewayRouteList{}}, {"AIServiceBackend", &aigv1b1.AIServiceBackendList{}}, {"BackendSecurityPolicy", &aigv1b1.BackendSecurityPolicyList{}}} {
		kind, list := k.kind, k.list
		if err := st.src.cache.List(ctx, list); err != nil {
			errs = append(errs, err)
			continue
		}
		items, err := meta.ExtractList(list)
		if err != nil {
			return err
		}
		for _, it := range items {
			o := it.(client.Object)
			if r, ok := o.(*aigv1b1.AIGatewayRoute); ok && !st.src.attached(r.Namespace, r.Spec.ParentRefs, served) {
				continue // another controller's route, or other replicas'
			}
			cond := metav1.Condition{Type: ConditionAccepted, Status: metav1.ConditionTrue, Reason: ConditionAccepted,
				Message: "compiled and served", ObservedGeneration: o.GetGeneration()}
			if p := problems[kind+" "+o.GetNamespace()+"/"+o.GetName()]; len(p) > 0 {
				cond = metav1.Condition{Type: ConditionNotAccepted, Status: metav1.ConditionFalse, Reason: ConditionNotAccepted,
					Message: bound(strings.Join(p, "; ")), ObservedGeneration: o.GetGeneration()}
			}
			if err := st.setCondition(ctx, o, cond); err != nil {
				errs = append(errs, err)
			}
		}
	}
	var routes gwapiv1.HTTPRouteList
	if err := st.src.cache.List(ctx, &routes); err != nil {
		errs = append(errs, err)
	}
	poolParents := map[[2]string][]gwapiv1.ParentReference{} // pool → our Gateways that route to it
	addParents := func(ns string, pool gwapiv1.ObjectName, poolNS *gwapiv1.Namespace, parents []gwapiv1.ParentReference, routeNS string) {
		if poolNS != nil {
			ns = string(*poolNS)
		}
		key := [2]string{ns, string(pool)}
		for _, p := range parents {
			pns := routeNS
			if p.Namespace != nil {
				pns = string(*p.Namespace)
			}
			if !served[[2]string{pns, string(p.Name)}] {
				continue
			}
			ref := gwapiv1.ParentReference{Name: p.Name, Namespace: ptrTo(gwapiv1.Namespace(pns))}
			if !slices.ContainsFunc(poolParents[key], func(q gwapiv1.ParentReference) bool { return sameParent(q, ref) }) {
				poolParents[key] = append(poolParents[key], ref)
			}
		}
	}
	for i := range routes.Items {
		r := &routes.Items[i]
		if !st.src.attached(r.Namespace, r.Spec.ParentRefs, served) {
			continue
		}
		for _, rule := range r.Spec.Rules {
			for _, b := range rule.BackendRefs {
				if b.Kind != nil && *b.Kind == "InferencePool" && b.Group != nil && *b.Group == gaiev1.GroupName {
					addParents(r.Namespace, b.Name, b.Namespace, r.Spec.ParentRefs, r.Namespace)
				}
			}
		}
		key := r.Namespace + "/" + r.Name
		verdict := routeVerdict{problems: problems["HTTPRoute "+key], noParent: noParent[key], unresolved: unresolved[key], reason: unresolvedReason[key]}
		if err := st.setRouteParents(ctx, r, served, verdict); err != nil {
			errs = append(errs, err)
		}
	}
	// AIGatewayRoutes reach pools directly or through AIServiceBackends.
	var aiRoutes aigv1b1.AIGatewayRouteList
	var aiBackends aigv1b1.AIServiceBackendList
	if err := errors.Join(st.src.cache.List(ctx, &aiRoutes), st.src.cache.List(ctx, &aiBackends)); err != nil {
		errs = append(errs, err)
	}
	backendPools := map[[2]string]aigv1b1.AIServiceBackend{}
	for _, b := range aiBackends.Items {
		backendPools[[2]string{b.Namespace, b.Name}] = b
	}
	for _, r := range aiRoutes.Items {
		for _, rule := range r.Spec.Rules {
			for _, b := range rule.BackendRefs {
				if b.Kind != nil && *b.Kind == "InferencePool" {
					addParents(r.Namespace, gwapiv1.ObjectName(b.Name), nil, r.Spec.ParentRefs, r.Namespace)
					continue
				}
				sb, ok := backendPools[[2]string{r.Namespace, b.Name}]
				if ref := sb.Spec.BackendRef; ok && ref.Kind != nil && *ref.Kind == "InferencePool" {
					addParents(sb.Namespace, ref.Name, ref.Namespace, r.Spec.ParentRefs, r.Namespace)
				}
			}
		}
	}
	var pools gaiev1.InferencePoolList
	if err := st.src.cache.List(ctx, &pools); err != nil {
		errs = append(errs, err)
	}
	for i := range pools.Items {
		p := &pools.Items[i]
		key := [2]string{p.Namespace, p.Name}
		errsOf, picker := poolProblems(res, p.Namespace, p.Name)
		if err := st.setPoolParents(ctx, p, poolParents[key], [2][]string{errsOf, picker}); err != nil {
			errs = append(errs, err)
		}
	}
	var gatewayClasses gwapiv1.GatewayClassList
	if err := st.src.cache.List(ctx, &gatewayClasses); err != nil {
		errs = append(errs, err)
	}
	for i := range gatewayClasses.Items {
		if gc := &gatewayClasses.Items[i]; classes[gc.Name] {
			if err := st.setGatewayClassStatus(ctx, gc); err != nil {
				errs = append(errs, err)
			}
		}
	}
	// Routes attached to each listener: HTTPRoutes, and AIGatewayRoutes (as
	// the HTTPRoutes Envoy AI Gateway generates for them).
	attached := map[[3]string]int32{}
	count := func(ns string, refs []gwapiv1.ParentReference) {
		for _, ref := range refs {
			pns := ns
			if ref.Namespace != nil {
				pns = string(*ref.Namespace)
			}
			section := ""
			if ref.SectionName != nil {
				section = string(*ref.SectionName)
			}
			attached[[3]string{pns, string(ref.Name), section}]++
		}
	}
	for _, r := range routes.Items {
		count(r.Namespace, r.Spec.ParentRefs)
	}
	for _, r := range aiRoutes.Items {
		count(r.Namespace, r.Spec.ParentRefs)
	}
	for i := range gateways.Items {
		gw := &gateways.Items[i]
		if !st.src.ours(gw, classes) {
			continue // another controller's, or other replicas'
		}
		routesOf := func(listener string) int32 {
			return attached[[3]string{gw.Namespace, gw.Name, ""}] + attached[[3]string{gw.Namespace, gw.Name, listener}]
		}
		key := "Gateway " + gw.Namespace + "/" + gw.Name
		v := gatewayVerdict{problems: problems[key], conflicts: conflicts[key]}
		switch {
		case refusal != nil:
			v.notServed = "the data plane refused the configuration (" + refusal.Error() + "): it serves the previous one"
		case len(v.problems) > 0: // left out of the configuration served
			v.notServed = "not served: the Gateway is not accepted"
		case res.Config == nil || st.src.closedConfig.Load() == res.Config:
			v.notServed = rejectedMessage
		}
		if err := st.setGatewayStatus(ctx, gw, v, routesOf, unbound); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// setCondition makes cond the object's one condition, unless it already
// is (the transition time aside).
func (st *Status) setCondition(ctx context.Context, o client.Object, cond metav1.Condition) error {
	conds := conditionsOf(o)
	if conds == nil {
		return nil
	}
	if len(*conds) == 1 && sameCondition((*conds)[0], cond) {
		return nil
	}
	next := o.DeepCopyObject().(client.Object)
	conds = conditionsOf(next)
	cond.LastTransitionTime = metav1.Now()
	*conds = []metav1.Condition{cond}
	return st.client.Status().Patch(ctx, next, client.MergeFrom(o))
}

func conditionsOf(o client.Object) *[]metav1.Condition {
	switch o := o.(type) {
	case *aigv1b1.AIGatewayRoute:
		return &o.Status.Conditions
	case *aigv1b1.AIServiceBackend:
		return &o.Status.Conditions
	case *aigv1b1.BackendSecurityPolicy:
		return &o.Status.Conditions
	}
	return nil
}

// setGatewayClassStatus accepts a GatewayClass that names our controller,
// unless it already says so.
func (st *Status) setGatewayClassStatus(ctx context.Context, gc *gwapiv1.GatewayClass) error {
	next := gc.DeepCopy()
	setConditions(&next.Status.Conditions, metav1.Condition{Type: string(gwapiv1.GatewayClassConditionStatusAccepted), Status: metav1.ConditionTrue,
		Reason: string(gwapiv1.GatewayClassReasonAccepted), Message: "handled by " + st.src.opts.ControllerName, ObservedGeneration: gc.Generation})
	if equality.Semantic.DeepEqual(next.Status, gc.Status) {
		return nil
	}
	return st.client.Status().Patch(ctx, next, client.MergeFrom(gc))
}

// listenerConflict is a listener the compiler left out for a conflict:
// field names it ("spec.listeners[i]").
type listenerConflict struct {
	field   string
	reason  gwapiv1.ListenerConditionReason
	message string
}

// gatewayVerdict is what a Gateway's status says: its errors, its
// listeners left out for conflicts, and why it is not served (empty when
// it is).
type gatewayVerdict struct {
	problems  []string
	conflicts []listenerConflict
	notServed string
}

// setGatewayStatus sets a Gateway's Accepted and Programmed conditions,
// its listeners' and its addresses.
func (st *Status) setGatewayStatus(ctx context.Context, gw *gwapiv1.Gateway, v gatewayVerdict, routesOf func(listener string) int32,
	unbound map[string]string) error {
	accepted := metav1.Condition{Type: string(gwapiv1.GatewayConditionAccepted), Status: metav1.ConditionTrue,
		Reason: string(gwapiv1.GatewayReasonAccepted), Message: "accepted by " + st.src.opts.ControllerName, ObservedGeneration: gw.Generation}
	programmed := metav1.Condition{Type: string(gwapiv1.GatewayConditionProgrammed), Status: metav1.ConditionTrue,
		Reason: string(gwapiv1.GatewayReasonProgrammed), Message: "served", ObservedGeneration: gw.Generation}
	switch {
	case len(v.problems) > 0:
		accepted.Status, accepted.Reason, accepted.Message = metav1.ConditionFalse, string(gwapiv1.GatewayReasonInvalid), bound(strings.Join(v.problems, "; "))
	case len(v.conflicts) > 0:
		accepted.Reason, accepted.Message = string(gwapiv1.GatewayReasonListenersNotValid), "accepted; conflicting listeners are not served (see their status)"
	}
	served := v.notServed == ""
	if !served {
		programmed.Status, programmed.Reason, programmed.Message = metav1.ConditionFalse, string(gwapiv1.GatewayReasonInvalid), bound(v.notServed)
	}
	next := gw.DeepCopy()
	setConditions(&next.Status.Conditions, accepted, programmed)
	next.Status.Listeners = listenerStatus(gw, served, v.conflicts, routesOf, unbound)
	next.Status.Addresses = st.src.addressesOf(gw)
	if equality.Semantic.DeepEqual(next.Status, gw.Status) {
		return nil
	}
	return st.client.Status().Patch(ctx, next, client.MergeFrom(gw))
}

// addressesOf are the addresses clients reach gw at, for its status: the
// IP addresses of its spec.addresses (which the listeners bind), else
// Options.Addresses.
func (s *Source) addressesOf(gw *gwapiv1.Gateway) []gwapiv1.GatewayStatusAddress {
	var out []gwapiv1.GatewayStatusAddress
	for _, a := range gw.Spec.Addresses {
		if a.Type == nil || *a.Type == gwapiv1.IPAddressType {
			out = append(out, gwapiv1.GatewayStatusAddress{Type: ptrTo(gwapiv1.IPAddressType), Value: a.Value})
		}
	}
	if len(out) > 0 {
		return out
	}
	for _, a := range s.opts.Addresses {
		typ := gwapiv1.HostnameAddressType
		if _, err := netip.ParseAddr(a); err == nil {
			typ = gwapiv1.IPAddressType
		}
		out = append(out, gwapiv1.GatewayStatusAddress{Type: ptrTo(typ), Value: a})
	}
	return out
}

// setConditions sets each of conds in *list unless it is there already
// (the transition time aside), which keeps the transition times of the
// unchanged ones.
func setConditions(list *[]metav1.Condition, conds ...metav1.Condition) {
	for _, c := range conds {
		if old := meta.FindStatusCondition(*list, c.Type); old == nil || !sameCondition(*old, c) {
			meta.SetStatusCondition(list, c)
		}
	}
}

// listenerStatus is the status of each of gw's listeners, as Gateway API
// defines it: the route kinds it takes, the routes attached to it, and
// Accepted (False for a protocol the gateway does not serve, and
// PortUnavailable for one the data plane could not bind, named in
// unbound), Programmed, Conflicted (True for one left out for a conflict)
// and ResolvedRefs.
func listenerStatus(gw *gwapiv1.Gateway, served bool, conflicts []listenerConflict, routesOf func(listener string) int32, unbound map[string]string) []gwapiv1.ListenerStatus {
	out := make([]gwapiv1.ListenerStatus, 0, len(gw.Spec.Listeners))
	for i, l := range gw.Spec.Listeners {
		ls := gwapiv1.ListenerStatus{Name: l.Name, SupportedKinds: []gwapiv1.RouteGroupKind{}}
		for _, old := range gw.Status.Listeners {
			if old.Name == l.Name {
				ls.Conditions = slices.Clone(old.Conditions) // never edit the cache's object
			}
		}
		cond := func(t gwapiv1.ListenerConditionType, ok bool, reason gwapiv1.ListenerConditionReason, msg string) metav1.Condition {
			status := metav1.ConditionTrue
			if !ok {
				status = metav1.ConditionFalse
			}
			return metav1.Condition{Type: string(t), Status: status, Reason: string(reason), Message: msg, ObservedGeneration: gw.Generation}
		}
		http := l.Protocol == gwapiv1.HTTPProtocolType || l.Protocol == gwapiv1.HTTPSProtocolType
		accepted := cond(gwapiv1.ListenerConditionAccepted, true, gwapiv1.ListenerReasonAccepted, "accepted")
		programmed := cond(gwapiv1.ListenerConditionProgrammed, served, gwapiv1.ListenerReasonProgrammed, "served")
		if http {
			ls.SupportedKinds = []gwapiv1.RouteGroupKind{{Group: ptrTo(gwapiv1.Group(gwapiv1.GroupName)), Kind: "HTTPRoute"}}
			ls.AttachedRoutes = routesOf(string(l.Name))
		} else {
			accepted = cond(gwapiv1.ListenerConditionAccepted, false, gwapiv1.ListenerReasonUnsupportedProtocol, "the gateway serves HTTP and HTTPS listeners only")
			programmed = cond(gwapiv1.ListenerConditionProgrammed, false, gwapiv1.ListenerReasonInvalid, "not served")
		}
		if !served && http {
			programmed = cond(gwapiv1.ListenerConditionProgrammed, false, gwapiv1.ListenerReasonInvalid, rejectedMessage)
		}
		if why, ok := unbound[gw.Namespace+"/"+gw.Name+"/"+string(l.Name)]; ok && http {
			accepted = cond(gwapiv1.ListenerConditionAccepted, false, gwapiv1.ListenerReasonPortUnavailable, bound(why))
			programmed = cond(gwapiv1.ListenerConditionProgrammed, false, gwapiv1.ListenerReasonInvalid, "not served: "+bound(why))
		}
		conflicted := cond(gwapiv1.ListenerConditionConflicted, false, gwapiv1.ListenerReasonNoConflicts, "no conflicts")
		for _, c := range conflicts {
			if c.field == fmt.Sprintf("spec.listeners[%d]", i) {
				conflicted = cond(gwapiv1.ListenerConditionConflicted, true, c.reason, bound(c.message))
				programmed = cond(gwapiv1.ListenerConditionProgrammed, false, gwapiv1.ListenerReasonInvalid, "not served: conflicted")
			}
		}
		setConditions(&ls.Conditions, accepted, programmed, conflicted,
			cond(gwapiv1.ListenerConditionResolvedRefs, true, gwapiv1.ListenerReasonResolvedRefs, "every reference resolved"))
		out = append(out, ls)
	}
	return out
}

// refReasons are the compiler's reasons for a backend reference that does
// not resolve, as ResolvedRefs reasons; when a route has several, the
// weightiest is reported.
var (
	refReasons = map[string]gwapiv1.RouteConditionReason{
		standalone.ReasonBackendNotFound: gwapiv1.RouteReasonBackendNotFound,
		standalone.ReasonInvalidKind:     gwapiv1.RouteReasonInvalidKind,
		standalone.ReasonRefNotPermitted: gwapiv1.RouteReasonRefNotPermitted,
	}
	refReasonWeight = map[gwapiv1.RouteConditionReason]int{
		gwapiv1.RouteReasonBackendNotFound: 1, gwapiv1.RouteReasonInvalidKind: 2, gwapiv1.RouteReasonRefNotPermitted: 3,
	}
)

// routeVerdict is what the compiler said of an HTTPRoute: its errors, its
// parentRefs that name no listener (by field, "spec.parentRefs[i]": why),
// and its backend references that do not resolve, with the reason to
// report.
type routeVerdict struct {
	problems   []string
	noParent   map[string]string
	unresolved []string
	reason     gwapiv1.RouteConditionReason
}

// setRouteParents sets the status of an HTTPRoute for each of its
// parents that is one of our Gateways, as Gateway API defines it:
// Accepted (False: NoMatchingParent when a parentRef names no listener,
// else UnsupportedValue), and ResolvedRefs (BackendNotFound, InvalidKind
// or RefNotPermitted for a backend reference that does not resolve).
// Other controllers' parent entries stay.
func (st *Status) setRouteParents(ctx context.Context, r *gwapiv1.HTTPRoute, served map[[2]string]bool, v routeVerdict) error {
	refProblems, otherProblems := v.unresolved, []string(nil)
	for _, p := range v.problems {
		if strings.Contains(p, "backendRefs") {
			refProblems = append(refProblems, p)
		} else {
			otherProblems = append(otherProblems, p)
		}
	}
	accepted := metav1.Condition{Type: string(gwapiv1.RouteConditionAccepted), Status: metav1.ConditionTrue,
		Reason: string(gwapiv1.RouteReasonAccepted), Message: "accepted", ObservedGeneration: r.Generation}
	if len(otherProblems) > 0 {
		accepted.Status, accepted.Reason, accepted.Message = metav1.ConditionFalse, string(gwapiv1.RouteReasonUnsupportedValue), bound(strings.Join(otherProblems, "; "))
	}
	resolved := metav1.Condition{Type: string(gwapiv1.RouteConditionResolvedRefs), Status: metav1.ConditionTrue,
		Reason: string(gwapiv1.RouteReasonResolvedRefs), Message: "every reference resolved", ObservedGeneration: r.Generation}
	if len(refProblems) > 0 {
		reason := v.reason
		if reason == "" {
			reason = gwapiv1.RouteReasonBackendNotFound
		}
		resolved.Status, resolved.Reason, resolved.Message = metav1.ConditionFalse, string(reason), bound(strings.Join(refProblems, "; "))
	}
	next := r.DeepCopy()
	controller := gwapiv1.GatewayController(st.src.opts.ControllerName)
	var parents []gwapiv1.RouteParentStatus
	for _, ps := range next.Status.Parents {
		ns := r.Namespace
		if ps.ParentRef.Namespace != nil {
			ns = string(*ps.ParentRef.Namespace)
		}
		if ps.ControllerName != controller || !st.src.narrowedTo(ns, string(ps.ParentRef.Name)) {
			parents = append(parents, ps) // another controller's, or replicas serving other Gateways
		}
	}
	for i, ref := range r.Spec.ParentRefs {
		ns := r.Namespace
		if ref.Namespace != nil {
			ns = string(*ref.Namespace)
		}
		if !served[[2]string{ns, string(ref.Name)}] || (ref.Kind != nil && *ref.Kind != "Gateway") {
			continue
		}
		accepted := accepted
		if why, ok := v.noParent[fmt.Sprintf("spec.parentRefs[%d]", i)]; ok {
			accepted.Status, accepted.Reason, accepted.Message = metav1.ConditionFalse, string(gwapiv1.RouteReasonNoMatchingParent), bound(why)
		}
		ps := gwapiv1.RouteParentStatus{ParentRef: ref, ControllerName: controller}
		for _, old := range r.Status.Parents {
			if old.ControllerName == controller && sameParent(old.ParentRef, ref) {
				ps.Conditions = slices.Clone(old.Conditions) // never edit the cache's object
			}
		}
		for _, c := range []metav1.Condition{accepted, resolved} {
			if old := meta.FindStatusCondition(ps.Conditions, c.Type); old == nil || !sameCondition(*old, c) {
				meta.SetStatusCondition(&ps.Conditions, c)
			}
		}
		parents = append(parents, ps)
	}
	next.Status.Parents = parents
	if equality.Semantic.DeepEqual(next.Status, r.Status) {
		return nil
	}
	// The parents are one list that replicas serving other Gateways write
	// too: the patch applies only to the version read, else it conflicts
	// and is retried on a fresher one.
	return st.client.Status().Patch(ctx, next, client.MergeFromWithOptions(r, client.MergeFromWithOptimisticLock{}))
}

// poolProblems are what the compiler said of the pool: its errors, and
// the problems of its endpoint picker reference (a missing Service is a
// warning: the pool's requests get 503).
func poolProblems(res *standalone.Result, ns, name string) (errs, picker []string) {
	for _, err := range res.Skipped {
		var e *standalone.Error
		if errors.As(err, &e) && e.Source.Kind == "InferencePool" && e.Source.Namespace == ns && e.Source.Name == name {
			msg := e.Field + ": " + e.Err.Error()
			if strings.HasPrefix(e.Field, "spec.endpointPickerRef") || strings.HasPrefix(e.Field, "spec.extensionRef") {
				picker = append(picker, msg)
			} else {
				errs = append(errs, msg)
			}
		}
	}
	for _, w := range res.Warnings {
		if w.Source.Kind == "InferencePool" && w.Source.Namespace == ns && w.Source.Name == name &&
			w.Reason == standalone.ReasonInvalidExtensionRef {
			picker = append(picker, w.Field+": "+w.Message)
		}
	}
	return errs, picker
}

// setPoolParents sets an InferencePool's status.parents for our Gateways
// that route to it, as GAIE defines them: Accepted, and ResolvedRefs
// (InvalidExtensionRef when its endpoint picker does not resolve). Our
// entries for Gateways that no longer route to it go; other controllers'
// stay.
func (st *Status) setPoolParents(ctx context.Context, p *gaiev1.InferencePool, parents []gwapiv1.ParentReference, problems [2][]string) error {
	controller := gaiev1.ControllerName(st.src.opts.ControllerName)
	var out []gaiev1.ParentStatus
	for _, ps := range p.Status.Parents {
		if ps.ControllerName != controller || !st.src.narrowedTo(string(ps.ParentRef.Namespace), string(ps.ParentRef.Name)) {
			out = append(out, ps) // another controller's, or replicas serving other Gateways
		}
	}
	errs, picker := problems[0], problems[1]
	accepted := metav1.Condition{Type: string(gaiev1.InferencePoolConditionAccepted), Status: metav1.ConditionTrue,
		Reason: string(gaiev1.InferencePoolReasonAccepted), Message: "accepted", ObservedGeneration: p.Generation}
	if len(errs) > 0 {
		accepted.Status, accepted.Reason, accepted.Message = metav1.ConditionFalse, string(gaiev1.InferencePoolReasonNotSupportedByParent), bound(strings.Join(errs, "; "))
	}
	resolved := metav1.Condition{Type: string(gaiev1.InferencePoolConditionResolvedRefs), Status: metav1.ConditionTrue,
		Reason: string(gaiev1.InferencePoolReasonResolvedRefs), Message: "the endpoint picker reference resolved", ObservedGeneration: p.Generation}
	if len(picker) > 0 {
		resolved.Status, resolved.Reason, resolved.Message = metav1.ConditionFalse, string(gaiev1.InferencePoolReasonInvalidExtensionRef), bound(strings.Join(picker, "; "))
	}
	for _, parent := range parents {
		ref := gaiev1.ParentReference{Group: ptrTo(gaiev1.Group(gwapiv1.GroupName)), Kind: "Gateway", Name: gaiev1.ObjectName(parent.Name),
			Namespace: gaiev1.Namespace(*parent.Namespace)}
		ps := gaiev1.ParentStatus{ParentRef: ref, ControllerName: controller}
		for _, old := range p.Status.Parents {
			if old.ControllerName == controller && old.ParentRef.Name == ref.Name && old.ParentRef.Namespace == ref.Namespace {
				ps.Conditions = slices.Clone(old.Conditions) // never edit the cache's object
			}
		}
		for _, c := range []metav1.Condition{accepted, resolved} {
			if old := meta.FindStatusCondition(ps.Conditions, c.Type); old == nil || !sameCondition(*old, c) {
				meta.SetStatusCondition(&ps.Conditions, c)
			}
		}
		out = append(out, ps)
	}
	if len(out) > 32 {
		out = out[:32] // the CRD's bound
	}
	if equality.Semantic.DeepEqual(out, p.Status.Parents) || (len(out) == 0 && len(p.Status.Parents) == 0) {
		return nil
	}
	next := p.DeepCopy()
	next.Status.Parents = out
	return st.client.Status().Patch(ctx, next, client.MergeFromWithOptions(p, client.MergeFromWithOptimisticLock{})) // as for routes' parents
}

func ptrTo[T any](v T) *T { return &v }

// rejectedMessage is Programmed's message while the configuration is
// rejected.
const rejectedMessage = "the configuration was rejected (see the resources' status): the gateway serves its last accepted one, or no route if none was"

func sameParent(a, b gwapiv1.ParentReference) bool {
	return a.Name == b.Name && equality.Semantic.DeepEqual(a.Namespace, b.Namespace) && equality.Semantic.DeepEqual(a.SectionName, b.SectionName) &&
		equality.Semantic.DeepEqual(a.Port, b.Port)
}

func sameCondition(a, b metav1.Condition) bool {
	return a.Type == b.Type && a.Status == b.Status && a.Reason == b.Reason && a.Message == b.Message && a.ObservedGeneration == b.ObservedGeneration
}

// bound cuts s to maxConditionMessage bytes, on a rune boundary.
func bound(s string) string {
	if len(s) <= maxConditionMessage {
		return s
	}
	n := maxConditionMessage - 3
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "..."
}
