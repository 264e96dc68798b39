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
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestNewPrometheusValidatesAddress(t *testing.T) {
	tests := []struct {
		address string
		wantErr string
	}{
		{address: "http://prometheus.monitoring:9090"},
		{address: "https://prometheus.example.com"},
		{address: "http://127.0.0.1:9090/prefix/"},
		{address: " http://prometheus:9090 "},
		{address: "", wantErr: "scheme must be http or https"},
		{address: "prometheus.monitoring:9090", wantErr: "scheme must be http or https"},
		{address: "ftp://prometheus:9090", wantErr: "scheme must be http or https"},
		{address: "http://", wantErr: "host is required"},
		{address: "http://:9090", wantErr: "host is required"},
		{address: "http:///api", wantErr: "host is required"},
		{address: "http://prometheus:9090?x=1", wantErr: "query string"},
		{address: "http://user:pw@prometheus:9090", wantErr: "credentials"},
		{address: "http://prom etheus:9090", wantErr: "invalid Prometheus address"},
	}
	for _, tc := range tests {
		t.Run(tc.address, func(t *testing.T) {
			p, err := NewPrometheus(tc.address, nil)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("NewPrometheus(%q) error = %v, want one containing %q", tc.address, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("NewPrometheus(%q) unexpected error: %v", tc.address, err)
			}
			if p == nil {
				t.Fatalf("NewPrometheus(%q) returned a nil Provider", tc.address)
			}
		})
	}
}

