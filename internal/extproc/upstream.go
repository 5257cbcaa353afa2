package extproc

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/aigw-dev/aigw/internal/apierror"
	"github.com/aigw-dev/aigw/internal/llm"
)

// The attributes that name an attempt's backend: on the endpoint when it
// is inline, on the cluster otherwise (Envoy AI Gateway v0.6 and later),
// or inside the whole host metadata as text (v0.3 to v0.5).
const (
	attrHostBackend    = "xds.upstream_host_metadata.filter_metadata['aigateway.envoy.io']['per_route_rule_backend_name']"
	attrClusterBackend = "xds.cluster_metadata.filter_metadata['aigateway.envoy.io']['per_route_rule_backend_name']"
	attrHostMetadata   = "xds.upstream_host_metadata"
)

// textBackendName finds the backend name in text-format host metadata.
var textBackendName = regexp.MustCompile(`per_route_rule_backend_name"\s*value\s*\{\s*string_value:\s*"([^"]*)"`)

// backendName returns the per-rule backend name the attributes carry.
func backendName(attrs *structpb.Struct) string {
	f := attrs.GetFields()
	for _, key := range []string{attrHostBackend, attrClusterBackend} {
		if v := f[key].GetStringValue(); v != "" {
			return v
		}
	}
	if m := textBackendName.FindStringSubmatch(f[attrHostMetadata].GetStringValue()); m != nil {
		return m[1]
	}
	return ""
}

// isUpstreamLevel reports whether a stream's attributes are the upstream
// filter's: the upstream's metadata, in any of the forms the backend name
// is read from.
func isUpstreamLevel(attrs *structpb.Struct) bool {
	f := attrs.GetFields()
	for _, key := range []string{attrHostBackend, attrClusterBackend, attrHostMetadata} {
		if _, ok := f[key]; ok {
			return true
		}
	}
	return false
}

// parseBackendName splits "<namespace>/<backend>/route/<route>/rule/<i>/ref/<j>"
// into the backend's "namespace/name" and j.
func parseBackendName(name string) (backend string, ref int, err error) {
	parts := strings.Split(name, "/")
	if len(parts) != 8 || parts[2] != "route" || parts[4] != "rule" || parts[6] != "ref" || parts[0] == "" || parts[1] == "" {
		return "", 0, fmt.Errorf("backend name %q is not <namespace>/<backend>/route/<route>/rule/<i>/ref/<j>", name)
	}
	ref, err = strconv.Atoi(parts[7])
	if err != nil || ref < 0 {
		return "", 0, fmt.Errorf("backend name %q: ref index %q", name, parts[7])
	}
	return parts[0] + "/" + parts[1], ref, nil
}

// upstream serves an upstream-level stream: one attempt of a request whose
// router-level stream holds the session. It translates the client's
// original body for the attempt's backend, applies the backendRef's
// mutations, injects credentials last, and answers the request headers
// with the edits: CONTINUE_AND_REPLACE with the body when it changed,
// CONTINUE otherwise (a body an endpoint picker rewrote before stays).
func (s *Server) upstream(st extprocv3.ExternalProcessor_ProcessServer, first *extprocv3.ProcessingRequest) error {
	ctx := st.Context()
	h := first.GetRequestHeaders()
	if h == nil {
		return unexpected(fmt.Sprintf("upstream level: %T first", first.GetRequest()))
	}
	msg := readHeaders(h.GetHeaders())
	name := backendName(first.GetAttributes()[AttributesKey])
	backend, ref, err := parseBackendName(name)
	if err != nil {
		return immediate(st, apierror.Internal(fmt.Errorf("the upstream filter's attributes name no backend: %w", err)))
	}
	e := s.sessions.get(msg.header.Get(HeaderInternalRequestID))
	if e == nil {
		return immediate(st, apierror.Internal(errors.New("no router-level state for this request: is the router-level ext_proc filter in front of this one?")))
	}
	if md := dynamicMetadata(first.GetMetadataContext()); md != nil {
		// What a trusted filter before this one set (ext_authz), as Envoy
		// forwards it: a policy's credentialOverride may read it.
		ctx = llm.WithDynamicMetadata(ctx, md)
	}
	e.mu.Lock()
	a, err := e.s.AttemptOn(ctx, msg.header, msg.pseudo[":authority"], backend, ref) // the attempt edits a copy
	clientBody, format := e.s.ClientBody(), e.s.ErrorFormat()
	e.backendName = name
	e.mu.Unlock()
	if err != nil {
		return immediate(st, apierror.Classify(err).WithFormat(format))
	}
	after := a.Upstream.Header.Clone()
	after.Del(HeaderInternalRequestID) // internal: never leaves the gateway
	common := &extprocv3.CommonResponse{}
	if !bytes.Equal(a.Upstream.Body, clientBody) {
		common.Status = extprocv3.CommonResponse_CONTINUE_AND_REPLACE
		common.BodyMutation = &extprocv3.BodyMutation{Mutation: &extprocv3.BodyMutation_Body{Body: a.Upstream.Body}}
	}
	if len(a.Upstream.Body) > 0 || msg.header.Get("Content-Length") != "" {
		after.Set("Content-Length", strconv.Itoa(len(a.Upstream.Body)))
	}
	common.HeaderMutation = headerDiff(msg.header, after)
	if a.Upstream.Path != msg.pseudo[":path"] {
		setHeader(common.HeaderMutation, ":path", a.Upstream.Path)
	}
	if err := st.Send(&extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_RequestHeaders{RequestHeaders: &extprocv3.HeadersResponse{Response: common}}}); err != nil {
		return err
	}
	// The upstream filter's other phases are off; answer whatever comes
	// until Envoy ends the stream.
	for {
		m, err := st.Recv()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		if err := answerPlainly(st, m); err != nil {
			return err
		}
	}
}

// answerPlainly continues a message without changes.
func answerPlainly(st extprocv3.ExternalProcessor_ProcessServer, m *extprocv3.ProcessingRequest) error {
	var resp *extprocv3.ProcessingResponse
	switch m.GetRequest().(type) {
	case *extprocv3.ProcessingRequest_RequestBody:
		resp = &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_RequestBody{RequestBody: &extprocv3.BodyResponse{}}}
	case *extprocv3.ProcessingRequest_RequestTrailers:
		resp = &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_RequestTrailers{RequestTrailers: &extprocv3.TrailersResponse{}}}
	case *extprocv3.ProcessingRequest_ResponseHeaders:
		resp = &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_ResponseHeaders{ResponseHeaders: &extprocv3.HeadersResponse{}}}
	case *extprocv3.ProcessingRequest_ResponseBody:
		resp = &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_ResponseBody{ResponseBody: &extprocv3.BodyResponse{}}}
	case *extprocv3.ProcessingRequest_ResponseTrailers:
		resp = &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_ResponseTrailers{ResponseTrailers: &extprocv3.TrailersResponse{}}}
	default:
		return unexpected(fmt.Sprintf("upstream level: %T", m.GetRequest()))
	}
	return st.Send(resp)
}

// dynamicMetadata is the untyped filter metadata Envoy forwarded, by
// namespace.
func dynamicMetadata(m *corev3.Metadata) llm.DynamicMetadata {
	if m == nil || len(m.GetFilterMetadata()) == 0 {
		return nil
	}
	md := make(llm.DynamicMetadata, len(m.GetFilterMetadata()))
	for ns, st := range m.GetFilterMetadata() {
		md[ns] = st.AsMap()
	}
	return md
}
