package router

import (
	"net"
	"strings"
)

// NormalizeHost lower-cases a request's host and strips its port, as the
// router compares hosts (see [HostnameSpecificity]).
func NormalizeHost(host string) string {
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

// HostnameSpecificity scores how specifically a listener hostname matches
// a normalized host, as Gateway API picks among listeners of one port: an
// exact name highest, then the longest "*.suffix", then an empty hostname
// (any host); -1 is no match.
func HostnameSpecificity(hostname, host string) int {
	switch {
	case hostname == "":
		return 0
	case hostname == host:
		return 1 << 30
	case wildcardOrExact(hostname, host):
		return len(hostname)
	}
	return -1
}
