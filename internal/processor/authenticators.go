package processor

import (
	"crypto/sha256"
	"encoding/json"
	"sync"

	"github.com/aigw-dev/aigw/internal/backendauth"
	"github.com/aigw-dev/aigw/internal/clientauth"
	"github.com/aigw-dev/aigw/internal/config"
	"github.com/aigw-dev/aigw/internal/llm"
)

// configKey identifies a configuration value: the SHA-256 of its JSON,
// secrets included (a rotated key is another credential).
type configKey = [sha256.Size]byte

// shared keeps one handle per configuration value across compiles — a
// credential's authenticator and so its token cache, a client policy's
// checker and so its fetched keys — shared by every backend or route that
// names the same value, and kept by a reload that leaves the value
// unchanged.
type shared[C any, H any] struct {
	build func(*C) (H, error)
	// close, when set, ends what a dropped handle runs.
	close func(H)

	mu    sync.Mutex
	byKey map[configKey]H
}

// get returns the handle of c (the zero handle for nil) and its key.
func (s *shared[C, H]) get(c *C) (H, configKey, error) {
	var zero H
	if c == nil {
		return zero, configKey{}, nil
	}
	enc, err := json.Marshal(c)
	if err != nil {
		return zero, configKey{}, err
	}
	key := sha256.Sum256(enc)
	s.mu.Lock()
	defer s.mu.Unlock()
	if h, ok := s.byKey[key]; ok {
		return h, key, nil
	}
	h, err := s.build(c)
	if err != nil {
		return zero, key, err
	}
	if s.byKey == nil {
		s.byKey = map[configKey]H{}
	}
	s.byKey[key] = h
	return h, key, nil
}

// retain drops, and closes, the handles a configuration no longer uses
// (every handle for nil keys).
func (s *shared[C, H]) retain(keys map[configKey]bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, h := range s.byKey {
		if !keys[k] {
			if s.close != nil {
				s.close(h)
			}
			delete(s.byKey, k)
		}
	}
}

// newAuthenticators shares backend credentials' authenticators.
func newAuthenticators(opts backendauth.Options) *shared[config.Auth, llm.Authenticator] {
	return &shared[config.Auth, llm.Authenticator]{build: func(a *config.Auth) (llm.Authenticator, error) { return backendauth.New(a, opts) }}
}

// newClientCheckers shares client policies' checkers, and ends the key
// refreshes of the policies dropped.
func newClientCheckers(opts clientauth.Options) *shared[config.ClientAuth, *clientauth.Checker] {
	return &shared[config.ClientAuth, *clientauth.Checker]{
		build: func(a *config.ClientAuth) (*clientauth.Checker, error) { return clientauth.New(a, opts) },
		close: (*clientauth.Checker).Close,
	}
}
