package app

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	egv1a1 "github.com/envoyproxy/gateway/api/v1alpha1"
	"sigs.k8s.io/yaml"
)

// envoyGatewayRateLimit is what the gateway takes from Envoy Gateway's
// startup configuration (the EnvoyGateway document its Helm chart mounts
// from the envoy-gateway-config ConfigMap): where global rate limit rules
// keep their buckets, and how failures of that store are handled.
type envoyGatewayRateLimit struct {
	// RedisURL is the store as a redis:// or rediss:// URL, empty when the
	// configuration names none.
	RedisURL   string
	Timeout    time.Duration // zero: unset
	FailClosed bool
}

// readEnvoyGatewayRateLimit reads the rateLimit of the EnvoyGateway
// configuration file path.
func readEnvoyGatewayRateLimit(path string) (envoyGatewayRateLimit, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return envoyGatewayRateLimit{}, err
	}
	var eg egv1a1.EnvoyGateway
	if err := yaml.Unmarshal(raw, &eg); err != nil {
		return envoyGatewayRateLimit{}, fmt.Errorf("%s: %w", path, err)
	}
	if eg.Kind != "" && eg.Kind != "EnvoyGateway" {
		return envoyGatewayRateLimit{}, fmt.Errorf("%s: kind %s: want EnvoyGateway", path, eg.Kind)
	}
	rl := eg.RateLimit
	if rl == nil {
		return envoyGatewayRateLimit{}, nil
	}
	out, err := redisFromEnvoyGateway(rl)
	if err != nil {
		return envoyGatewayRateLimit{}, fmt.Errorf("%s: rateLimit: %w", path, err)
	}
	return out, nil
}

func redisFromEnvoyGateway(rl *egv1a1.RateLimit) (envoyGatewayRateLimit, error) {
	out := envoyGatewayRateLimit{FailClosed: rl.FailClosed}
	if rl.Timeout != nil {
		d, err := time.ParseDuration(string(*rl.Timeout))
		if err != nil || d <= 0 {
			return out, fmt.Errorf("timeout %q: want a positive duration", *rl.Timeout)
		}
		out.Timeout = d
	}
	if rl.Backend.Type != egv1a1.RedisBackendType {
		return out, fmt.Errorf("backend.type %q: want Redis", rl.Backend.Type)
	}
	r := rl.Backend.Redis
	if r == nil || r.URL == "" {
		return out, errors.New("backend.redis.url: required")
	}
	if strings.Contains(r.URL, ",") {
		return out, fmt.Errorf("backend.redis.url %q: Sentinel and Cluster address lists are not supported; name one Redis", r.URL)
	}
	scheme := "redis"
	if r.TLS != nil {
		if r.TLS.CertificateRef != nil {
			return out, errors.New("backend.redis.tls.certificateRef: client certificates are not supported; rediss:// in --redis-url verifies the server")
		}
		scheme = "rediss"
	}
	out.RedisURL = r.URL
	if !strings.Contains(r.URL, "://") { // Envoy Gateway's form: host:port
		out.RedisURL = scheme + "://" + r.URL
	}
	return out, nil
}
