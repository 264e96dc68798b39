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

package e2e

// This file has no build tag: the fault proxy needs no cluster, and its
// tests (at the end) run in make test as well as in the e2e suite, where
// every request of the manager to kube-apiserver goes through it
// (chaos_test.go).

import (
	"bufio"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// fault is what the proxy does to a request it fails.
type fault string

// Half of the faults reject a request before it reaches the API server, as
// an overloaded or restarting API server does; the other half let the API
// server serve it, then lose the reply, as a load balancer that times out
// or a connection that breaks does: the API server did what was asked, the
// client does not know.
const (
	faultUnavailable fault = "rejected with 503"
	faultInternal    fault = "rejected with 500"
	faultTimeout     fault = "served, reply replaced by 504"
	faultReset       fault = "served, stream reset"
)

var faults = []fault{faultUnavailable, faultInternal, faultTimeout, faultReset}

// faultCounts are the counts of one window of fault injection.
type faultCounts struct {
	// Requests counts every request through the proxy, Watches the watches
	// among them, and Eligible the requests a fault could hit: not watches,
	// in the namespace, neither events nor leases.
	Requests, Watches, Eligible int
	ByFault                     map[fault]int
	// ByRequest counts the failed requests by "VERB resource".
	ByRequest map[string]int
	// Served counts, of the lost replies, those the API server answered with
	// a success: the request took effect.
	Served int
}

func (c faultCounts) copy() faultCounts {
	out := c
	out.ByFault, out.ByRequest = map[fault]int{}, map[string]int{}
	for k, v := range c.ByFault {
		out.ByFault[k] = v
	}
	for k, v := range c.ByRequest {
		out.ByRequest[k] = v
	}
	return out
}

// rejected and lost count the faults of each half.
func (c faultCounts) rejected() int { return c.ByFault[faultUnavailable] + c.ByFault[faultInternal] }
func (c faultCounts) lost() int     { return c.ByFault[faultTimeout] + c.ByFault[faultReset] }

func (c faultCounts) injected() int {
	n := 0
	for _, v := range c.ByFault {
		n += v
	}
	return n
}

func (c faultCounts) String() string {
	var byFault, byRequest []string
	for _, f := range faults {
		byFault = append(byFault, fmt.Sprintf("%s: %d", f, c.ByFault[f]))
	}
	for k, v := range c.ByRequest {
		byRequest = append(byRequest, fmt.Sprintf("%s: %d", k, v))
	}
	sort.Strings(byRequest)
	return fmt.Sprintf("%d requests through the proxy (%d watches opened, %d eligible for a fault); %d faults injected (%s); "+
		"%d of the lost replies were successes; failed requests: %s",
		c.Requests, c.Watches, c.Eligible, c.injected(), strings.Join(byFault, ", "), c.Served, strings.Join(byRequest, ", "))
}

// faultProxy is a reverse proxy on the loopback, in front of kube-apiserver,
// that serves TLS with a certificate of its own and forwards every request,
// bearer token included, over the transport it is given. Watches stream
// through untouched. While inject is in force it fails a seeded random share
// of the other requests in one namespace (events and leases pass: a lost
// event or a lost leader lease is not what the faults test).
type faultProxy struct {
	srv *httptest.Server
	rp  *httputil.ReverseProxy

	mu        sync.Mutex
	namespace string // "": no faults
	rate      float64
	rng       *rand.Rand
	counts    faultCounts
}

func startFaultProxy(target *url.URL, transport http.RoundTripper, errorLog io.Writer) *faultProxy {
	logger := log.New(errorLog, "fault proxy: ", log.LstdFlags)
	p := &faultProxy{}
	p.rp = &httputil.ReverseProxy{
		Rewrite:   func(pr *httputil.ProxyRequest) { pr.SetURL(target) },
		Transport: transport,
		// Every write is flushed at once: a watch's events are not held back.
		FlushInterval: -1,
		ErrorLog:      logger,
	}
	p.srv = httptest.NewUnstartedServer(p)
	p.srv.EnableHTTP2 = true
	p.srv.Config.ErrorLog = logger
	p.srv.StartTLS()
	return p
}

// URL is the proxy's address, https://127.0.0.1:<port>.
func (p *faultProxy) URL() string { return p.srv.URL }

// CertificatePEM is the proxy's self-signed certificate, for a kubeconfig's
// certificate-authority-data.
func (p *faultProxy) CertificatePEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.srv.Certificate().Raw})
}

func (p *faultProxy) close() {
	p.srv.CloseClientConnections()
	p.srv.Close()
}

// inject starts a window in which a share rate of the eligible requests in
// namespace fail, drawn from seed, half of them rejected and half lost after
// the API server served them. The counts start from zero.
func (p *faultProxy) inject(namespace string, seed uint64, rate float64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.namespace, p.rate, p.rng = namespace, rate, rand.New(rand.NewPCG(seed, seed))
	p.counts = faultCounts{ByFault: map[fault]int{}, ByRequest: map[string]int{}}
}

