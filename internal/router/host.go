package router

import (
	"net"
	"strings"
)

// normalizeHost lower-cases host and strips a port.
func normalizeHost(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(host, ".")
	return strings.ToLower(host)
}

// hostMatches reports whether host matches one of the route hostnames, as
// Gateway API defines it: an exact name, or "*.suffix" matching any host with
// one or more labels before the suffix. No hostnames match every host.
func hostMatches(hostnames []string, host string) bool {
	if len(hostnames) == 0 {
		return true
	}
	for _, hn := range hostnames {
		if wildcardOrExact(hn, host) {
			return true
		}
	}
	return false
}

func wildcardOrExact(pattern, host string) bool {
	if suffix, ok := strings.CutPrefix(pattern, "*"); ok {
		return len(host) > len(suffix) && strings.HasSuffix(host, suffix)
	}
	return pattern == host
}
