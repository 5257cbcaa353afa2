package k8s

import (
	"bytes"
	"io"
	"net/http"
	"slices"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/aigw-dev/aigw/internal/sim"
	"github.com/aigw-dev/aigw/internal/testenv"
)

// GAIE's lightweight picker (v1.6.0) against envtest: it watches the
// InferencePool and Pods in the API server and answers the gateway's ext_proc
// stream with its pick.
func TestLWEPP(t *testing.T) {
	env := testenv.StartEnv(t)
	sims := modelServers(t, simOptions())
	createPool(t, env, 9002)
	picker := testenv.StartLWEPP(t, testenv.PickerOptions{
		Kubeconfig: env.Kubeconfig, PoolName: poolName,
		GRPCPort: 9002, HealthPort: 9003, MetricsPort: 9090,
	})
	conn := picker.Dial(t)
	all := []string{endpoint(podIPs[0]), endpoint(podIPs[1])}
	waitForEndpoints(t, conn, model, all...)

	t.Run("pick as header mutation and envoy.lb metadata", func(t *testing.T) {
		seen := map[string]int{}
		for i := range 4 {
			// Two body messages: lwepp acknowledges the first before its
			// deferred headers response (gaie-protocol.md §5.5).
			p := mustPick(t, conn, request{
				headers: chatHeaders(),
				body:    chatBody(t, model, "request "+strconv.Itoa(i)+" of the round-robin check"),
				chunks:  2,
			})
			pick := p.metadataPick()
			require.Contains(t, all, pick, "envoy.lb %s", destinationKey)
			h, ok := p.setHeader(destinationKey)
			require.True(t, ok, "no %s header mutation", destinationKey)
			require.Equal(t, pick, h, "header and metadata must name the same endpoint")
			echo, _ := p.setHeader("X-Echo-Set-Header")
			require.Equal(t, conformanceHeader+":"+pick, echo)
			require.True(t, p.headers.GetResponse().GetClearRouteCache())

			require.Len(t, p.bodies, 2, "one body answer per body message")
			require.Equal(t, 1, p.bodiesBeforeHeaders, "the first chunk is acknowledged before the deferred headers response")
			for _, b := range p.bodies {
				require.Nil(t, b.GetResponse().GetBodyMutation(), "lwepp keeps the body")
			}
			seen[pick]++
		}
		// lwepp round-robins over the ready Pods.
		require.Len(t, seen, 2, "picks over 4 requests: %v", seen)
	})

	t.Run("test-epp-endpoint-selection steers the pick", func(t *testing.T) {
		for _, ip := range []string{podIPs[1], podIPs[1], podIPs[0], podIPs[1]} {
			p := mustPick(t, conn, request{
				headers: chatHeaders(header{steeringHeader, ip}),
				body:    chatBody(t, model, "steered to "+ip),
			})
			require.Equal(t, endpoint(ip), p.metadataPick())
			h, _ := p.setHeader(destinationKey)
			require.Equal(t, endpoint(ip), h)
		}
	})

	t.Run("response phase echoes the served endpoint", func(t *testing.T) {
		// served is where the gateway really sent the request: the pick, or
		// the other Pod, as after a retry; lwepp must report what it is told.
		for _, retried := range []bool{false, true} {
			body := chatBody(t, model, "served-endpoint check")
			s, p, err := exchange(t.Context(), conn, request{headers: chatHeaders(), body: body})
			require.NoError(t, err)
			served := p.metadataPick()
			if retried {
				served = all[1-slices.Index(all, served)]
			}
			resp, respBody := forward(t, sims[served], body)
			require.Equal(t, served, resp.Header.Get(sim.HeaderInstance), "the simulator on the picked address answered")

			md := lbMetadata(t, map[string]any{servedKey: served})
			require.NoError(t, s.sendResponseHeaders([]header{
				{":status", strconv.Itoa(resp.StatusCode)},
				{"content-type", resp.Header.Get("Content-Type")},
				{"x-sim-instance", resp.Header.Get(sim.HeaderInstance)},
			}, md))
			answer, err := s.stream.Recv()
			require.NoError(t, err)
			rh := answer.GetResponseHeaders()
			require.NotNil(t, rh, "expected a response headers answer, got %v", answer)
			got, _ := setHeaderValue(rh.GetResponse().GetHeaderMutation(), conformanceHeader)
			require.Equal(t, served, got, "%s (retried=%v)", conformanceHeader, retried)
			marker, _ := setHeaderValue(rh.GetResponse().GetHeaderMutation(), "x-went-into-resp-headers")
			require.Equal(t, "true", marker)

			require.NoError(t, s.sendResponseBody(respBody, true, md))
			answer, err = s.stream.Recv()
			require.NoError(t, err)
			require.NotNil(t, answer.GetResponseBody(), "expected a response body answer, got %v", answer)
			require.Nil(t, answer.GetResponseBody().GetResponse().GetBodyMutation(), "lwepp keeps the response body")
			require.NoError(t, s.finish())
		}
	})

	t.Run("without served metadata the echo reports the failure", func(t *testing.T) {
		s, _, err := exchange(t.Context(), conn, request{headers: chatHeaders(), body: chatBody(t, model, "no metadata")})
		require.NoError(t, err)
		require.NoError(t, s.sendResponseHeaders([]header{{":status", "200"}}, nil))
		answer, err := s.stream.Recv()
		require.NoError(t, err)
		got, _ := setHeaderValue(answer.GetResponseHeaders().GetResponse().GetHeaderMutation(), conformanceHeader)
		require.Equal(t, "fail: missing envoy lb metadata", got)
		require.NoError(t, s.finish())
	})

	t.Run("TLS", func(t *testing.T) {
		tlsPicker := testenv.StartLWEPP(t, testenv.PickerOptions{
			Kubeconfig: env.Kubeconfig, PoolName: poolName, TLS: true,
			GRPCPort: 9012, HealthPort: 9013, MetricsPort: 9091,
		})
		tlsConn := tlsPicker.Dial(t)
		waitForEndpoints(t, tlsConn, model, all...)
		requirePlaintextRefused(t, tlsPicker)
	})
}

// forward sends the chat request to the model server, as the gateway does
// after the pick, and returns the response and its body.
func forward(t *testing.T, s *testenv.Sim, body []byte) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, s.URL+"/v1/chat/completions", bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", b)
	return resp, b
}

// requirePlaintextRefused checks that a TLS picker does not speak plaintext
// h2c, so the TLS option really switched the transport.
func requirePlaintextRefused(t *testing.T, p *testenv.Picker) {
	t.Helper()
	conn, err := grpc.NewClient(p.Addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	defer conn.Close()
	_, _, err = exchange(t.Context(), conn, request{headers: chatHeaders(), body: chatBody(t, model, "plaintext")})
	require.Error(t, err, "a plaintext client must not get through to a TLS picker")
}
