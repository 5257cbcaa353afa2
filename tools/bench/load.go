package main

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// result holds the latencies of one measurement.
type result struct {
	lat     []time.Duration
	count   int
	errors  int
	elapsed time.Duration
}

func (r result) rps() float64 { return float64(r.count) / r.elapsed.Seconds() }

// pct returns the p-th percentile latency.
func (r result) pct(p float64) time.Duration {
	if len(r.lat) == 0 {
		return 0
	}
	i := int(float64(len(r.lat)-1) * p / 100)
	return r.lat[i]
}

func (r *result) merge(o *result) {
	r.lat = append(r.lat, o.lat...)
	r.count += o.count
	r.errors += o.errors
}

func (r *result) finish(elapsed time.Duration) result {
	slices.Sort(r.lat)
	r.elapsed = elapsed
	return *r
}

func newClient(conns int) *http.Client {
	return &http.Client{Transport: &http.Transport{
		MaxIdleConns: conns * 2, MaxIdleConnsPerHost: conns * 2, MaxConnsPerHost: 0,
		IdleConnTimeout: 90 * time.Second, DisableCompression: true,
	}, Timeout: 30 * time.Second}
}

// call sends one request and returns the latency to the full body, or to
// the first byte of the body when firstByte is set.
func call(c *http.Client, url, body string, firstByte bool) (time.Duration, error) {
	start := time.Now()
	resp, err := c.Post(url+"/v1/chat/completions", "application/json", strings.NewReader(body))
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var d time.Duration
	if firstByte {
		var one [1]byte
		if _, err := io.ReadFull(resp.Body, one[:]); err != nil {
			return 0, err
		}
		d = time.Since(start)
	}
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return 0, err
	}
	if !firstByte {
		d = time.Since(start)
	}
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("status %d", resp.StatusCode)
	}
	return d, nil
}

// closedLoop runs workers that each send requests back to back.
func closedLoop(url, body string, workers int, d time.Duration) result {
	c := newClient(workers)
	defer c.CloseIdleConnections()
	deadline := time.Now().Add(d)
	start := time.Now()
	results := make([]result, workers)
	var wg sync.WaitGroup
	for i := range workers {
		wg.Add(1)
		go func(r *result) {
			defer wg.Done()
			for time.Now().Before(deadline) {
				lat, err := call(c, url, body, false)
				if err != nil {
					r.errors++
					continue
				}
				r.count++
				r.lat = append(r.lat, lat)
			}
		}(&results[i])
	}
	wg.Wait()
	var total result
	for i := range results {
		total.merge(&results[i])
	}
	return total.finish(time.Since(start))
}

// openLoop sends requests at a fixed rate whatever the latency, so a slow
// proxy cannot hide its latency by lowering the load (no coordinated
// omission: latency is measured from the scheduled send time).
func openLoop(url, body string, rate int, d time.Duration, firstByte bool) result {
	c := newClient(256)
	defer c.CloseIdleConnections()
	interval := time.Second / time.Duration(rate)
	n := int(d / interval)
	var mu sync.Mutex
	var total result
	var wg sync.WaitGroup
	start := time.Now()
	for i := range n {
		scheduled := start.Add(time.Duration(i) * interval)
		if wait := time.Until(scheduled); wait > 0 {
			time.Sleep(wait)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			lat, err := call(c, url, body, firstByte)
			late := time.Since(scheduled) - lat // time spent before the send, if any
			if late < 0 || firstByte {
				late = 0
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				total.errors++
				return
			}
			total.count++
			total.lat = append(total.lat, lat+late)
		}()
	}
	wg.Wait()
	return total.finish(time.Since(start))
}

// holdStreams opens n streams that the upstream keeps open after their
// first event, and returns a function that lets them finish.
func holdStreams(url string, n int, up *upstream) (func(), int, error) {
	c := newClient(n)
	var wg sync.WaitGroup
	opened := make(chan *http.Response, n)
	errs := make(chan error, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := c.Post(url+"/v1/chat/completions", "application/json", strings.NewReader(holdBody))
			if err != nil {
				errs <- err
				return
			}
			if _, err := bufio.NewReader(resp.Body).ReadString('\n'); err != nil {
				resp.Body.Close()
				errs <- err
				return
			}
			opened <- resp
		}()
	}
	wg.Wait()
	close(opened)
	close(errs)
	var resps []*http.Response
	for r := range opened {
		resps = append(resps, r)
	}
	if len(resps) == 0 {
		return nil, 0, fmt.Errorf("no stream opened: %v", <-errs)
	}
	time.Sleep(500 * time.Millisecond) // let the proxy settle its buffers
	return func() {
		up.release()
		for _, r := range resps {
			_, _ = io.Copy(io.Discard, r.Body)
			r.Body.Close()
		}
		c.CloseIdleConnections()
	}, len(resps), nil
}
