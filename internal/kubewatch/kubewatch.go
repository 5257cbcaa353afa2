// Package kubewatch runs controller-runtime informers over one namespace and
// calls back with a cache reader whenever any watched object changes: the
// loop behind the endpoint picker's Kubernetes sources (internal/podsource,
// internal/policysource), which recompute their whole output from the
// cache on every change instead of applying events one by one.
//
// No manager, metrics server, health probe or leader election is involved.
package kubewatch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Options configures [Run].
type Options struct {
	// Scheme knows every watched type. Required.
	Scheme *runtime.Scheme
	// Namespace is the only namespace cached. Required.
	Namespace string
	// Objects are the types watched (one informer each). Required.
	Objects []client.Object
	// ByObject narrows the cache per type (field or label selectors).
	ByObject map[client.Object]cache.ByObject
	// Logger receives watch errors; nil discards them.
	Logger *slog.Logger
	// Name prefixes log messages and errors (e.g. "podsource").
	Name string
}

// Run starts the informers, waits for their caches to sync, then calls
// sync once and again after every add, update or delete of a watched
// object (bursts coalesce into one call; periodic resyncs are skipped),
// until ctx ends; then it stops the informers and returns nil. sync is
// never called concurrently. Run fails early when the cache cannot be set
// up (e.g. a watched CRD is not installed).
func Run(ctx context.Context, cfg *rest.Config, o Options, sync func(context.Context, client.Reader)) error {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c, err := cache.New(cfg, cache.Options{
		Scheme:                      o.Scheme,
		DefaultNamespaces:           map[string]cache.Config{o.Namespace: {}},
		DefaultTransform:            cache.TransformStripManagedFields(),
		DefaultWatchErrorHandler:    watchErrorLogger(log, o.Name),
		ReaderFailOnMissingInformer: true,
		ByObject:                    o.ByObject,
	})
	if err != nil {
		return fmt.Errorf("%s: cache for namespace %s: %w", o.Name, o.Namespace, err)
	}

	// Every event only wakes the loop below.
	wake := make(chan struct{}, 1)
	notify := func() {
		select {
		case wake <- struct{}{}:
		default:
		}
	}
	handler := toolscache.ResourceEventHandlerFuncs{
		AddFunc: func(any) { notify() },
		UpdateFunc: func(oldObj, newObj any) {
			if !sameVersion(oldObj, newObj) { // skip periodic resyncs
				notify()
			}
		},
		DeleteFunc: func(any) { notify() },
	}
	for _, obj := range o.Objects {
		inf, err := c.GetInformer(ctx, obj, cache.BlockUntilSynced(false))
		if err != nil {
			return fmt.Errorf("%s: watch %T in namespace %s: %w", o.Name, obj, o.Namespace, err)
		}
		if _, err := inf.AddEventHandler(handler); err != nil {
			return fmt.Errorf("%s: watch %T in namespace %s: %w", o.Name, obj, o.Namespace, err)
		}
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cacheDone := make(chan error, 1)
	go func() { cacheDone <- c.Start(ctx) }()
	stop := func() error {
		cancel()
		if err := <-cacheDone; err != nil {
			return fmt.Errorf("%s: cache: %w", o.Name, err)
		}
		return nil
	}
	if !c.WaitForCacheSync(ctx) {
		return stop() // ctx ended before the caches synced
	}
	for {
		sync(ctx, c)
		select {
		case <-ctx.Done():
			return stop()
		case <-wake:
		}
	}
}

// watchErrorLogger logs why an informer's list or watch failed (e.g.
// missing RBAC permissions); the informer backs off and retries. It mirrors
// client-go's DefaultWatchErrorHandler, which logs to klog instead.
func watchErrorLogger(log *slog.Logger, name string) toolscache.WatchErrorHandlerWithContext {
	return func(ctx context.Context, r *toolscache.Reflector, err error) {
		switch {
		case ctx.Err() != nil, errors.Is(err, io.EOF):
			// Shutting down, or the watch closed normally.
		case apierrors.IsResourceExpired(err), apierrors.IsGone(err), errors.Is(err, io.ErrUnexpectedEOF):
			log.Debug(name+": watch closed", "type", r.TypeDescription(), "error", err)
		default:
			log.Warn(name+": watch failed, retrying", "type", r.TypeDescription(), "error", err)
		}
	}
}

// sameVersion reports whether an update carries the same resourceVersion,
// as the informers' periodic resyncs do.
func sameVersion(oldObj, newObj any) bool {
	o, ok1 := oldObj.(client.Object)
	n, ok2 := newObj.(client.Object)
	return ok1 && ok2 && o.GetResourceVersion() == n.GetResourceVersion()
}
