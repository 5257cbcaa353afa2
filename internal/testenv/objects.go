package testenv

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	gaiev1 "sigs.k8s.io/gateway-api-inference-extension/api/v1"
)

// apiTimeout bounds one API call of a helper.
const apiTimeout = 30 * time.Second

// DefaultNamespace is where objects go when a helper's Namespace is empty.
const DefaultNamespace = "default"

// Pod describes a model-server Pod for [Env.CreateReadyPod].
type Pod struct {
	Name      string
	Namespace string // DefaultNamespace if empty
	Labels    map[string]string
	// IP becomes status.podIP and status.podIPs, e.g. "127.0.0.2".
	IP string
	// Port is the container port; lwepp ignores Pods whose container ports do
	// not match the pool's targetPorts.
	Port int32
	// MorePorts are further container ports (data-parallel ranks).
	MorePorts []int32
}

// CreateReadyPod creates the Pod through the API, then writes its status as
// a kubelet would: phase Running, condition Ready, the given Pod IP. No Node
// or kubelet is involved; an endpoint picker then treats the Pod as a ready
// endpoint.
func (e *Env) CreateReadyPod(t testing.TB, p Pod) *corev1.Pod {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), apiTimeout)
	defer cancel()
	ports := []corev1.ContainerPort{{ContainerPort: p.Port, Protocol: corev1.ProtocolTCP}}
	for _, mp := range p.MorePorts {
		ports = append(ports, corev1.ContainerPort{ContainerPort: mp, Protocol: corev1.ProtocolTCP})
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: p.Name, Namespace: orDefault(p.Namespace), Labels: p.Labels},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name:  "model-server",
			Image: "unused",
			Ports: ports,
		}}},
	}
	if err := e.Client.Create(ctx, pod); err != nil {
		t.Fatalf("create Pod %s: %v", p.Name, err)
	}
	now := metav1.Now()
	pod.Status = corev1.PodStatus{
		Phase:     corev1.PodRunning,
		PodIP:     p.IP,
		PodIPs:    []corev1.PodIP{{IP: p.IP}},
		StartTime: &now,
		Conditions: []corev1.PodCondition{
			{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: now},
			{Type: corev1.ContainersReady, Status: corev1.ConditionTrue, LastTransitionTime: now},
		},
	}
	if err := e.Client.Status().Update(ctx, pod); err != nil {
		t.Fatalf("update status of Pod %s: %v", p.Name, err)
	}
	return pod
}

// Pool describes an InferencePool (inference.networking.k8s.io/v1) for
// [Env.CreatePool].
type Pool struct {
	Name      string
	Namespace string // DefaultNamespace if empty
	// Selector is spec.selector.matchLabels.
	Selector map[string]string
	// TargetPorts are the model servers' ports.
	TargetPorts []int32
	// EndpointPicker names the picker's Service (spec.endpointPickerRef);
	// empty leaves the reference out.
	EndpointPicker string
	// EndpointPickerPort is the picker's ext_proc port, 9002 if zero.
	EndpointPickerPort int32
	// FailureMode is the reference's failureMode; empty means the API default.
	FailureMode gaiev1.EndpointPickerFailureMode
}

// CreatePool creates the InferencePool.
func (e *Env) CreatePool(t testing.TB, p Pool) *gaiev1.InferencePool {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), apiTimeout)
	defer cancel()
	pool := &gaiev1.InferencePool{
		ObjectMeta: metav1.ObjectMeta{Name: p.Name, Namespace: orDefault(p.Namespace)},
		Spec: gaiev1.InferencePoolSpec{
			Selector: gaiev1.LabelSelector{MatchLabels: map[gaiev1.LabelKey]gaiev1.LabelValue{}},
		},
	}
	for k, v := range p.Selector {
		pool.Spec.Selector.MatchLabels[gaiev1.LabelKey(k)] = gaiev1.LabelValue(v)
	}
	for _, port := range p.TargetPorts {
		pool.Spec.TargetPorts = append(pool.Spec.TargetPorts, gaiev1.Port{Number: gaiev1.PortNumber(port)})
	}
	if p.EndpointPicker != "" {
		port := p.EndpointPickerPort
		if port == 0 {
			port = 9002
		}
		pool.Spec.EndpointPickerRef = &gaiev1.EndpointPickerRef{
			Kind:        "Service",
			Name:        gaiev1.ObjectName(p.EndpointPicker),
			Port:        &gaiev1.Port{Number: gaiev1.PortNumber(port)},
			FailureMode: p.FailureMode,
		}
	}
	if err := e.Client.Create(ctx, pool); err != nil {
		t.Fatalf("create InferencePool %s: %v", p.Name, err)
	}
	return pool
}

// Service describes a ClusterIP Service for [Env.CreateService], e.g. the
// one an InferencePool's endpointPickerRef names.
type Service struct {
	Name      string
	Namespace string // DefaultNamespace if empty
	Selector  map[string]string
	// Port is the Service port; the target port is the same number.
	Port int32
	// AppProtocol is the port's appProtocol, e.g. "http2"; empty leaves it unset.
	AppProtocol string
	// ClusterIP, when set, is the Service's spec.clusterIP (in envtest's
	// service range, 10.0.0.0/24); [AddLoopbackAddress] makes it
	// reachable.
	ClusterIP string
}

// CreateService creates the Service.
func (e *Env) CreateService(t testing.TB, s Service) *corev1.Service {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), apiTimeout)
	defer cancel()
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: s.Name, Namespace: orDefault(s.Namespace)},
		Spec: corev1.ServiceSpec{
			Type:      corev1.ServiceTypeClusterIP,
			ClusterIP: s.ClusterIP,
			Selector:  s.Selector,
			Ports: []corev1.ServicePort{{
				Name:       "grpc",
				Port:       s.Port,
				TargetPort: intstr.FromInt32(s.Port),
				Protocol:   corev1.ProtocolTCP,
			}},
		},
	}
	if s.AppProtocol != "" {
		svc.Spec.Ports[0].AppProtocol = &s.AppProtocol
	}
	if err := e.Client.Create(ctx, svc); err != nil {
		t.Fatalf("create Service %s: %v", s.Name, err)
	}
	return svc
}

func orDefault(ns string) string {
	if ns == "" {
		return DefaultNamespace
	}
	return ns
}
