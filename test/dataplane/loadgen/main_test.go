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

package main

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/msvc-dev/msvc-operator/test/dataplane/load"
)

func TestFormatTotals(t *testing.T) {
	rec := load.NewRecorder()
	t0 := time.Now()
	add := func(n int, r load.Result) {
		for range n {
			r.At = t0
			rec.Record(r)
		}
	}
	add(91, load.Result{Version: "v0.10.2", Code: 200})
	add(6, load.Result{Version: "v0.10.3", Code: 200})
	add(3, load.Result{Version: "v0.10.3", Code: 500})
	window := rec.Window(t0, t0.Add(time.Second))
	if got, want := formatTotals(window, 0), "v0.10.2=91 v0.10.3=9 (9.0%) 5xx=3 errors=0"; got != want {
		t.Errorf("formatTotals =\n%q, want\n%q", got, want)
	}

	add(2, load.Result{Error: "connection refused"})
	add(1, load.Result{Error: "timeout"})
	window = rec.Window(t0, t0.Add(time.Second))
	if got, want := formatTotals(window, 4), "v0.10.2=91 v0.10.3=9 (9.0%) 5xx=3 errors=3 (connection refused=2, timeout=1) dropped=4"; got != want {
		t.Errorf("formatTotals with errors =\n%q, want\n%q", got, want)
	}
}

func TestHeaderAndFailures(t *testing.T) {
	h := http.Header{}
	for _, v := range []string{"X-Canary: always", "Cookie:canary=yes"} {
		if err := addHeader(h, v); err != nil {
			t.Fatalf("addHeader(%q): %v", v, err)
		}
	}
	if h.Get("X-Canary") != "always" || h.Get("Cookie") != "canary=yes" {
		t.Errorf("headers = %v", h)
	}
	for _, v := range []string{"X-Canary", ": x"} {
		if err := addHeader(h, v); err == nil || !strings.Contains(err.Error(), "Name: value") {
			t.Errorf("addHeader(%q) = %v, want an error that says how to write it", v, err)
		}
	}

	rec := load.NewRecorder()
	t0 := time.Now()
	for _, r := range []load.Result{{Version: "v2", Code: 200}, {Version: "v2", Code: 503}, {Error: "timeout"}, {Version: "v2", Code: 200}} {
		r.At = t0
		rec.Record(r)
	}
	rec.Record(load.Result{At: t0, Version: "v1", Code: 200})
	window := rec.Window(t0, t0.Add(time.Second))
	if got := failures(window, ""); got != 2 {
		t.Errorf("failures = %d, want 2 (a 503 and a timeout)", got)
	}
	if got := failures(window, "v2"); got != 3 {
		t.Errorf("failures wanting v2 = %d, want 3 (a 503, a timeout and v1's answer)", got)
	}
}
