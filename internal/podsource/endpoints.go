package podsource

import (
	"cmp"
	"maps"
	"net"
	"slices"
	"strconv"

	corev1 "k8s.io/api/core/v1"

	"github.com/aigw-dev/aigw/internal/scheduler"
)

// target is what selects a pool's endpoints: Pods with these labels, in the
// watched namespace, on these ports.
type target struct {
	selector map[string]string
	ports    []int
}

// endpointsOf returns the endpoints of the given Pods (already selected by
// label) on ports: the ready, non-terminating Pods with an IP, each port of
// each one, sorted by address. An address that two Pods share (host-network
// Pods on one node) is kept once, for the Pod whose name sorts first.
func endpointsOf(pods []corev1.Pod, ports []int) []scheduler.Endpoint {
	eps := make([]scheduler.Endpoint, 0, len(pods)*len(ports))
	for i := range pods {
		p := &pods[i]
		if !serving(p) {
			continue
		}
		for _, port := range ports {
			eps = append(eps, scheduler.Endpoint{
				Address: net.JoinHostPort(p.Status.PodIP, strconv.Itoa(port)),
				PodName: p.Name,
				Labels:  maps.Clone(p.Labels),
			})
		}
	}
	slices.SortFunc(eps, func(a, b scheduler.Endpoint) int {
		return cmp.Or(cmp.Compare(a.Address, b.Address), cmp.Compare(a.PodName, b.PodName))
	})
	return slices.CompactFunc(eps, func(a, b scheduler.Endpoint) bool { return a.Address == b.Address })
}

// serving reports whether p counts as an endpoint: not terminating, an IP,
// and condition Ready True (what GAIE's EPP and kube-proxy go by).
func serving(p *corev1.Pod) bool {
	if p.DeletionTimestamp != nil || p.Status.PodIP == "" {
		return false
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// equalEndpoints reports whether a and b hold the same endpoints in the same
// order: addresses, Pod names and labels.
func equalEndpoints(a, b []scheduler.Endpoint) bool {
	return slices.EqualFunc(a, b, func(x, y scheduler.Endpoint) bool {
		return x.Address == y.Address && x.PodName == y.PodName && maps.Equal(x.Labels, y.Labels)
	})
}

// cloneEndpoints returns a deep copy of eps.
func cloneEndpoints(eps []scheduler.Endpoint) []scheduler.Endpoint {
	out := make([]scheduler.Endpoint, len(eps))
	for i, ep := range eps {
		out[i] = scheduler.Endpoint{Address: ep.Address, PodName: ep.PodName, Labels: maps.Clone(ep.Labels)}
	}
	return out
}
