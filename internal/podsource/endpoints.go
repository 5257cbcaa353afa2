package podsource

import (
	"cmp"
	"maps"
	"net"
	"slices"
	"strconv"

	corev1 "k8s.io/api/core/v1"

	"github.com/aigw-dev/aigw/internal/podready"
	"github.com/aigw-dev/aigw/internal/scheduler"
)

// target is what selects a pool's endpoints: Pods with these labels, in the
// watched namespace, on these ports.
type target struct {
	selector map[string]string
	ports    []int
}

// endpointsOf returns the endpoints of the given Pods (already selected by
// label) on ports: the Pods that serve by [podready.Address] (Ready, not
// terminating, an IP, no phase other than Running), each port of each one,
// sorted by address. An address that two Pods share (host-network
// Pods on one node) is kept once, for the Pod whose name sorts first.
func endpointsOf(pods []corev1.Pod, ports []int) []scheduler.Endpoint {
	eps := make([]scheduler.Endpoint, 0, len(pods)*len(ports))
	for i := range pods {
		p := &pods[i]
		ip, notServing := podready.Address(p)
		if notServing != "" {
			continue
		}
		for _, port := range ports {
			eps = append(eps, scheduler.Endpoint{
				Address: net.JoinHostPort(ip, strconv.Itoa(port)),
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
