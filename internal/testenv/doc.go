// Package testenv is the harness of the Kubernetes and endpoint-picker
// interop test tiers. It is test support: import it only from _test.go files
// (and from other test-support packages), never from the gateway itself.
//
// What it gives a test:
//
//   - [BinaryPath]: the prebuilt etcd, kube-apiserver, GAIE EPP (v1.5.0) and
//     lwepp (v1.6.0) that hack/components.sh caches under $AIGW_CACHE_DIR
//     (default $HOME/.cache/aigw-test; etcd and kube-apiserver from
//     $KUBEBUILDER_ASSETS when that is set). A missing binary fails the test
//     with the binary's path and the command that builds it, or skips it when
//     SKIP_K8S_TESTS=1.
//   - [StartEnv]: envtest (controller-runtime) with a real kube-apiserver and
//     etcd and GAIE's CRDs, a client, a rest.Config and an admin kubeconfig
//     file; [Env.CreateReadyPod], [Env.CreatePool] and [Env.CreateService]
//     create the objects an endpoint picker watches;
//     [Env.InstallV1Alpha2CRDs] adds the inference.networking.x-k8s.io/v1alpha2
//     CRDs the pinned GAIE release dropped (InferencePool, InferenceObjective,
//     InferenceModelRewrite).
//   - [StartEPP] and [StartLWEPP]: GAIE's pickers as child processes, ready
//     when their gRPC health service answers SERVING.
//   - [StartSim]: `aigw sim` instances in-process on fixed loopback addresses
//     such as 127.0.0.2:8000, playing the model-server Pods.
//   - [ReexecInNetNS]: the TestMain hook that runs the test binary in a
//     private network namespace, because the pickers bind fixed ports on all
//     interfaces and the "Pod IPs" are 127.0.0.x.
//
// Everything a helper starts is stopped through t.Cleanup, and child-process
// logs are written to the test log when the test fails.
//
// The CRDs are those the aigw-crds chart ships (package charts): copies of
// config/crd/bases of the GAIE module version go.mod pins, regenerated with
// `make crds` after changing that version.
//
// This package must not be imported by non-test code, and it must not import
// the gateway's own packages other than internal/sim (the model-server
// stand-in) and charts (the CRDs as shipped): the harness stays independent
// of the code under test.
package testenv
