/*
Copyright 2026 The msvc-operator Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

// Package load sends HTTP requests at a steady rate and counts the answers
// by version (the X-Version header test/dataplane/testapp sets) and by
// status, per second and over time windows, so that end-to-end tests can
// ask which share of the traffic a canary received and how much of it failed.
//
// The model is open: requests are sent on a schedule, whether or not the
// earlier ones have been answered, as real clients do; a bounded number are
// in flight at once, and a request the bound does not let out is counted as
// dropped rather than sent late.
package load

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

const (
	// DefaultTimeout bounds each request when Config.Timeout is zero.
	DefaultTimeout = 2 * time.Second
	// DefaultMaxInFlight bounds the requests in flight when
	// Config.MaxInFlight is zero.
	DefaultMaxInFlight = 64
	// maxBody is how much of a response body is read, so that the
	// connection can be reused.
	maxBody = 1 << 20
	// maxDetail is how much of a failed answer's body Result.Detail keeps.
	maxDetail = 200
)

// Config is one run. Every run is bounded: Rate, Duration and MaxRequests
// must all be positive, and the run stops at whichever of Duration,
// MaxRequests and the end of its context comes first.
type Config struct {
	// URL is requested with GET.
	URL string
	// Host, when set, is the requests' Host header (a Gateway listener's
	// hostname).
	Host string
	// Rate is the number of requests a second.
	Rate int
	// Duration is how long requests are sent for.
	Duration time.Duration
	// MaxRequests bounds the requests scheduled, dropped ones included.
	MaxRequests int
	// Timeout bounds each request; DefaultTimeout when zero.
	Timeout time.Duration
	// MaxInFlight bounds the requests in flight; DefaultMaxInFlight when
	// zero.
	MaxInFlight int
	// Recorder receives every result. A caller that counts windows while
	// the run goes on passes its own; nil makes a private one.
	Recorder *Recorder
	// Header is sent with every request (for example the header of a
	// canary match).
	Header http.Header
}

// Second is what one second of a run did. Its counts are of the results
// that arrived during the second; Sent and Dropped of the requests
// scheduled during it.
type Second struct {
	Start time.Time `json:"start"`
	Totals
	Sent    int `json:"sent"`
	Dropped int `json:"dropped"`
}

// Summary is the whole run.
type Summary struct {
	Start   time.Time     `json:"start"`
	Elapsed time.Duration `json:"elapsed"`
	Totals
	Sent    int           `json:"sent"`
	Dropped int           `json:"dropped"`
	P50     time.Duration `json:"p50"`
	P99     time.Duration `json:"p99"`
}

// Rate is the number of requests sent a second.
func (s Summary) Rate() float64 {
	if s.Elapsed <= 0 {
		return 0
	}
	return float64(s.Sent) / s.Elapsed.Seconds()
}

// validate checks cfg and fills in its defaults.
func (cfg Config) validate() (Config, error) {
	var errs []error
	u, err := url.Parse(cfg.URL)
	switch {
	case cfg.URL == "":
		errs = append(errs, errors.New("the URL is empty"))
	case err != nil:
		errs = append(errs, fmt.Errorf("the URL %q does not parse: %w", cfg.URL, err))
	case u.Scheme != "http" && u.Scheme != "https", u.Host == "":
		errs = append(errs, fmt.Errorf("the URL %q is not an http:// or https:// URL with a host", cfg.URL))
	}
	if cfg.Rate <= 0 {
		errs = append(errs, fmt.Errorf("the rate is %d requests a second: it must be positive", cfg.Rate))
	}
	if cfg.Duration <= 0 {
		errs = append(errs, fmt.Errorf("the duration is %s: it must be positive, so that the run ends", cfg.Duration))
	}
	if cfg.MaxRequests <= 0 {
		errs = append(errs, fmt.Errorf("the maximum number of requests is %d: it must be positive, so that the run ends", cfg.MaxRequests))
	}
	if cfg.Timeout < 0 || cfg.MaxInFlight < 0 {
		errs = append(errs, errors.New("the timeout and the maximum in flight must not be negative"))
	}
	if err := errors.Join(errs...); err != nil {
		return cfg, fmt.Errorf("invalid load: %w", err)
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.MaxInFlight == 0 {
		cfg.MaxInFlight = DefaultMaxInFlight
	}
	if cfg.Recorder == nil {
		cfg.Recorder = NewRecorder()
	}
	return cfg, nil
}

// Run sends cfg's requests and returns their summary. onSecond, when not
// nil, is called at the end of every second, and once more for the last,
// partial one, from Run's goroutine: it must return quickly. Requests in
// flight when the run stops are waited for (each is bounded by the
// timeout); the end of ctx stops the run without failing it.
func Run(ctx context.Context, cfg Config, onSecond func(Second)) (Summary, error) {
	cfg, err := cfg.validate()
	if err != nil {
		return Summary{}, err
	}
	transport := &http.Transport{
		// Never a proxy from the environment: the target is local.
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: cfg.Timeout}).DialContext,
		MaxIdleConns:        cfg.MaxInFlight,
		MaxIdleConnsPerHost: cfg.MaxInFlight,
		IdleConnTimeout:     30 * time.Second,
	}
	defer transport.CloseIdleConnections()
	client := &http.Client{
		Transport: transport,
		Timeout:   cfg.Timeout,
		// A redirect is an answer to count, not to follow.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	// Requests in flight outlive ctx, within their timeout, so that the end
	// of the run is not counted as errors.
	reqCtx := context.WithoutCancel(ctx)
	rec := cfg.Recorder

	var inFlight sync.WaitGroup
	slots := make(chan struct{}, cfg.MaxInFlight)
	send := func() {
		defer func() {
			<-slots
			inFlight.Done()
		}()
		rec.Record(do(reqCtx, client, cfg))
	}

	// Requests are due at start, start+1/Rate, ...: by the time t, the
	// floor(t*Rate)+1 first, and no more than the duration holds.
	limit := min(cfg.MaxRequests, int(math.Ceil(cfg.Duration.Seconds()*float64(cfg.Rate))))
	start := time.Now()
	scheduled, sent, dropped := 0, 0, 0
	schedule := func(now time.Time) {
		due := min(int(now.Sub(start).Seconds()*float64(cfg.Rate))+1, limit)
		for ; scheduled < due; scheduled++ {
			select {
			case slots <- struct{}{}:
				sent++
				inFlight.Add(1)
				go send()
			default:
				dropped++
			}
		}
	}

	period := max(time.Second/time.Duration(cfg.Rate), time.Millisecond)
	ticker := time.NewTicker(period)
	defer ticker.Stop()
	seconds := time.NewTicker(time.Second)
	defer seconds.Stop()
	end := time.NewTimer(cfg.Duration)
	defer end.Stop()

	secStart, secSent, secDropped := start, 0, 0
	report := func(now time.Time) {
		if onSecond != nil {
			onSecond(Second{Start: secStart, Totals: rec.Window(secStart, now), Sent: sent - secSent, Dropped: dropped - secDropped})
		}
		secStart, secSent, secDropped = now, sent, dropped
	}

	schedule(start)
loop:
	for scheduled < limit {
		select {
		case <-ctx.Done():
			break loop
		case <-end.C:
			break loop
		case now := <-ticker.C:
			schedule(now)
		case now := <-seconds.C:
			report(now)
		}
	}
	ticker.Stop()
	// The seconds go on being reported while the last requests finish.
	waited := make(chan struct{})
	go func() {
		inFlight.Wait()
		close(waited)
	}()
wait:
	for {
		select {
		case <-waited:
			break wait
		case now := <-seconds.C:
			report(now)
		}
	}
	finished := time.Now()
	report(finished)

	latencies := rec.Latencies(start, finished.Add(time.Nanosecond))
	return Summary{
		Start:   start,
		Elapsed: finished.Sub(start),
		Totals:  rec.Window(start, finished.Add(time.Nanosecond)),
		Sent:    sent,
		Dropped: dropped,
		P50:     percentile(latencies, 50),
		P99:     percentile(latencies, 99),
	}, nil
}

// do sends one request and returns its result.
func do(ctx context.Context, client *http.Client, cfg Config) Result {
	began := time.Now()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, cfg.URL, nil)
	if err != nil {
		return Result{Error: ErrorClass(err), Latency: time.Since(began)}
	}
	if cfg.Host != "" {
		req.Host = cfg.Host
	}
	for k, vs := range cfg.Header {
		req.Header[k] = vs
	}
	resp, err := client.Do(req)
	if err != nil {
		return Result{Error: ErrorClass(err), Latency: time.Since(began)}
	}
	defer func() { _ = resp.Body.Close() }() // read to the end below, or cut short and counted
	r := Result{Version: resp.Header.Get("X-Version"), Chain: resp.Header.Get("X-Chain"), Code: resp.StatusCode}
	body := io.LimitReader(resp.Body, maxBody)
	if resp.StatusCode >= 300 {
		head := make([]byte, maxDetail)
		var n int
		n, err = io.ReadFull(body, head)
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			err = nil
		}
		r.Detail, _, _ = strings.Cut(string(head[:n]), "\n")
	}
	if err == nil {
		_, err = io.Copy(io.Discard, body)
	}
	if err != nil {
		// An answer cut short is a transport error, whatever its status.
		r.Code, r.Error = 0, ErrorClass(err)
	}
	r.Latency = time.Since(began)
	return r
}
