package podready

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
)

// Address returns the IP at which p receives traffic, or, when it receives
// none, why not (a phrase such as "it is terminating (…)", to follow "is not
// an endpoint: "). The IP is status.podIP, else the first of status.podIPs.
func Address(p *corev1.Pod) (ip, notServing string) {
	st := &p.Status
	if p.DeletionTimestamp != nil {
		return "", "it is terminating (metadata.deletionTimestamp is set)"
	}
	if st.Phase != "" && st.Phase != corev1.PodRunning {
		return "", fmt.Sprintf("its status.phase is %s, not Running", st.Phase)
	}
	if !ready(st) {
		return "", `it has no Ready condition with status "True"`
	}
	switch {
	case st.PodIP != "":
		return st.PodIP, ""
	case len(st.PodIPs) > 0 && st.PodIPs[0].IP != "":
		return st.PodIPs[0].IP, ""
	}
	return "", "it has no status.podIP"
}

// ready reports whether the first Ready condition is True, as GAIE reads it.
func ready(st *corev1.PodStatus) bool {
	for _, c := range st.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
