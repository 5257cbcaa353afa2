package standalone

import (
	corev1 "k8s.io/api/core/v1"

	"github.com/aigw-dev/aigw/internal/config"
	"github.com/aigw-dev/aigw/internal/podready"
)

// PodSelection says which Pods a compilation read, by selector, so that a
// control plane watching Pods knows what a Pod's change affects: the
// endpoints of Pools, which the data plane takes without a compilation
// ([PoolPods.Endpoints]), or what Services resolved to (a headless
// Service, a named target port), which needs one. A Pod neither selects
// affects nothing compiled.
type PodSelection struct {
	Pools    []PoolPods
	Services []PodSelector
}

// PodSelector selects the Pods of a namespace whose labels hold every
// label of Selector (an empty selector selects none, as a Service's).
type PodSelector struct {
	Namespace string
	Selector  map[string]string
}

// Selects reports whether the selector selects pod (nil: no).
func (s PodSelector) Selects(pod *corev1.Pod) bool {
	return pod != nil && pod.Namespace == s.Namespace && selects(s.Selector, pod.Labels)
}

// PoolPods is the Pod selector of the InferencePool named Pool
// ("namespace/name") and its target ports.
type PoolPods struct {
	Pool string
	PodSelector
	TargetPorts []int32
}

// Endpoints are the pool's endpoints among pods, as a compilation makes
// them: every selected Pod that GAIE counts ready × every target port,
// sorted, without duplicate addresses.
func (p PoolPods) Endpoints(pods []*corev1.Pod) []config.PoolEndpoint {
	var out []config.PoolEndpoint
	for _, pod := range pods {
		if !p.Selects(pod) {
			continue
		}
		ip, why := podready.Address(pod)
		if why != "" {
			continue
		}
		for _, port := range p.TargetPorts {
			out = append(out, config.PoolEndpoint{Pod: pod.Namespace + "/" + pod.Name, IP: ip, Port: port})
		}
	}
	return sortPoolEndpoints(out)
}

// Affects reports whether a change of a Pod from old to new (either nil
// for a creation or a deletion) needs a compilation (it is or was selected
// by a Service that was resolved through its Pods), and which pools'
// endpoints it changes.
func (s *PodSelection) Affects(old, new *corev1.Pod) (compile bool, pools []*PoolPods) {
	for _, sel := range s.Services {
		if sel.Selects(old) || sel.Selects(new) {
			return true, nil
		}
	}
	for i := range s.Pools {
		if p := &s.Pools[i]; p.Selects(old) || p.Selects(new) {
			pools = append(pools, p)
		}
	}
	return false, pools
}