func TestNewPrometheusDefaultTimeout(t *testing.T) {
	p, err := NewPrometheus("http://prometheus:9090", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := p.(*prometheus).client.Timeout; got != 10*time.Second {
		t.Errorf("default client timeout = %v, want 10s", got)
	}
}

func TestSharedHTTPClientReusesConnectionsAcrossProviders(t *testing.T) {
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"status":"success","data":{"resultType":"scalar","result":[1700000000,"1"]}}`)
	}))
	srv.Config.ConnState = func(_ net.Conn, state http.ConnState) {
		if state == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)

	client := NewHTTPClient()
	if client.Timeout != 0 {
		t.Errorf("shared client timeout = %v, want none: each query's context carries its own", client.Timeout)
	}
	for i := range 5 {
		// A provider per measurement, as the reconciler makes them.
		p, err := NewPrometheus(srv.URL, client)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.Query(context.Background(), "up"); err != nil {
			t.Fatalf("query %d: %v", i, err)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("5 queries through 5 providers opened %d connections, want 1", n)
	}
}

// fakePrometheus serves body with status for POST /api/v1/query and checks
// that the request carries wantQuery.
func fakePrometheus(t *testing.T, wantQuery string, status int, body string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			t.Errorf("method = %s, want POST", r.Method)
		}
		if r.URL.Path != "/api/v1/query" {
			t.Errorf("path = %s, want /api/v1/query", r.URL.Path)
		}
		if err := r.ParseForm(); err != nil {
			t.Errorf("parsing form: %v", err)
		}
		if got := r.PostForm.Get("query"); got != wantQuery {
			t.Errorf("form query = %q, want %q", got, wantQuery)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestPrometheusQuery(t *testing.T) {
	const query = `sum(rate(http_requests_total{app="shop"}[1m]))`
	tests := []struct {
		name    string
		status  int
		body    string
		want    Value
		wantNaN bool
		wantErr string
	}{
		{
			name:   "scalar",
			status: 200,
			body:   `{"status":"success","data":{"resultType":"scalar","result":[1700000000.123,"0.99"]}}`,
			want:   Value{Number: 0.99},
		},
		{
			name:   "vector with one series",
			status: 200,
			body:   `{"status":"success","data":{"resultType":"vector","result":[{"metric":{"app":"shop"},"value":[1700000000,"42.5"]}]}}`,
			want:   Value{Number: 42.5},
		},
		{
			name:   "vector with one series and no labels",
			status: 200,
			body:   `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1700000000,"3"]}]}}`,
			want:   Value{Number: 3},
		},
		{
			name:   "empty vector",
			status: 200,
			body:   `{"status":"success","data":{"resultType":"vector","result":[]}}`,
			want:   Value{NoData: true},
		},
		{
			name:   "+Inf value",
			status: 200,
			body:   `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1700000000,"+Inf"]}]}}`,
			want:   Value{Number: math.Inf(1)},
		},
		{
			name:    "NaN value",
			status:  200,
			body:    `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1700000000,"NaN"]}]}}`,
			wantNaN: true,
		},
		{
			name:    "NaN scalar",
			status:  200,
			body:    `{"status":"success","data":{"resultType":"scalar","result":[1700000000,"NaN"]}}`,
			wantNaN: true,
		},
		{
			name:    "two series",
			status:  200,
			body:    `{"status":"success","data":{"resultType":"vector","result":[{"metric":{"code":"200"},"value":[1,"1"]},{"metric":{"code":"500"},"value":[1,"2"]}]}}`,
			wantErr: "query returned 2 series, it must be aggregated to one (e.g. with sum())",
		},
		{
			name:    "status error",
			status:  400,
			body:    `{"status":"error","errorType":"bad_data","error":"invalid parameter \"query\": 1:5: parse error"}`,
			wantErr: "bad_data: invalid parameter \"query\": 1:5: parse error",
		},
		{
			name:    "status error with 200",
			status:  200,
			body:    `{"status":"error","errorType":"execution","error":"query timed out"}`,
			wantErr: "execution: query timed out",
		},
		{
			name:    "HTTP 500",
			status:  500,
			body:    `internal server error`,
			wantErr: "HTTP 500",
		},
		{
			name:    "HTTP 503 empty body",
			status:  503,
			body:    ``,
			wantErr: "HTTP 503",
		},
		{
			name:    "invalid JSON",
			status:  200,
			body:    `garbage`,
			wantErr: "decoding Prometheus response",
		},
		{
			name:    "unexpected status",
			status:  200,
			body:    `{"status":"pending"}`,
			wantErr: `unexpected status "pending"`,
		},
		{
			name:    "matrix result",
			status:  200,
			body:    `{"status":"success","data":{"resultType":"matrix","result":[]}}`,
			wantErr: `unsupported result type "matrix"`,
		},
		{
			name:    "value not a number",
			status:  200,
			body:    `{"status":"success","data":{"resultType":"scalar","result":[1,"abc"]}}`,
			wantErr: `"abc" is not a number`,
		},
		{
			name:    "value not a string",
			status:  200,
			body:    `{"status":"success","data":{"resultType":"scalar","result":[1,0.5]}}`,
			wantErr: "not a string",
		},
		{
			name:    "sample without value",
			status:  200,
			body:    `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1]}]}}`,
			wantErr: "want [time, value]",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := fakePrometheus(t, query, tc.status, tc.body)
			p, err := NewPrometheus(srv.URL, srv.Client())
			if err != nil {
				t.Fatal(err)
			}
			got, err := p.Query(context.Background(), query)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Query error = %v (value %+v), want one containing %q", err, got, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Query unexpected error: %v", err)
			}
			if tc.wantNaN {
				if got.NoData || !math.IsNaN(got.Number) {
					t.Errorf("Query = %+v, want NaN", got)
				}
				return
			}
			if got != tc.want {
				t.Errorf("Query = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestPrometheusQueryPathPrefix(t *testing.T) {
	var gotPath string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotPath = r.URL.Path
		_, _ = io.WriteString(w, `{"status":"success","data":{"resultType":"scalar","result":[1,"1"]}}`)
	}))
	t.Cleanup(srv.Close)
	p, err := NewPrometheus(srv.URL+"/prom/", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Query(context.Background(), "1"); err != nil {
		t.Fatal(err)
	}
	if gotPath != "/prom/api/v1/query" {
		t.Errorf("path = %q, want /prom/api/v1/query", gotPath)
	}
}

func TestPrometheusQueryConnectionRefused(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	addr := srv.URL
	srv.Close() // nothing listens on addr any more
	p, err := NewPrometheus(addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Query(context.Background(), "up"); err == nil || !strings.Contains(err.Error(), "querying Prometheus") {
		t.Fatalf("Query error = %v, want a connection error", err)
	}
}

func TestPrometheusQueryRespectsContext(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	p, err := NewPrometheus(srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = p.Query(ctx, "up")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Query error = %v, want context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Query took %v after the context expired", d)
	}
}

func TestPrometheusQueryLimitsBody(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, `{"status":"success","data":{"resultType":"scalar","result":[1,"1"]},"pad":"`)
		_, _ = io.WriteString(w, strings.Repeat("x", maxResponseBytes))
		_, _ = io.WriteString(w, `"}`)
	}))
	t.Cleanup(srv.Close)
	p, err := NewPrometheus(srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Query(context.Background(), "1"); err == nil || !strings.Contains(err.Error(), "exceeds") {
		t.Fatalf("Query error = %v, want a size-limit error", err)
	}
}