// calm ends the window and returns its counts.
func (p *faultProxy) calm() faultCounts {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.namespace = ""
	return p.counts.copy()
}

// sofar are the counts of the window so far.
func (p *faultProxy) sofar() faultCounts {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.counts.copy()
}

// isWatch says whether a request is a watch, which streams until either side ends it.
func isWatch(req *http.Request) bool {
	w := req.URL.Query().Get("watch")
	return w == "true" || w == "1" || strings.Contains(req.URL.Path, "/watch/")
}

// requestKind names a request as "VERB resource", with "apply" for a
// server-side apply and the subresource after a slash, and the namespace
// of its path ("" for a cluster-scoped one): "apply httproutes",
// "PATCH microservices/status", "DELETE services".
func requestKind(req *http.Request) (namespace, kind string) {
	verb := req.Method
	if verb == http.MethodPatch && strings.HasPrefix(req.Header.Get("Content-Type"), "application/apply-patch") {
		verb = "apply"
	}
	parts := strings.Split(strings.Trim(req.URL.Path, "/"), "/")
	for i := 0; i+2 < len(parts); i++ {
		if parts[i] == "namespaces" {
			rest := parts[i+2:]
			resource := rest[0]
			if len(rest) > 2 {
				resource += "/" + rest[2]
			}
			return parts[i+1], verb + " " + resource
		}
	}
	return "", verb + " " + req.URL.Path
}

// decide counts a request and draws whether, and how, it fails.
func (p *faultProxy) decide(req *http.Request) (fault, bool) {
	ns, kind := requestKind(req)
	_, resource, _ := strings.Cut(kind, " ")
	watch := isWatch(req)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.namespace == "" {
		return "", false
	}
	p.counts.Requests++
	if watch {
		p.counts.Watches++
		return "", false
	}
	if ns != p.namespace || resource == "events" || resource == "leases" {
		return "", false
	}
	p.counts.Eligible++
	if p.rng.Float64() >= p.rate {
		return "", false
	}
	f := faults[p.rng.IntN(len(faults))]
	p.counts.ByFault[f]++
	p.counts.ByRequest[kind]++
	return f, true
}

func (p *faultProxy) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	f, fail := p.decide(req)
	switch {
	case !fail:
		p.rp.ServeHTTP(w, req)
	case f == faultUnavailable:
		writeStatus(w, http.StatusServiceUnavailable, "ServiceUnavailable", "the server is currently unable to handle the request (failed by the e2e fault proxy)")
	case f == faultInternal:
		writeStatus(w, http.StatusInternalServerError, "InternalError", "Internal error occurred: etcdserver: request timed out (failed by the e2e fault proxy)")
	default:
		served := httptest.NewRecorder()
		p.rp.ServeHTTP(served, req)
		if served.Code < 300 {
			p.mu.Lock()
			p.counts.Served++
			p.mu.Unlock()
		}
		if f == faultTimeout {
			writeStatus(w, http.StatusGatewayTimeout, "Timeout", "Timeout: request did not complete within the allowed duration (reply dropped by the e2e fault proxy after the request was served)")
			return
		}
		// Ends the stream (HTTP/2) or the connection (HTTP/1) without a reply.
		panic(http.ErrAbortHandler)
	}
}

// writeStatus answers as kube-apiserver does when it fails a request: a
// Status object with a reason and a code.
func writeStatus(w http.ResponseWriter, code int, reason, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"kind": "Status", "apiVersion": "v1", "metadata": map[string]any{},
		"status": "Failure", "message": message, "reason": reason, "code": code,
	})
}

// The tests below put the proxy in front of a fake API server.

// fakeAPIServer counts the requests that reach it by path, answers every
// request with 200, and streams a watch line by line: it sends the next
// line only when the test asks for it.
type fakeAPIServer struct {
	mu      sync.Mutex
	reached map[string]int
	auth    []string
	lines   chan string
}

func (s *fakeAPIServer) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	s.mu.Lock()
	s.reached[req.URL.Path]++
	s.auth = append(s.auth, req.Header.Get("Authorization"))
	s.mu.Unlock()
	if !isWatch(req) {
		_, _ = io.WriteString(w, `{"kind":"Deployment"}`)
		return
	}
	// As kube-apiserver does, the headers go at once, the events as they come.
	w.WriteHeader(http.StatusOK)
	w.(http.Flusher).Flush()
	for line := range s.lines {
		_, _ = io.WriteString(w, line+"\n")
		w.(http.Flusher).Flush()
	}
}

func (s *fakeAPIServer) count(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reached[path]
}

func newProxiedFake(t *testing.T) (*fakeAPIServer, *faultProxy, *http.Client) {
	t.Helper()
	fake := &fakeAPIServer{reached: map[string]int{}, lines: make(chan string)}
	upstream := httptest.NewTLSServer(fake)
	t.Cleanup(upstream.Close)
	target, err := url.Parse(upstream.URL)
	if err != nil {
		t.Fatal(err)
	}
	p := startFaultProxy(target, upstream.Client().Transport, io.Discard)
	t.Cleanup(p.close)
	t.Cleanup(func() { close(fake.lines) })
	return fake, p, p.srv.Client()
}

