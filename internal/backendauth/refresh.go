package backendauth

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Credential refresh: a credential is refreshed in the background once
// less than refreshBefore of its life is left (at most once per
// retryEvery), and not used within expirySkew of its expiry (clocks and
// the request's own time).
const (
	refreshBefore = 5 * time.Minute
	retryEvery    = 30 * time.Second
	expirySkew    = 30 * time.Second
	fetchTimeout  = 30 * time.Second
)

// refresher caches a credential that expires: a request never waits for
// one while the cached one is valid. Near its expiry one background
// refresh replaces it; a refresh that fails is logged and the old
// credential serves until it expires (the next request then fetches, and
// fails with the reason).
type refresher[T any] struct {
	policy string
	// what names the credential in log lines ("Azure access token").
	what string
	// fetch gets a fresh credential and its expiry (zero: never expires).
	// Its error must name no secret.
	fetch  func(context.Context) (T, time.Time, error)
	logger *slog.Logger
	now    func() time.Time

	mu         sync.Mutex
	val        T
	expires    time.Time
	have       bool
	refreshing bool
	lastTry    time.Time
	// fetching serializes blocking fetches (no valid credential cached).
	fetching sync.Mutex
}

// get returns a valid credential: the cached one (starting its refresh
// when it nears expiry), else a fresh one.
func (r *refresher[T]) get(ctx context.Context) (T, error) {
	if v, ok := r.cached(); ok {
		return v, nil
	}
	r.fetching.Lock()
	defer r.fetching.Unlock()
	if v, ok := r.cached(); ok { // fetched while this one waited
		return v, nil
	}
	return r.load(ctx)
}

// cached returns the cached credential if it is valid, and starts a
// background refresh once it nears expiry.
func (r *refresher[T]) cached() (T, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var zero T
	if !r.have {
		return zero, false
	}
	if r.expires.IsZero() {
		return r.val, true
	}
	now := r.now()
	if !now.Before(r.expires.Add(-expirySkew)) {
		return zero, false
	}
	if !r.refreshing && !now.Before(r.expires.Add(-refreshBefore)) && now.Sub(r.lastTry) >= retryEvery {
		r.refreshing, r.lastTry = true, now
		go r.refresh()
	}
	return r.val, true
}

// refresh replaces the credential in the background.
func (r *refresher[T]) refresh() {
	ctx, cancel := context.WithTimeout(context.Background(), fetchTimeout)
	defer cancel()
	_, err := r.load(ctx)
	r.mu.Lock()
	r.refreshing = false
	expires := r.expires
	r.mu.Unlock()
	if err != nil {
		r.logger.Warn("refreshing the backend's credential failed: the current one serves until it expires",
			"policy", r.policy, "credential", r.what, "expires", expires, "error", err)
	}
}

// load fetches a credential and caches it unless a fresher one is cached.
func (r *refresher[T]) load(ctx context.Context) (T, error) {
	v, expires, err := r.fetch(ctx)
	if err != nil {
		var zero T
		return zero, err
	}
	r.mu.Lock()
	if !r.have || expires.IsZero() || expires.After(r.expires) {
		r.val, r.expires, r.have = v, expires, true
	}
	r.mu.Unlock()
	return v, nil
}
