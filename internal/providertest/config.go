package providertest

import (
	"fmt"
	"net"
)

// BackendDocs are the configuration documents (YAML, each opened by
// "---") of an AIServiceBackend named name of the schema (a YAML flow
// mapping, e.g. "{name: AWSBedrock}") and of its Backend at hostPort: a
// fake provider in the gateway's configuration.
func BackendDocs(name, schema, hostPort string) string {
	host, port, _ := net.SplitHostPort(hostPort)
	return fmt.Sprintf(`---
apiVersion: aigateway.envoyproxy.io/v1beta1
kind: AIServiceBackend
metadata: {name: %[1]s}
spec:
  schema: %[4]s
  backendRef: {name: %[1]s, kind: Backend, group: gateway.envoyproxy.io}
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: Backend
metadata: {name: %[1]s}
spec:
  endpoints: [{ip: {address: %[2]s, port: %[3]s}}]
`, name, host, port, schema)
}
