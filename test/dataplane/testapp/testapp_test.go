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
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// These tests run the built binary, as the pod runner does, on free ports
// of 127.0.0.1.

func buildTestapp(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "testapp")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

// syncBuffer collects the process's stderr while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

type testappProcess struct {
	cmd    *exec.Cmd
	addrs  []string
	stderr *syncBuffer
	exited chan struct{}
	err    error
}

// startTestapp runs bin on ports free ports with env, and waits until every
// port answers.
func startTestapp(t *testing.T, bin string, ports int, env ...string) *testappProcess {
	t.Helper()
	p := &testappProcess{stderr: &syncBuffer{}, exited: make(chan struct{})}
	for range ports {
		p.addrs = append(p.addrs, freeAddr(t))
	}
	p.cmd = exec.Command(bin)
	p.cmd.Env = append(env, "TESTAPP_LISTEN="+strings.Join(p.addrs, ","))
	p.cmd.Stderr = p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.exited
	})
	for _, addr := range p.addrs {
		deadline := time.Now().Add(10 * time.Second)
		for {
			c, err := net.DialTimeout("tcp", addr, time.Second)
			if err == nil {
				_ = c.Close()
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("testapp does not listen on %s: %v\n%s", addr, err, p.stderr)
			}
			select {
			case <-p.exited:
				t.Fatalf("testapp exited: %v\n%s", p.err, p.stderr)
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	return p
}

var client = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{Proxy: nil}}

func get(t *testing.T, url string) (code int, version, body string) {
	t.Helper()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: reading the body: %v", url, err)
	}
	return resp.StatusCode, resp.Header.Get("X-Version"), string(b)
}

func TestTestappBadVersionFailsHalfAndHealthNever(t *testing.T) {
	bin := buildTestapp(t)
	p := startTestapp(t, bin, 2, "TESTAPP_VERSION=v0.10.3-bad")

	for _, addr := range p.addrs {
		code, version, body := get(t, "http://"+addr+"/healthz")
		if code != http.StatusOK || version != "v0.10.3-bad" || body != "v0.10.3-bad\n" {
			t.Errorf("GET %s/healthz = %d, X-Version %q, body %q", addr, code, version, body)
		}
	}

	const requests = 400
	failed := 0
	for i := range requests {
		code, version, _ := get(t, "http://"+p.addrs[i%2]+"/api/items")
		if version != "v0.10.3-bad" {
			t.Fatalf("X-Version = %q, want v0.10.3-bad", version)
		}
		switch code {
		case http.StatusInternalServerError:
			failed++
		case http.StatusOK:
		default:
			t.Fatalf("status %d, want 200 or 500", code)
		}
	}
	share := float64(failed) / requests
	t.Logf("error share of a -bad version: %d of %d requests (%.1f%%)", failed, requests, 100*share)
	// The standard deviation of the share over 400 draws at 0.5 is 2.5%:
	// 10% either side is four of them.
	if share < 0.4 || share > 0.6 {
		t.Errorf("error share = %.3f, want 0.5 within 0.1", share)
	}

	for _, path := range []string{"/healthz", "/_healthz", "/readyz", "/livez"} {
		for i := range 50 {
			if code, _, _ := get(t, "http://"+p.addrs[i%2]+path); code != http.StatusOK {
				t.Fatalf("GET %s = %d, want 200: health paths never fail", path, code)
			}
		}
	}
}

func TestTestappLatencyErrorRateAndDrain(t *testing.T) {
	bin := buildTestapp(t)
	p := startTestapp(t, bin, 1,
		"TESTAPP_VERSION=v2", "TESTAPP_ERROR_RATE=1", "TESTAPP_LATENCY=200ms", "TESTAPP_DRAIN=2s")
	url := "http://" + p.addrs[0]

	start := time.Now()
	if code, _, _ := get(t, url+"/readyz"); code != http.StatusOK {
		t.Errorf("GET /readyz = %d with TESTAPP_ERROR_RATE=1, want 200", code)
	}
	if took := time.Since(start); took > 150*time.Millisecond {
		t.Errorf("GET /readyz took %s: health paths have no latency", took)
	}
	start = time.Now()
	if code, version, _ := get(t, url+"/"); code != http.StatusInternalServerError || version != "v2" {
		t.Errorf("GET / = %d, X-Version %q; want 500 from v2", code, version)
	}
	if took := time.Since(start); took < 200*time.Millisecond {
		t.Errorf("GET / took %s, want at least TESTAPP_LATENCY=200ms", took)
	}

	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	sent := time.Now()
	time.Sleep(time.Second)
	if code, _, _ := get(t, url+"/livez"); code != http.StatusOK {
		t.Errorf("GET /livez 1s after SIGTERM = %d, want 200 during the drain", code)
	}
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		t.Fatalf("testapp still runs 10s after SIGTERM with TESTAPP_DRAIN=2s\n%s", p.stderr)
	}
	took := time.Since(sent)
	if p.err != nil {
		t.Errorf("testapp exited with %v, want 0\n%s", p.err, p.stderr)
	}
	if took < 2*time.Second {
		t.Errorf("testapp exited %s after SIGTERM, before the drain of 2s was over", took)
	}
	t.Logf("exited %s after SIGTERM", took.Round(time.Millisecond))
	_, err := net.DialTimeout("tcp", p.addrs[0], time.Second)
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("dial after exit: %v, want connection refused", err)
	}
	if lines := strings.Count(p.stderr.String(), "\n"); lines != 2 {
		t.Errorf("testapp logged %d lines, want one at start and one at exit:\n%s", lines, p.stderr)
	}
}
