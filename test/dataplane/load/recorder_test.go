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
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"syscall"
	"testing"
	"time"
)

func TestErrorClass(t *testing.T) {
	wrap := func(op string, err error) error {
		return &url.Error{Op: "Get", URL: "http://127.0.0.1:1/", Err: &net.OpError{Op: op, Net: "tcp", Err: err}}
	}
	tests := []struct {
		err  error
		want string
	}{
		{err: nil, want: ""},
		{err: wrap("dial", &os.SyscallError{Syscall: "connect", Err: syscall.ECONNREFUSED}), want: "connection refused"},
		{err: wrap("read", &os.SyscallError{Syscall: "read", Err: syscall.ECONNRESET}), want: "connection reset"},
		{err: wrap("write", &os.SyscallError{Syscall: "write", Err: syscall.EPIPE}), want: "broken pipe"},
		{err: wrap("dial", &os.SyscallError{Syscall: "connect", Err: syscall.EHOSTUNREACH}), want: "unreachable"},
		{err: wrap("dial", &net.DNSError{Err: "no such host", Name: "gateway.invalid"}), want: "dns"},
		{err: &url.Error{Op: "Get", URL: "http://x/", Err: context.DeadlineExceeded}, want: "timeout"},
		{err: wrap("dial", timeoutError{}), want: "timeout"},
		{err: &url.Error{Op: "Get", URL: "http://x/", Err: io.EOF}, want: "EOF"},
		{err: fmt.Errorf("reading the body: %w", io.ErrUnexpectedEOF), want: "EOF"},
		{err: &url.Error{Op: "Get", URL: "http://x/", Err: context.Canceled}, want: "canceled"},
		{err: errors.New("malformed HTTP response"), want: "other"},
	}
	for _, tt := range tests {
		if got := ErrorClass(tt.err); got != tt.want {
			t.Errorf("ErrorClass(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}

type timeoutError struct{}

func (timeoutError) Error() string   { return "i/o timeout" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }

func TestRecorderWindowCountsWhatArrivedInIt(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	rec := NewRecorder()
	// Out of order on purpose: a caller may stamp a result a little late.
	for _, r := range []Result{
		{At: at(100), Version: "v1", Code: 200},
		{At: at(900), Version: "v2", Code: 500},
		{At: at(300), Version: "v1", Code: 200},
		{At: at(1000), Version: "v2", Code: 200},
		{At: at(1500), Code: 0, Error: "connection refused"},
		{At: at(1200), Version: "v1", Code: 503},
		{At: at(2000), Version: "v1", Code: 200},
	} {
		rec.Record(r)
	}

	first := rec.Window(at(0), at(1000))
	if first.Completed != 3 || first.ByVersion["v1"] != 2 || first.ByVersion["v2"] != 1 || first.ByCode[500] != 1 {
		t.Errorf("first second = %+v", first)
	}

	second := rec.Window(at(1000), at(2000))
	if second.Completed != 3 || second.Answered() != 2 || second.TransportErrors() != 1 {
		t.Errorf("second second: completed %d, answered %d, transport errors %d; want 3, 2, 1",
			second.Completed, second.Answered(), second.TransportErrors())
	}
	if second.Errors["connection refused"] != 1 || second.ByVersion[""] != 1 || second.ByVersionCode["v1"][503] != 1 {
		t.Errorf("second second = %+v", second)
	}
	if second.ServerErrors() != 1 {
		t.Errorf("ServerErrors = %d, want 1", second.ServerErrors())
	}
	// Shares are of the answered requests: the refused one counts for no
	// version.
	if got := second.Share("v2"); got != 0.5 {
		t.Errorf("Share(v2) = %v, want 0.5", got)
	}
	if got := fmt.Sprint(second.Versions()); got != "[v1 v2]" {
		t.Errorf("Versions = %s, want [v1 v2]", got)
	}

	all := rec.Window(at(0), at(2001))
	if all.Completed != 7 {
		t.Errorf("whole window: %d results, want 7", all.Completed)
	}
	if empty := rec.Window(at(5000), at(6000)); empty.Completed != 0 || empty.Share("v1") != 0 {
		t.Errorf("empty window = %+v", empty)
	}
}

func TestPercentile(t *testing.T) {
	var ls []time.Duration
	for i := 1; i <= 100; i++ {
		ls = append(ls, time.Duration(i)*time.Millisecond)
	}
	tests := []struct {
		ls   []time.Duration
		p    float64
		want time.Duration
	}{
		{ls: nil, p: 50, want: 0},
		{ls: ls[:1], p: 99, want: time.Millisecond},
		{ls: ls, p: 50, want: 50 * time.Millisecond},
		{ls: ls, p: 99, want: 99 * time.Millisecond},
		{ls: ls, p: 100, want: 100 * time.Millisecond},
		{ls: ls[:10], p: 99, want: 10 * time.Millisecond},
	}
	for _, tt := range tests {
		if got := percentile(tt.ls, tt.p); got != tt.want {
			t.Errorf("percentile(%d latencies, %v) = %s, want %s", len(tt.ls), tt.p, got, tt.want)
		}
	}
}

func TestRunRefusesAnUnboundedOrInvalidLoad(t *testing.T) {
	valid := Config{URL: "http://127.0.0.1:1/", Rate: 10, Duration: time.Second, MaxRequests: 10}
	tests := []struct {
		name   string
		mutate func(*Config)
	}{
		{name: "no duration", mutate: func(c *Config) { c.Duration = 0 }},
		{name: "negative duration", mutate: func(c *Config) { c.Duration = -time.Second }},
		{name: "no maximum", mutate: func(c *Config) { c.MaxRequests = 0 }},
		{name: "no rate", mutate: func(c *Config) { c.Rate = 0 }},
		{name: "no URL", mutate: func(c *Config) { c.URL = "" }},
		{name: "not HTTP", mutate: func(c *Config) { c.URL = "ftp://127.0.0.1/" }},
		{name: "negative timeout", mutate: func(c *Config) { c.Timeout = -1 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := valid
			tt.mutate(&cfg)
			start := time.Now()
			_, err := Run(context.Background(), cfg, nil)
			if err == nil {
				t.Fatal("Run accepted the load, want an error")
			}
			if time.Since(start) > 100*time.Millisecond {
				t.Errorf("Run took %s to refuse the load: it sent requests", time.Since(start))
			}
			t.Log(err)
		})
	}
}
