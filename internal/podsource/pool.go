package podsource

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gaiev1 "sigs.k8s.io/gateway-api-inference-extension/api/v1"

	infv1a2 "github.com/aigw-dev/aigw/api/inferencev1alpha2"
)

// The API groups of InferencePool that Options.PoolGroup accepts.
const (
	// GroupV1 is inference.networking.k8s.io, InferencePool v1 (the default).
	GroupV1 = gaiev1.GroupName
	// GroupV1Alpha2 is inference.networking.x-k8s.io, InferencePool v1alpha2
	// (GAIE v0.2.0 to v1.4.x).
	GroupV1Alpha2 = infv1a2.GroupName
)

// newPoolObject returns an empty InferencePool of the given group (already
// validated), for the cache.
func newPoolObject(group string) client.Object {
	if group == GroupV1Alpha2 {
		return &infv1a2.InferencePool{}
	}
	return &gaiev1.InferencePool{}
}

// poolTarget reads the pool key from r and returns its selector and target
// ports. A missing pool is an error that apierrors.IsNotFound recognises.
func poolTarget(ctx context.Context, r client.Reader, group string, key types.NamespacedName) (target, error) {
	obj := newPoolObject(group)
	if err := r.Get(ctx, key, obj); err != nil {
		return target{}, fmt.Errorf("get InferencePool %s (%s): %w", key, group, err)
	}
	var t target
	switch pool := obj.(type) {
	case *gaiev1.InferencePool:
		t.selector = make(map[string]string, len(pool.Spec.Selector.MatchLabels))
		for k, v := range pool.Spec.Selector.MatchLabels {
			t.selector[string(k)] = string(v)
		}
		for _, p := range pool.Spec.TargetPorts {
			if validPort(int(p.Number)) {
				t.ports = append(t.ports, int(p.Number))
			}
		}
	case *infv1a2.InferencePool:
		t.selector = make(map[string]string, len(pool.Spec.Selector))
		for k, v := range pool.Spec.Selector {
			t.selector[string(k)] = string(v)
		}
		if validPort(int(pool.Spec.TargetPortNumber)) {
			t.ports = []int{int(pool.Spec.TargetPortNumber)}
		}
	}
	return t, nil
}

// validPort reports whether p is a TCP port number. The CRDs enforce it; an
// out-of-range port (a pool written around the schema) is left out.
func validPort(p int) bool { return p >= 1 && p <= 65535 }
