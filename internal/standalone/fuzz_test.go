package standalone

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoadBytes checks that no input makes the loader panic. Seeds are the
// golden inputs.
func FuzzLoadBytes(f *testing.F) {
	for _, pattern := range []string{"testdata/*.in.yaml", "testdata/errors/*.in.yaml"} {
		files, err := filepath.Glob(pattern)
		if err != nil {
			f.Fatal(err)
		}
		for _, name := range files {
			b, err := os.ReadFile(name)
			if err != nil {
				f.Fatal(err)
			}
			// Small seeds keep minimization (which re-runs the target for
			// every byte removed) short: whole files only when small, and
			// each document on its own.
			if len(b) < 2048 {
				f.Add(b)
			}
			for _, d := range splitDocuments(b) {
				f.Add(d.data)
			}
		}
	}
	f.Add([]byte("${"))
	f.Add([]byte("---\n- a\n---\n{}\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: x}\n"))
	f.Add([]byte("apiVersion: aigateway.envoyproxy.io/v1alpha1\nkind: AIServiceBackend\nmetadata: {name: a}\nspec: {timeouts: 1}\n"))
	// The GAIE kinds and what they resolve through, small and whole.
	f.Add([]byte(fuzzPoolSeed))
	f.Add([]byte("apiVersion: inference.networking.x-k8s.io/v1alpha2\nkind: InferencePool\nmetadata: {name: p}\nspec: {selector: {a: b}, targetPortNumber: 1, extensionRef: {name: e}}\n"))
	f.Add([]byte("apiVersion: inference.networking.x-k8s.io/v1alpha2\nkind: InferencePool\nmetadata: {name: p}\nspec: {selector: {a: b}, targetPortNumber: 1}\n"))
	f.Add([]byte("apiVersion: v1\nkind: Pod\nmetadata: {name: p, labels: {a: b}}\nstatus: {phase: Running, podIPs: [{ip: '::1'}], conditions: [{type: Ready, status: 'True'}]}\n"))
	f.Add([]byte("apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {clusterIP: None, selector: {a: b}, ports: [{port: 1, targetPort: x}]}\n"))
	f.Add([]byte("apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: r}\nspec: {rules: [{backendRefs: [{name: s}]}]}\n"))
	l := &Loader{
		LookupEnv: lookupIn(testEnv),
		// Substitution annotations must not read the machine's files.
		ReadFile: func(string) ([]byte, error) { return nil, errors.New("no files while fuzzing") },
		HomeDir:  "/nonexistent",
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		res, err := l.LoadBytes(context.Background(), "fuzz.yaml", data)
		if res == nil {
			t.Fatal("nil Result")
		}
		if err == nil && res.Config == nil {
			t.Fatal("no error and no Config")
		}
		if err != nil {
			_ = err.Error()
		}
	})
}

// fuzzPoolSeed is every new kind in one file: a v1 pool with a headless
// picker Service, its Pods, and the three ways to reference the pool.
const fuzzPoolSeed = `apiVersion: inference.networking.k8s.io/v1
kind: InferencePool
metadata: {name: p, annotations: {aigw.dev/endpoint-picker-tls: "false"}}
spec:
  selector: {matchLabels: {app: m}}
  targetPorts: [{number: 8000}, {number: 8001}]
  endpointPickerRef: {name: e, port: {number: 9002}}
---
apiVersion: v1
kind: Service
metadata: {name: e}
spec: {clusterIP: None, selector: {app: e}, ports: [{port: 9002, targetPort: grpc}]}
---
apiVersion: v1
kind: Pod
metadata: {name: e, labels: {app: e}}
spec: {containers: [{name: c, ports: [{name: grpc, containerPort: 9002}]}]}
status: {phase: Running, podIP: 10.0.0.1, conditions: [{type: Ready, status: "True"}]}
---
apiVersion: v1
kind: Pod
metadata: {name: m, labels: {app: m}}
status: {phase: Running, podIP: 10.0.0.2, conditions: [{type: Ready, status: "True"}]}
---
apiVersion: aigateway.envoyproxy.io/v1beta1
kind: AIServiceBackend
metadata: {name: b}
spec: {schema: {name: OpenAI}, backendRef: {group: inference.networking.k8s.io, kind: InferencePool, name: p}}
---
apiVersion: aigateway.envoyproxy.io/v1beta1
kind: AIGatewayRoute
metadata: {name: r}
spec:
  rules: [{backendRefs: [{name: b}, {name: p, group: inference.networking.k8s.io, kind: InferencePool, priority: 1}]}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: h}
spec:
  rules: [{matches: [{path: {value: /x}}], backendRefs: [{name: p, group: inference.networking.k8s.io, kind: InferencePool}, {name: e, port: 9002}]}]
`
