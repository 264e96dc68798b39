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

package load

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// failingServer answers with X-Version v1 and fails 3 requests in 10, in
// turn, so that the counts are exact.
func failingServer(t *testing.T) (*httptest.Server, *atomic.Int64, *sync.Map) {
	t.Helper()
	var n atomic.Int64
	var hosts sync.Map
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hosts.Store(r.Host, true)
		w.Header().Set("X-Version", "v1")
		if n.Add(1)%10 < 3 {
			w.WriteHeader(http.StatusInternalServerError)
		}
		_, _ = w.Write([]byte("v1\n"))
	}))
	t.Cleanup(srv.Close)
	return srv, &n, &hosts
}

func TestRunHoldsTheRateAndStopsAtTheDuration(t *testing.T) {
	srv, served, hosts := failingServer(t)
	var seconds []Second
	sum, err := Run(context.Background(), Config{
		URL: srv.URL + "/api", Host: "shop.example.test", Rate: 200, Duration: 2 * time.Second, MaxRequests: 10000,
	}, func(s Second) { seconds = append(seconds, s) })
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("sent %d in %s (%.1f a second), %d failed, p50 %s, p99 %s",
		sum.Sent, sum.Elapsed.Round(time.Millisecond), sum.Rate(), sum.ByCode[500], sum.P50, sum.P99)

	if sum.Sent != 400 || sum.Dropped != 0 {
		t.Errorf("sent %d, dropped %d; want 400 (200 a second for 2s), none dropped", sum.Sent, sum.Dropped)
	}
	if sum.Elapsed < 1900*time.Millisecond || sum.Elapsed > 3*time.Second {
		t.Errorf("the run took %s, want about 2s", sum.Elapsed)
	}
	// The counts add up, every way.
	if sum.Completed != sum.Sent || int64(sum.Completed) != served.Load() {
		t.Errorf("completed %d of %d sent; the server answered %d", sum.Completed, sum.Sent, served.Load())
	}
	if sum.ByCode[200]+sum.ByCode[500] != sum.Completed || sum.ByVersion["v1"] != sum.Completed ||
		sum.ByVersionCode["v1"][500] != sum.ByCode[500] || len(sum.Errors) != 0 {
		t.Errorf("counts do not add up: %+v", sum.Totals)
	}
	if sum.ByCode[500] != 120 {
		t.Errorf("%d answers were 500, want 120: 3 in 10 of 400", sum.ByCode[500])
	}
	if sum.ServerErrors() != sum.ByCode[500] || sum.Share("v1") != 1 {
		t.Errorf("ServerErrors %d, Share(v1) %v", sum.ServerErrors(), sum.Share("v1"))
	}
	if _, ok := hosts.Load("shop.example.test"); !ok {
		t.Error("the requests did not carry the Host header")
	}

	// Two full seconds and a last, partial one.
	if len(seconds) < 2 || len(seconds) > 4 {
		t.Fatalf("%d seconds reported, want 2 or 3", len(seconds))
	}
	sent, completed := 0, 0
	for i, s := range seconds {
		sent += s.Sent
		completed += s.Completed
		if i < 2 && (s.Sent < 180 || s.Sent > 220) {
			t.Errorf("second %d: sent %d, want about 200", i+1, s.Sent)
		}
	}
	if sent != sum.Sent || completed != sum.Completed {
		t.Errorf("the seconds add up to %d sent and %d completed, the summary says %d and %d",
			sent, completed, sum.Sent, sum.Completed)
	}
}

func TestRunStopsAtMaxRequests(t *testing.T) {
	srv, served, _ := failingServer(t)
	start := time.Now()
	sum, err := Run(context.Background(), Config{URL: srv.URL, Rate: 100, Duration: time.Minute, MaxRequests: 50}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Sent != 50 || served.Load() != 50 {
		t.Errorf("sent %d, served %d; want 50", sum.Sent, served.Load())
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("the run took %s: 50 requests at 100 a second take half a second", took)
	}
}

func TestRunStopsAtTheEndOfItsContext(t *testing.T) {
	srv, _, _ := failingServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	sum, err := Run(ctx, Config{URL: srv.URL, Rate: 100, Duration: time.Minute, MaxRequests: 100000}, nil)
	if err != nil {
		t.Fatalf("Run ended with %v; the end of the context is a normal stop", err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("the run took %s after a context of 300ms", took)
	}
	if sum.Sent < 20 || sum.Sent > 40 || sum.Completed != sum.Sent || len(sum.Errors) != 0 {
		t.Errorf("sent %d, completed %d, errors %v; want about 30 sent, all answered", sum.Sent, sum.Completed, sum.Errors)
	}
}

func TestRunDropsWhatTheInFlightBoundHoldsBack(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-time.After(5 * time.Second):
		}
		w.Header().Set("X-Version", "slow")
	}))
	defer srv.Close()
	rec := NewRecorder()
	done := make(chan Summary)
	go func() {
		sum, err := Run(context.Background(), Config{
			URL: srv.URL, Rate: 100, Duration: time.Second, MaxRequests: 1000, MaxInFlight: 5, Recorder: rec,
		}, nil)
		if err != nil {
			t.Error(err)
		}
		done <- sum
	}()
	// A caller reads windows while the run goes on.
	time.Sleep(500 * time.Millisecond)
	if w := rec.Window(time.Now().Add(-time.Minute), time.Now()); w.Completed != 0 {
		t.Errorf("%d results while the server holds every answer", w.Completed)
	}
	time.Sleep(700 * time.Millisecond)
	close(release)
	sum := <-done
	if sum.Sent != 5 || sum.Dropped != 95 || sum.ByVersion["slow"] != 5 {
		t.Errorf("sent %d, dropped %d, answered by slow %d; want 5, 95, 5", sum.Sent, sum.Dropped, sum.ByVersion["slow"])
	}
}

func TestRunCountsTransportErrorsByClass(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	sum, err := Run(context.Background(), Config{URL: "http://" + addr + "/", Rate: 100, Duration: time.Second, MaxRequests: 20}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Completed != 20 || sum.ByCode[0] != 20 || sum.Errors["connection refused"] != 20 || sum.ByVersion[""] != 20 {
		t.Errorf("against a closed port: %+v", sum.Totals)
	}
	if sum.Share("v1") != 0 || len(sum.Versions()) != 0 {
		t.Errorf("Share %v, Versions %v; nothing answered", sum.Share("v1"), sum.Versions())
	}
}

func TestFailuresKeepTheFirstLineOfWhatTheyAnswered(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Version", "sf-1")
		if n.Add(1) == 2 {
			w.WriteHeader(http.StatusBadGateway)
			_, _ = w.Write([]byte("sf-1: calling http://checkout: connection refused\nsecond line\n"))
			return
		}
		_, _ = w.Write([]byte("sf-1\n"))
	}))
	t.Cleanup(srv.Close)
	rec := NewRecorder()
	if _, err := Run(context.Background(), Config{URL: srv.URL, Rate: 100, Duration: time.Minute, MaxRequests: 5, Recorder: rec}, nil); err != nil {
		t.Fatal(err)
	}
	all := rec.Failures(time.Time{}, time.Now().Add(time.Hour), 10)
	if len(all) != 1 || all[0].Code != http.StatusBadGateway || all[0].Detail != "sf-1: calling http://checkout: connection refused" {
		t.Errorf("failures %+v, want the one 502 with the first line of its body", all)
	}
	if w := rec.Window(time.Time{}, time.Now().Add(time.Hour)); w.Completed != 5 || w.ByCode[200] != 4 {
		t.Errorf("totals %+v, want 5 completed, 4 answered 200", w)
	}
}
