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
	"sort"
	"sync"
	"time"
)

// Result is one request's outcome.
type Result struct {
	// At is when the response, or the error, arrived.
	At time.Time
	// Version is the response's X-Version header, "" when it has none.
	Version string
	// Chain is the response's X-Chain header: the versions that answered
	// along the calls to the dependencies ("sf-2>co-2>lg-2"), "" without one.
	Chain string
	// Code is the HTTP status, 0 when the request failed in transport.
	Code int
	// Error is the transport error's class (see ErrorClass), "" without one.
	Error string
	// Detail is, for an answer that is not a success (status 300 or more),
	// the first line of its body, at most maxDetail bytes: the testapp says
	// there which call of a dependency failed and how.
	Detail  string
	Latency time.Duration
}

// Failed is true for a transport error or a status other than 2xx.
func (r Result) Failed() bool { return r.Code < 200 || r.Code >= 300 }

// Totals are the counts of a set of results.
type Totals struct {
	// Completed counts every result, transport errors included.
	Completed     int                    `json:"completed"`
	ByVersion     map[string]int         `json:"byVersion"`
	ByCode        map[int]int            `json:"byCode"`
	ByVersionCode map[string]map[int]int `json:"byVersionCode"`
	// Errors counts transport errors by class: "connection refused",
	// "timeout", "EOF" and so on.
	Errors map[string]int `json:"errors,omitempty"`
}

func newTotals() Totals {
	return Totals{
		ByVersion:     map[string]int{},
		ByCode:        map[int]int{},
		ByVersionCode: map[string]map[int]int{},
		Errors:        map[string]int{},
	}
}

func (t *Totals) add(r Result) {
	t.Completed++
	t.ByVersion[r.Version]++
	t.ByCode[r.Code]++
	byCode := t.ByVersionCode[r.Version]
	if byCode == nil {
		byCode = map[int]int{}
		t.ByVersionCode[r.Version] = byCode
	}
	byCode[r.Code]++
	if r.Error != "" {
		t.Errors[r.Error]++
	}
}

// Answered counts the results that have an HTTP status.
func (t Totals) Answered() int { return t.Completed - t.ByCode[0] }

// TransportErrors counts the results without an HTTP status.
func (t Totals) TransportErrors() int { return t.ByCode[0] }

// ServerErrors counts the 5xx answers.
func (t Totals) ServerErrors() int {
	n := 0
	for code, c := range t.ByCode {
		if code >= 500 && code <= 599 {
			n += c
		}
	}
	return n
}

// Share is the fraction of the answered requests that version answered;
// 0 when none was answered.
func (t Totals) Share(version string) float64 {
	answered := t.Answered()
	if answered == 0 {
		return 0
	}
	return float64(t.ByVersion[version]-t.ByVersionCode[version][0]) / float64(answered)
}

// Versions lists the versions that answered, in order.
func (t Totals) Versions() []string {
	var vs []string
	for v, byCode := range t.ByVersionCode {
		if len(byCode) > 1 || byCode[0] == 0 {
			vs = append(vs, v)
		}
	}
	sort.Strings(vs)
	return vs
}

// Recorder keeps every result of a run, in the order they arrived, so that
// a caller may count any time window while the run goes on. It is safe for
// concurrent use. Memory grows with the number of requests, which a run
// bounds with Config.MaxRequests.
type Recorder struct {
	mu      sync.Mutex
	results []Result
}

// NewRecorder returns an empty Recorder.
func NewRecorder() *Recorder { return &Recorder{} }

// Record adds r; a zero r.At means now.
func (rec *Recorder) Record(r Result) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if r.At.IsZero() {
		r.At = time.Now()
	}
	rec.results = append(rec.results, r)
	// Keep the slice ordered by At: a result stamped by its caller may be
	// a little older than the last one.
	for i := len(rec.results) - 1; i > 0 && rec.results[i].At.Before(rec.results[i-1].At); i-- {
		rec.results[i], rec.results[i-1] = rec.results[i-1], rec.results[i]
	}
}

// Window counts the results that arrived at or after from and before to.
func (rec *Recorder) Window(from, to time.Time) Totals {
	t := newTotals()
	rec.each(from, to, func(r Result) { t.add(r) })
	return t
}

// Failures returns, in order, at most limit of the failed results (see
// Result.Failed) that arrived in [from, to).
func (rec *Recorder) Failures(from, to time.Time, limit int) []Result {
	var out []Result
	rec.each(from, to, func(r Result) {
		if r.Failed() && len(out) < limit {
			out = append(out, r)
		}
	})
	return out
}

// Latencies returns the latencies of the results in [from, to), sorted.
func (rec *Recorder) Latencies(from, to time.Time) []time.Duration {
	var ls []time.Duration
	rec.each(from, to, func(r Result) { ls = append(ls, r.Latency) })
	sort.Slice(ls, func(i, j int) bool { return ls[i] < ls[j] })
	return ls
}

func (rec *Recorder) each(from, to time.Time, f func(Result)) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	i := sort.Search(len(rec.results), func(i int) bool { return !rec.results[i].At.Before(from) })
	for ; i < len(rec.results) && rec.results[i].At.Before(to); i++ {
		f(rec.results[i])
	}
}

// percentile returns the p-th percentile (0 < p <= 100) of sorted
// latencies, by the nearest-rank method; 0 for none.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(p/100*float64(len(sorted)) + 0.999999)
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}
