package processor

import (
	"crypto/sha256"
	"encoding/json"
	"sync"

	"github.com/aigw-dev/aigw/internal/backendauth"
	"github.com/aigw-dev/aigw/internal/config"
	"github.com/aigw-dev/aigw/internal/llm"
)

// authenticators shares one authenticator per credential — and so one
// token cache — across the backends a policy targets and across reloads:
// a reload that leaves a credential unchanged keeps its tokens.
type authenticators struct {
	opts backendauth.Options

	mu    sync.Mutex
	byKey map[[sha256.Size]byte]llm.Authenticator
}

// get returns the authenticator of a credential (nil for none) and its
// key.
func (a *authenticators) get(auth *config.Auth) (llm.Authenticator, [sha256.Size]byte, error) {
	if auth == nil {
		return nil, [sha256.Size]byte{}, nil
	}
	enc, err := json.Marshal(auth) // every field, secrets included: a rotated key is another credential
	if err != nil {
		return nil, [sha256.Size]byte{}, err
	}
	key := sha256.Sum256(enc)
	a.mu.Lock()
	defer a.mu.Unlock()
	if h, ok := a.byKey[key]; ok {
		return h, key, nil
	}
	h, err := backendauth.New(auth, a.opts)
	if err != nil {
		return nil, key, err
	}
	if a.byKey == nil {
		a.byKey = map[[sha256.Size]byte]llm.Authenticator{}
	}
	a.byKey[key] = h
	return h, key, nil
}

// retain forgets the credentials a configuration no longer uses.
func (a *authenticators) retain(keys map[[sha256.Size]byte]bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for k := range a.byKey {
		if !keys[k] {
			delete(a.byKey, k)
		}
	}
}
