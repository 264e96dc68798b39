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

package analysis

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/msvc-dev/msvc-operator/internal/testutil/promserver"
)

// This file runs the Prometheus provider against a real Prometheus server
// that scrapes an in-process exporter. It uses Unix process groups
// (through internal/testutil/promserver), so it builds on Linux and macOS only.

// exporter serves Prometheus text exposition whose values the test sets.
type exporter struct {
	mu       sync.Mutex
	requests map[string]float64 // http_requests_total{track="canary",code=...}
	ratio    float64            // canary_success_ratio{track="canary"}
}

func (e *exporter) set(code string, n float64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.requests[code] = n
}

func (e *exporter) setRatio(r float64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.ratio = r
}

func (e *exporter) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	e.mu.Lock()
	defer e.mu.Unlock()
	var b strings.Builder
	b.WriteString("# HELP http_requests_total Requests served.\n")
	b.WriteString("# TYPE http_requests_total counter\n")
	for _, code := range []string{"200", "500"} {
		if n, ok := e.requests[code]; ok {
			fmt.Fprintf(&b, "http_requests_total{track=\"canary\",code=%q} %s\n", code, formatNumber(n))
		}
	}
	b.WriteString("# HELP canary_success_ratio Share of successful canary requests.\n")
	b.WriteString("# TYPE canary_success_ratio gauge\n")
	fmt.Fprintf(&b, "canary_success_ratio{track=\"canary\"} %s\n", formatNumber(e.ratio))
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	_, _ = w.Write([]byte(b.String()))
}

// timeout passes, and returns the last value seen.
func waitForValue(t *testing.T, p Provider, query string, want float64, timeout time.Duration) Value {
	t.Helper()
	var (
		last    Value
		lastErr error
	)
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		last, lastErr = p.Query(ctx, query)
		cancel()
		if lastErr == nil && !last.NoData && last.Number == want {
			return last
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("query %s: want %v within %v, last value %+v, last error %v", query, want, timeout, last, lastErr)
	return last
}

func TestPrometheusIntegration(t *testing.T) {
	bin, err := promserver.Find()
	if err != nil {
		if os.Getenv("MSVC_SKIP_PROMETHEUS") == "1" {
			t.Skipf("prometheus not found (%v); skipped because MSVC_SKIP_PROMETHEUS=1", err)
		}
		t.Fatalf("prometheus not found: run hack/ensure-prometheus.sh (make test does) (%v)", err)
	}

	exp := &exporter{requests: map[string]float64{"200": 17}, ratio: 0.97}
	expSrv := httptest.NewServer(exp)
	t.Cleanup(expSrv.Close)
	expURL, err := url.Parse(expSrv.URL)
	if err != nil {
		t.Fatal(err)
	}

	prom, err := promserver.Start(bin, t.TempDir(), expURL.Host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := prom.Stop(); err != nil {
			t.Error(err)
		}
	})
	p, err := NewPrometheus(prom.URL, &http.Client{Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}

	requests, err := RenderQuery(`sum(http_requests_total{track="{{ .Track }}",code="200"})`, QueryVars{Track: "canary"})
	if err != nil {
		t.Fatal(err)
	}
	ratio, err := RenderQuery(`canary_success_ratio{track="{{ .Track }}"}`, QueryVars{Track: "canary"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	t.Run("counter value appears", func(t *testing.T) {
		waitForValue(t, p, requests, 17, 30*time.Second)
	})
	t.Run("gauge value appears and passes", func(t *testing.T) {
		v := waitForValue(t, p, ratio, 0.97, 10*time.Second)
		if phase, msg := Evaluate(v, nil, Condition{Min: ptr(0.95)}, NoDataFail); phase != PhaseSuccessful {
			t.Errorf("Evaluate = %s (%s), want Successful", phase, msg)
		}
	})
	t.Run("changed values are seen", func(t *testing.T) {
		exp.set("200", 42)
		exp.setRatio(0.93)
		waitForValue(t, p, requests, 42, 10*time.Second)
		v := waitForValue(t, p, ratio, 0.93, 10*time.Second)
		phase, msg := Evaluate(v, nil, Condition{Min: ptr(0.95)}, NoDataFail)
		if phase != PhaseFailed || !strings.Contains(msg, "0.93 is below the minimum 0.95") {
			t.Errorf("Evaluate = %s (%s), want Failed below the minimum", phase, msg)
		}
	})
	t.Run("missing metric is no data", func(t *testing.T) {
		v, err := p.Query(ctx, `sum(metric_that_does_not_exist{track="canary"})`)
		if err != nil || !v.NoData {
			t.Fatalf("Query = %+v, %v; want NoData", v, err)
		}
	})
	t.Run("two series must be aggregated", func(t *testing.T) {
		exp.set("500", 3)
		all := `http_requests_total{track="canary"}`
		waitForValue(t, p, `count(`+all+`)`, 2, 10*time.Second)
		_, err := p.Query(ctx, all)
		if err == nil || !strings.Contains(err.Error(), "2 series") {
			t.Fatalf("Query error = %v, want a 2-series error", err)
		}
		waitForValue(t, p, `sum(`+all+`)`, 45, 10*time.Second)
	})
	t.Run("scalar and NaN", func(t *testing.T) {
		v, err := p.Query(ctx, `2 * 21`)
		if err != nil || v.NoData || v.Number != 42 {
			t.Errorf("scalar query = %+v, %v; want 42", v, err)
		}
		v, err = p.Query(ctx, `0 / 0`)
		if err != nil || v.NoData || !math.IsNaN(v.Number) {
			t.Errorf("NaN query = %+v, %v; want NaN", v, err)
		}
		if phase, _ := Evaluate(v, err, Condition{Min: ptr(0)}, NoDataPass); phase != PhaseInconclusive {
			t.Errorf("Evaluate(NaN) = %s, want Inconclusive", phase)
		}
	})
	t.Run("bad query is a server error", func(t *testing.T) {
		_, err := p.Query(ctx, `sum(`)
		if err == nil || !strings.Contains(err.Error(), "bad_data") {
			t.Fatalf("Query error = %v, want a bad_data error", err)
		}
	})
	t.Run("stopped server is inconclusive", func(t *testing.T) {
		if err := prom.Stop(); err != nil {
			t.Fatal(err)
		}
		pid := prom.Pid()
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("prometheus pid %d still exists after stop (kill 0: %v)", pid, err)
		}
		v, err := p.Query(ctx, requests)
		if err == nil {
			t.Fatalf("Query after stop = %+v, want an error", v)
		}
		phase, msg := Evaluate(v, err, Condition{Min: ptr(1)}, NoDataFail)
		if phase != PhaseInconclusive || !strings.Contains(msg, "query failed") {
			t.Errorf("Evaluate = %s (%s), want Inconclusive with the query error", phase, msg)
		}
	})
}
