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

// clientCheckers shares one client policy checker per policy — and so
// one set of fetched JWT keys — across routes and reloads, and ends the
// key refreshes of the policies a configuration no longer uses.
type clientCheckers struct {
	opts clientauth.Options

	mu    sync.Mutex
	byKey map[[sha256.Size]byte]*clientauth.Checker
}

// get returns the checker of a policy (nil for none) and its key.
func (c *clientCheckers) get(a *config.ClientAuth) (*clientauth.Checker, [sha256.Size]byte, error) {
	if a == nil {
		return nil, [sha256.Size]byte{}, nil
	}
	enc, err := json.Marshal(a)
	if err != nil {
		return nil, [sha256.Size]byte{}, err
	}
	key := sha256.Sum256(enc)
	c.mu.Lock()
	defer c.mu.Unlock()
	if ch, ok := c.byKey[key]; ok {
		return ch, key, nil
	}
	ch, err := clientauth.New(a, c.opts)
	if err != nil {
		return nil, key, err
	}
	if c.byKey == nil {
		c.byKey = map[[sha256.Size]byte]*clientauth.Checker{}
	}
	c.byKey[key] = ch
	return ch, key, nil
}

// retain closes and forgets the policies a configuration no longer uses.
func (c *clientCheckers) retain(keys map[[sha256.Size]byte]bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, ch := range c.byKey {
		if !keys[k] {
			ch.Close()
			delete(c.byKey, k)
		}
	}
}

// close closes every checker.
func (c *clientCheckers) close() { c.retain(nil) }
