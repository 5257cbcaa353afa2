package app

import (
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/aigw-dev/aigw/internal/config"
	"github.com/aigw-dev/aigw/internal/router"
)

// maxListed bounds the names one log line lists.
const maxListed = 10

// configSummary is what a configuration serves, in the one line logged at
// start and on every reload and printed by `aigw validate`.
type configSummary struct {
	Listeners, Routes, Backends, Pools int
	// Models are the model names the routes match (x-ai-eg-model), exact
	// names as they are and regular expressions as "regex:<expr>", in
	// route order without duplicates.
	Models []string
}

// summarize counts what cfg serves.
func summarize(cfg *config.Config) configSummary {
	s := configSummary{Listeners: len(cfg.Listeners()), Routes: len(cfg.Routes), Backends: len(cfg.Backends)}
	pools := map[string]bool{}
	for _, b := range cfg.Backends {
		if b.Pool != nil {
			pools[b.Pool.Name] = true
		}
	}
	s.Pools = len(pools)
	seen := map[string]bool{}
	for _, r := range cfg.Routes {
		for _, rule := range r.Rules {
			for _, m := range rule.Matches {
				for _, h := range m.Headers {
					if h.Name != router.ModelHeader {
						continue
					}
					name := h.Value
					if h.Type == config.HeaderMatchRegularExpression {
						name = "regex:" + name
					}
					if !seen[name] {
						seen[name] = true
						s.Models = append(s.Models, name)
					}
				}
			}
		}
	}
	return s
}

// String formats s as "listeners=1 routes=2 backends=3 pools=1 models=[a b
// c]", with at most maxListed models.
func (s configSummary) String() string {
	return fmt.Sprintf("listeners=%d routes=%d backends=%d pools=%d models=%s",
		s.Listeners, s.Routes, s.Backends, s.Pools, boundedList(s.Models))
}

// attrs are s as log attributes.
func (s configSummary) attrs() []any {
	return []any{"listeners", s.Listeners, "routes", s.Routes, "backends", s.Backends, "pools", s.Pools, "models", boundedList(s.Models)}
}

// boundedList formats names as "[a b c]", the first maxListed of them and
// then "+N more".
func boundedList(names []string) string {
	if len(names) > maxListed {
		return "[" + strings.Join(names[:maxListed], " ") + " +" + strconv.Itoa(len(names)-maxListed) + " more]"
	}
	return "[" + strings.Join(names, " ") + "]"
}

// routeNames are the names of cfg's routes.
func routeNames(cfg *config.Config) []string {
	out := make([]string, 0, len(cfg.Routes))
	for _, r := range cfg.Routes {
		out = append(out, r.Name)
	}
	return out
}

// servedListeners are the listeners runGateway binds for cfg: its own, or
// the default one on port 1975.
func servedListeners(cfg *config.Config) []config.Listener {
	listeners := cfg.Listeners()
	if len(listeners) == 0 {
		return []config.Listener{{Name: "default", Port: 1975}}
	}
	return listeners
}

// exposure is a gateway that lends its upstream credentials to whoever
// reaches it.
type exposure struct {
	// Addresses are the listeners reachable from other hosts, host:port
	// ("*" for every interface).
	Addresses []string
	// Credentials are the backends whose requests get credentials added.
	Credentials []string
}

// credentialExposure reports whether serving cfg on listeners (whose
// addresses listenHost replaces when set) lends credentials to other hosts:
// a listener binds a non-loopback address while a backend injects
// credentials. The configuration has no client authentication to require,
// so any client that reaches such a listener spends the operator's keys.
func credentialExposure(listeners []config.Listener, listenHost string, cfg *config.Config) (exposure, bool) {
	var e exposure
	for _, b := range cfg.Backends {
		if b.Auth != nil {
			e.Credentials = append(e.Credentials, b.Name)
		}
	}
	if len(e.Credentials) == 0 {
		return exposure{}, false
	}
	for _, l := range listeners {
		host := l.Address
		if listenHost != "" {
			host = listenHost
		}
		if loopbackOnly(host) {
			continue
		}
		if host == "" {
			host = "*"
		}
		e.Addresses = append(e.Addresses, net.JoinHostPort(host, strconv.Itoa(int(l.Port))))
	}
	return e, len(e.Addresses) > 0
}

// loopbackOnly reports whether binding host serves this machine only.
// An empty host binds every interface.
func loopbackOnly(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// warnExposure logs e prominently.
func warnExposure(logger *slog.Logger, e exposure) {
	logger.Warn("SECURITY: the gateway listens beyond this host and asks clients for no credentials, but adds upstream credentials to what it forwards: anyone who can connect spends them. "+
		"Bind 127.0.0.1 (--listen-address, or the Gateway's spec.addresses) or restrict who reaches the port",
		"listen", boundedList(e.Addresses), "credentials", boundedList(e.Credentials))
}
