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

// Command loadgen sends GET requests at a steady rate to a URL (the local
// cluster's Gateway) and prints, every second, how many were sent and which
// versions answered them:
//
//	t=12s sent=100 v0.10.2=91 v0.10.3=9 (9.0%) 5xx=0 errors=0
//
// then a summary. With --json it prints one JSON object a line instead.
// The run is bounded by --duration and --max-requests, and stops early on
// SIGINT or SIGTERM. --header adds a header to every request (repeatable);
// with --fail-on-error it exits 1 when a request got no answer or one other
// than 200, which makes it an acceptance test for a rollout webhook.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/msvc-dev/msvc-operator/test/dataplane/load"
)

func main() {
	var cfg load.Config
	flag.StringVar(&cfg.URL, "url", "", "URL to send GET requests to (required)")
	flag.StringVar(&cfg.Host, "host", "", "Host header of the requests (default: the URL's host)")
	flag.IntVar(&cfg.Rate, "rate", 100, "requests a second")
	flag.DurationVar(&cfg.Duration, "duration", 30*time.Second, "how long to send requests for")
	flag.IntVar(&cfg.MaxRequests, "max-requests", 0, "most requests to send (default: rate × duration)")
	flag.DurationVar(&cfg.Timeout, "timeout", load.DefaultTimeout, "timeout of each request")
	flag.IntVar(&cfg.MaxInFlight, "max-in-flight", load.DefaultMaxInFlight, "most requests in flight; more are dropped")
	asJSON := flag.Bool("json", false, "print JSON lines instead of text")
	failOnError := flag.Bool("fail-on-error", false, "exit 1 when a request got no answer or an answer other than 200")
	wantVersion := flag.String("want-version", "", "with --fail-on-error, an answer from another version fails too (an acceptance test that must reach the canary)")
	flag.Func("header", `header of every request, as "Name: value" (repeatable)`, func(v string) error {
		if cfg.Header == nil {
			cfg.Header = http.Header{}
		}
		return addHeader(cfg.Header, v)
	})
	flag.Parse()
	if cfg.MaxRequests == 0 {
		cfg.MaxRequests = int(cfg.Duration.Seconds()*float64(cfg.Rate)) + 1
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	out := &printer{w: os.Stdout, json: *asJSON}
	sum, err := load.Run(ctx, cfg, out.second)
	if err != nil {
		log.Fatalf("loadgen: %v", err)
	}
	out.summary(sum)
	if n := failures(sum.Totals, *wantVersion) + sum.Dropped; *failOnError && n > 0 {
		log.Printf("loadgen: %d of %d requests failed or were dropped", n, sum.Sent+sum.Dropped)
		os.Exit(1)
	}
}

// addHeader adds a "Name: value" flag to h.
func addHeader(h http.Header, v string) error {
	name, value, ok := strings.Cut(v, ":")
	if name = strings.TrimSpace(name); !ok || name == "" {
		return fmt.Errorf("%q is not a header: write it as \"Name: value\"", v)
	}
	h.Add(name, strings.TrimSpace(value))
	return nil
}

// failures counts the requests a user would call failed: no answer (code
// 0), or an answer other than 200; with want set, also a 200 from another
// version.
func failures(t load.Totals, want string) int {
	n := 0
	for code, c := range t.ByCode {
		if code != 200 {
			n += c
		}
	}
	if want != "" {
		for v, codes := range t.ByVersionCode {
			if v != want {
				n += codes[200]
			}
		}
	}
	return n
}

// printer writes the seconds and the summary as text or JSON lines.
type printer struct {
	w    io.Writer
	json bool
	n    int // seconds printed
}

func (p *printer) second(s load.Second) {
	p.n++
	if p.json {
		p.encode(struct {
			Type string `json:"type"`
			T    int    `json:"t"`
			load.Second
		}{"second", p.n, s})
		return
	}
	p.printf("t=%ds sent=%d %s\n", p.n, s.Sent, formatTotals(s.Totals, s.Dropped))
}

func (p *printer) summary(s load.Summary) {
	if p.json {
		p.encode(struct {
			Type string  `json:"type"`
			Rate float64 `json:"rate"`
			load.Summary
		}{"summary", s.Rate(), s})
		return
	}
	p.printf("total %s sent=%d (%.1f/s) %s p50=%s p99=%s\n",
		s.Elapsed.Round(time.Millisecond), s.Sent, s.Rate(), formatTotals(s.Totals, s.Dropped),
		s.P50.Round(time.Microsecond), s.P99.Round(time.Microsecond))
}

func (p *printer) printf(format string, args ...any) {
	if _, err := fmt.Fprintf(p.w, format, args...); err != nil {
		log.Printf("loadgen: %v", err)
	}
}

func (p *printer) encode(v any) {
	if err := json.NewEncoder(p.w).Encode(v); err != nil {
		log.Printf("loadgen: %v", err)
	}
}

// formatTotals writes the versions that answered, each after the first with
// its share of the answers, then the 5xx answers and the transport errors.
func formatTotals(t load.Totals, dropped int) string {
	var b strings.Builder
	answered := t.Answered()
	for i, v := range t.Versions() {
		n := t.ByVersion[v] - t.ByVersionCode[v][0]
		name := v
		if name == "" {
			name = "(no version)"
		}
		fmt.Fprintf(&b, "%s=%d ", name, n)
		if i > 0 && answered > 0 {
			fmt.Fprintf(&b, "(%.1f%%) ", 100*float64(n)/float64(answered))
		}
	}
	fmt.Fprintf(&b, "5xx=%d errors=%d", t.ServerErrors(), t.TransportErrors())
	if len(t.Errors) > 0 {
		classes := make([]string, 0, len(t.Errors))
		for class, n := range t.Errors {
			classes = append(classes, fmt.Sprintf("%s=%d", class, n))
		}
		sort.Strings(classes)
		fmt.Fprintf(&b, " (%s)", strings.Join(classes, ", "))
	}
	if dropped > 0 {
		fmt.Fprintf(&b, " dropped=%d", dropped)
	}
	return b.String()
}
