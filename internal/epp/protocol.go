package epp

import (
	"fmt"
	"net"
	"strconv"
	"strings"
)

// Keys of the protocol (GAIE docs/proposals/004-endpoint-picker-protocol).
const (
	// MetadataNamespace holds the pick (EPP → proxy) and the served
	// endpoint (proxy → EPP).
	MetadataNamespace = "envoy.lb"
	// DestinationKey is the header and metadata key of the pick: "ip:port"
	// or an ordered, comma-separated list of them.
	DestinationKey = "x-gateway-destination-endpoint"
	// ServedKey reports the endpoint that produced the response.
	ServedKey = "x-gateway-destination-endpoint-served"
	// SubsetNamespace and SubsetKey carry the subset hint (proxy → EPP).
	SubsetNamespace = "envoy.lb.subset_hint"
	SubsetKey       = "x-gateway-destination-endpoint-subset"
	// DestinationHeaderPrefix starts every header of the family; the gateway
	// strips client-sent copies.
	DestinationHeaderPrefix = "x-gateway-destination-endpoint"
)

// The request headers that steer a picker.
const (
	// ObjectiveHeader names the request's InferenceObjective (priority).
	ObjectiveHeader = "x-gateway-inference-objective"
	// FairnessIDHeader names the request's tenant for fair queueing.
	FairnessIDHeader = "x-gateway-inference-fairness-id"
	// ModelRewriteHeader names the model to send instead of the body's.
	ModelRewriteHeader = "x-gateway-model-name-rewrite"
)

// ControlHeaders are the request headers that steer a picker. A client may
// send them only where the pool allows; a route may set them.
var ControlHeaders = [...]string{ObjectiveHeader, FairnessIDHeader, ModelRewriteHeader}

// Endpoint is one picked endpoint. Port is zero when the picker named only
// an IP, which leaves the choice among the pod's target ports to the proxy.
type Endpoint struct {
	IP   string
	Port int
}

// String returns "ip:port", or the IP alone when Port is zero.
func (e Endpoint) String() string {
	if e.Port == 0 {
		return e.IP
	}
	return net.JoinHostPort(e.IP, strconv.Itoa(e.Port))
}

// ParseEndpoints parses a pick: "ip:port", "[v6]:port", a bare IP, or an
// ordered comma-separated list of them. Every entry must be valid.
func ParseEndpoints(s string) ([]Endpoint, error) {
	if strings.TrimSpace(s) == "" {
		return nil, fmt.Errorf("%w: empty destination", ErrPickerFailed)
	}
	parts := strings.Split(s, ",")
	out := make([]Endpoint, 0, len(parts))
	for _, p := range parts {
		p = strings.TrimSpace(p)
		ep, err := parseEndpoint(p)
		if err != nil {
			return nil, fmt.Errorf("%w: invalid destination %q: %w", ErrPickerFailed, p, err)
		}
		out = append(out, ep)
	}
	return out, nil
}

func parseEndpoint(s string) (Endpoint, error) {
	if ip := net.ParseIP(strings.Trim(s, "[]")); ip != nil {
		return Endpoint{IP: ip.String()}, nil
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return Endpoint{}, err
	}
	ip := net.ParseIP(host)
	if ip == nil {
		return Endpoint{}, fmt.Errorf("%q is not an IP address", host)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return Endpoint{}, fmt.Errorf("invalid port %q", port)
	}
	return Endpoint{IP: ip.String(), Port: n}, nil
}
