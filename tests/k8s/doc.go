// Package k8s holds the Kubernetes and endpoint-picker interop tier: a real
// kube-apiserver and etcd (controller-runtime envtest) with GAIE's CRDs, GAIE's
// own endpoint pickers (the full EPP v1.5.0 and lwepp v1.6.0) watching Pods
// and an InferencePool in it, and `aigw sim` playing the model-server Pods.
// The tests drive the pickers as an ext_proc client over gRPC, the way the
// gateway does (no Envoy can be had on the project's machines).
//
// # Running
//
// They are ordinary tests, no Makefile needed:
//
//	hack/components.sh                  # once per machine: builds the binaries below
//	go test -race ./tests/k8s/...
//
// # Binaries
//
// internal/testenv finds prebuilt binaries in a cache keyed by component and
// version, $AIGW_CACHE_DIR (default $HOME/.cache/aigw-test):
//
//	etcd/3.4.23/etcd
//	kube-apiserver/v1.37.2/kube-apiserver
//	gaie-epp/v1.5.0/epp
//	gaie-lwepp/v1.6.0/lwepp
//
// etcd and kube-apiserver are taken from $KUBEBUILDER_ASSETS instead when
// that is set (envtest's convention). hack/components.sh builds them all
// (about 25 minutes on two cores when nothing is cached; later runs skip what
// exists). A missing binary fails the test with its path and that command;
// with SKIP_K8S_TESTS=1 the test is skipped instead, for runs that
// deliberately skipped building the components.
//
// # Network namespace
//
// The pickers bind fixed ports (9002, 9003, 9090, ...) on all interfaces and
// the Pods' IPs are 127.0.0.2, 127.0.0.3, where the simulators listen. So
// TestMain calls testenv.ReexecInNetNS: the test binary, once built, runs
// itself again in new network and PID namespaces (like `unshare -n -p -f`;
// root is required) with the loopback device up, and relays the exit code.
// Nothing the tests bind is reachable from outside, nothing collides with
// other tests on the machine, and the PID namespace takes every child process
// down with the binary. The module proxy is unreachable in there, which does
// not matter: the binary is already built. A binary run by hand under
// `unshare -n` is recognised and runs in place:
//
//	go test -c -o /tmp/k8s.test ./tests/k8s
//	unshare -n sh -c 'ip link set lo up && /tmp/k8s.test -test.v'
//
// Without root the run fails with the reason, unless SKIP_K8S_TESTS=1.
//
// The CRDs come from internal/testenv/crds, copies of config/crd/bases of the
// GAIE module version go.mod pins (make crds).
package k8s