func proxiedGet(t *testing.T, c *http.Client, rawURL string) (int, error) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, rawURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer operator-token")
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	defer func() { _ = resp.Body.Close() }()
	_, err = io.ReadAll(resp.Body)
	return resp.StatusCode, err
}

func TestFaultProxyPassesEverythingWithoutAWindow(t *testing.T) {
	fake, p, c := newProxiedFake(t)
	path := "/apis/apps/v1/namespaces/shop/deployments/web"
	for range 20 {
		if code, err := proxiedGet(t, c, p.URL()+path); err != nil || code != http.StatusOK {
			t.Fatalf("got %d, %v; want 200", code, err)
		}
	}
	if n := fake.count(path); n != 20 {
		t.Errorf("the API server got %d requests, want 20", n)
	}
	if got := fake.auth[0]; got != "Bearer operator-token" {
		t.Errorf("the API server got Authorization %q, want the client's bearer token", got)
	}
	if counts := p.calm(); counts.Requests != 0 {
		t.Errorf("outside a window the proxy counted %+v", counts)
	}
}

func TestFaultProxyFailsTheDrawnShareInTheNamespaceOnly(t *testing.T) {
	fake, p, c := newProxiedFake(t)
	p.inject("shop", 20261202, 1)
	for _, path := range []string{
		"/api/v1/namespaces/other/services/web",
		"/apis/coordination.k8s.io/v1/namespaces/shop/leases/msvc",
		"/apis/events.k8s.io/v1/namespaces/shop/events",
		"/apis/apps/v1/deployments",
	} {
		if code, err := proxiedGet(t, c, p.URL()+path); err != nil || code != http.StatusOK {
			t.Errorf("%s: got %d, %v; want it passed with 200", path, code, err)
		}
	}
	path := "/apis/apps/v1/namespaces/shop/deployments/web"
	outcomes := map[string]int{}
	for range 40 {
		code, err := proxiedGet(t, c, p.URL()+path)
		switch {
		case err != nil:
			outcomes["error"]++
		default:
			outcomes[fmt.Sprint(code)]++
		}
	}
	counts := p.calm()
	if counts.Requests != 44 || counts.Eligible != 40 || counts.injected() != 40 || counts.ByRequest["GET deployments"] != 40 {
		t.Errorf("counts %s, want 44 requests, 40 eligible, all 40 failed", counts)
	}
	for _, f := range faults {
		if counts.ByFault[f] == 0 {
			t.Errorf("no request %s in 40: %s", f, counts)
		}
	}
	want := map[string]int{
		"503":   counts.ByFault[faultUnavailable],
		"500":   counts.ByFault[faultInternal],
		"504":   counts.ByFault[faultTimeout],
		"error": counts.ByFault[faultReset],
	}
	for k, v := range want {
		if outcomes[k] != v {
			t.Errorf("the client got %q %d times, want %d (outcomes %v, counts %s)", k, outcomes[k], v, outcomes, counts)
		}
	}
	lost := counts.lost()
	if n := fake.count(path); n != lost || counts.Served != lost {
		t.Errorf("the API server served %d requests and the proxy counted %d served, want the %d lost replies only", n, counts.Served, lost)
	}
}

func TestFaultProxyDrawsTheSameFaultsFromTheSameSeed(t *testing.T) {
	_, p, c := newProxiedFake(t)
	draw := func() faultCounts {
		p.inject("shop", 7, 0.3)
		for range 60 {
			_, _ = proxiedGet(t, c, p.URL()+"/api/v1/namespaces/shop/services/web")
		}
		return p.calm()
	}
	first, second := draw(), draw()
	if first.String() != second.String() {
		t.Errorf("one seed, two draws:\n%s\n%s", first, second)
	}
	if first.injected() == 0 || first.injected() == 60 {
		t.Errorf("a rate of 0.3 failed %d of 60 requests", first.injected())
	}
}

func TestFaultProxyStreamsWatchesAndNeverFailsThem(t *testing.T) {
	fake, p, c := newProxiedFake(t)
	p.inject("shop", 1, 1)
	req, err := http.NewRequest(http.MethodGet, p.URL()+"/apis/apps/v1/namespaces/shop/deployments?watch=true", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	lines := bufio.NewReader(resp.Body)
	// Each event arrives while the watch is still open: nothing is buffered
	// until the stream ends.
	for i := range 3 {
		sent := fmt.Sprintf(`{"type":"MODIFIED","n":%d}`, i)
		select {
		case fake.lines <- sent:
		case <-time.After(5 * time.Second):
			t.Fatal("the API server's watch handler is not reading")
		}
		got, err := lines.ReadString('\n')
		if err != nil || strings.TrimSpace(got) != sent {
			t.Fatalf("event %d: got %q, %v; want %q", i, got, err, sent)
		}
	}
	if counts := p.calm(); counts.Watches != 1 || counts.injected() != 0 {
		t.Errorf("counts %s, want one watch and no fault", counts)
	}
}
