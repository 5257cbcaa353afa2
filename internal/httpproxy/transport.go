package httpproxy

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/aigw-dev/aigw/internal/config"
)

type roundTripper interface {
	RoundTrip(*http.Request) (*http.Response, error)
}

// transportCache shares one http.Transport, and so one connection pool, per
// distinct TLS and protocol setting, across configuration reloads.
type transportCache struct {
	mu sync.Mutex
	m  map[string]*http.Transport
}

func newTransportCache() *transportCache {
	return &transportCache{m: map[string]*http.Transport{}}
}

func (c *transportCache) get(t *config.UpstreamTLS, http2 bool) (*http.Transport, error) {
	keyBytes, _ := json.Marshal(struct {
		TLS   *config.UpstreamTLS
		HTTP2 bool
	}{t, http2})
	// The key holds key material for mTLS; it never leaves this map.
	key := string(keyBytes)
	c.mu.Lock()
	defer c.mu.Unlock()
	if tr, ok := c.m[key]; ok {
		return tr, nil
	}
	tr, err := newTransport(t, http2)
	if err != nil {
		return nil, err
	}
	c.m[key] = tr
	return tr, nil
}

func (c *transportCache) closeIdle() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, tr := range c.m {
		tr.CloseIdleConnections()
	}
}

func newTransport(t *config.UpstreamTLS, h2 bool) (*http.Transport, error) {
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           dialer.DialContext,
		MaxIdleConns:          4096,
		MaxIdleConnsPerHost:   1024,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
		// Go's transport asks for gzip and decompresses it, so the gateway
		// can read usage; the client gets the plain body.
		DisableCompression: false,
	}
	if t != nil {
		cfg, err := tlsConfig(t)
		if err != nil {
			return nil, err
		}
		tr.TLSClientConfig = cfg
		tr.ForceAttemptHTTP2 = true
	}
	if h2 {
		tr.Protocols = new(http.Protocols)
		if t != nil {
			tr.Protocols.SetHTTP2(true)
		} else {
			tr.Protocols.SetUnencryptedHTTP2(true)
		}
	}
	return tr, nil
}

func tlsConfig(t *config.UpstreamTLS) (*tls.Config, error) {
	cfg := &tls.Config{
		ServerName:         t.ServerName,
		InsecureSkipVerify: t.InsecureSkipVerify, //nolint:gosec // only when the configuration says so
		MinVersion:         tls.VersionTLS12,
	}
	if t.CACertPEM != "" {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM([]byte(t.CACertPEM)) {
			return nil, errors.New("tls: no certificate found in the CA bundle")
		}
		cfg.RootCAs = pool
	}
	var err error
	if cfg.MinVersion, err = tlsVersion(t.MinVersion, tls.VersionTLS12); err != nil {
		return nil, err
	}
	if cfg.MaxVersion, err = tlsVersion(t.MaxVersion, 0); err != nil {
		return nil, err
	}
	if cc := t.ClientCertificate; cc != nil {
		pair, err := tls.X509KeyPair([]byte(cc.CertPEM), []byte(cc.KeyPEM.Reveal()))
		if err != nil {
			return nil, fmt.Errorf("tls: client certificate %s: %w", cc.Name, err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return cfg, nil
}

func tlsVersion(v string, def uint16) (uint16, error) {
	switch v {
	case "", "Auto":
		return def, nil
	case "1.0":
		return tls.VersionTLS10, nil
	case "1.1":
		return tls.VersionTLS11, nil
	case "1.2":
		return tls.VersionTLS12, nil
	case "1.3":
		return tls.VersionTLS13, nil
	default:
		return 0, fmt.Errorf("tls: unknown version %q", v)
	}
}

func joinHostPort(host string, port int32) string {
	return net.JoinHostPort(host, strconv.Itoa(int(port)))
}
