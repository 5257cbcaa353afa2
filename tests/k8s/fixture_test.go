package k8s

import (
	"net"
	"strconv"
	"testing"

	"github.com/aigw-dev/aigw/internal/sim"
	"github.com/aigw-dev/aigw/internal/testenv"
)

// The pool every test builds: two model-server Pods behind an InferencePool
// whose endpoint picker is the Service "vllm-epp".
const (
	model      = "test-model"
	poolName   = "vllm-pool"
	pickerName = "vllm-epp"
	serverPort = 8000
)

// podIPs are the model-server Pods' IPs; the simulators listen there, which
// works inside the test binary's private network namespace.
var podIPs = []string{"127.0.0.2", "127.0.0.3"}

var poolLabels = map[string]string{"app": "vllm"}

// endpoint returns "ip:serverPort", what a picker names for a Pod.
func endpoint(ip string) string { return net.JoinHostPort(ip, strconv.Itoa(serverPort)) }

// simOptions are the model servers' settings: echo mode, no latency.
func simOptions() sim.Options {
	o := sim.DefaultOptions()
	o.Model = model
	o.Mode = sim.ModeEcho
	o.TimeScale = 0
	o.Seed = 1
	return o
}

// modelServers starts one simulator per Pod IP, keyed by endpoint.
func modelServers(t *testing.T, opts sim.Options) map[string]*testenv.Sim {
	t.Helper()
	sims := map[string]*testenv.Sim{}
	for _, ip := range podIPs {
		s := testenv.StartSim(t, endpoint(ip), opts)
		sims[s.Addr] = s
	}
	return sims
}

// createPool creates a ready Pod per Pod IP, the InferencePool selecting them
// and the picker's Service, with the picker's ext_proc port.
func createPool(t *testing.T, env *testenv.Env, pickerPort int32) {
	t.Helper()
	for i, ip := range podIPs {
		env.CreateReadyPod(t, testenv.Pod{
			Name:   "vllm-" + strconv.Itoa(i),
			Labels: poolLabels,
			IP:     ip,
			Port:   serverPort,
		})
	}
	env.CreateService(t, testenv.Service{
		Name:     pickerName,
		Selector: map[string]string{"app": pickerName},
		Port:     pickerPort,
	})
	env.CreatePool(t, testenv.Pool{
		Name:               poolName,
		Selector:           poolLabels,
		TargetPorts:        []int32{serverPort},
		EndpointPicker:     pickerName,
		EndpointPickerPort: pickerPort,
	})
}
