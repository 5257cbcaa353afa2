package sim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// shutdownGrace is how long servers wait for in-flight requests when the
// context ends.
const shutdownGrace = 5 * time.Second

// Cluster is the set of servers [Start] runs: Instances × DataParallelSize
// independent instances, each on its own port.
type Cluster struct {
	instances []*Instance
	addrs     []string
	done      chan struct{}
	stop      context.CancelFunc // stops the cluster early when a server fails
	err       error
}

// Start starts opts.Instances (× data-parallel ranks) servers on listeners it
// opens itself (port 0 = pick free ports) and returns once they accept
// connections; they stop when ctx ends.
func Start(ctx context.Context, opts Options, logger *slog.Logger) (*Cluster, error) {
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("invalid options: %w", err)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	n := opts.Instances * opts.DataParallelSize
	var lc net.ListenConfig
	listeners := make([]net.Listener, 0, n)
	closeAll := func() {
		for _, ln := range listeners {
			_ = ln.Close()
		}
	}
	for i := range n {
		port := 0
		if opts.Port != 0 {
			port = opts.Port + i
		}
		ln, err := lc.Listen(ctx, "tcp", net.JoinHostPort(opts.Host, strconv.Itoa(port)))
		if err != nil {
			closeAll()
			return nil, fmt.Errorf("instance %d: %w", i, err)
		}
		listeners = append(listeners, ln)
	}

	runCtx, stop := context.WithCancel(ctx)
	c := &Cluster{done: make(chan struct{}), stop: stop}
	servers := make([]*http.Server, n)
	for i, ln := range listeners {
		name := ln.Addr().String()
		inst, err := newInstance(runCtx, opts, name, i%opts.DataParallelSize, logger)
		if err != nil {
			stop()
			closeAll()
			return nil, fmt.Errorf("instance %s: %w", name, err)
		}
		c.instances = append(c.instances, inst)
		c.addrs = append(c.addrs, name)
		servers[i] = &http.Server{
			Handler:           inst,
			ReadHeaderTimeout: 30 * time.Second,
			// vLLM runs uvicorn with a 5 s keep-alive timeout; gateways see idle
			// upstream connections close just as often.
			IdleTimeout: 5 * time.Second,
			ErrorLog:    slog.NewLogLogger(logger.Handler(), slog.LevelDebug),
		}
	}

	errs := make([]error, n)
	var serving sync.WaitGroup
	for i := range servers {
		serving.Go(func() {
			if err := servers[i].Serve(listeners[i]); !errors.Is(err, http.ErrServerClosed) {
				errs[i] = fmt.Errorf("instance %s: %w", c.addrs[i], err)
				c.stop()
			}
		})
	}
	go func() {
		<-runCtx.Done()
		// The engines stop with runCtx, which ends every in-flight stream, so
		// Shutdown normally returns at once.
		grace, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
		defer cancel()
		var shutdowns sync.WaitGroup
		for _, srv := range servers {
			shutdowns.Go(func() {
				if srv.Shutdown(grace) != nil {
					_ = srv.Close()
				}
			})
		}
		shutdowns.Wait()
	}()
	go func() {
		serving.Wait()
		for _, inst := range c.instances {
			<-inst.Done()
		}
		c.err = errors.Join(errs...)
		close(c.done)
	}()
	for i, a := range c.addrs {
		logger.Info("model server simulator listening", "instance", i, "addr", a, "model", opts.servedNames()[0])
	}
	return c, nil
}

// Addrs returns the "host:port" of each instance, in port order.
func (c *Cluster) Addrs() []string { return append([]string(nil), c.addrs...) }

// Instance returns instance i, in the order of Addrs.
func (c *Cluster) Instance(i int) *Instance { return c.instances[i] }

// Wait blocks until every server and engine has stopped and returns the
// errors of servers that failed other than by shutting down.
func (c *Cluster) Wait() error {
	<-c.done
	return c.err
}
