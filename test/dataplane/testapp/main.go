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

// Command testapp is the stand-in for the container of every pod in the local
// cluster, whose kwok pods run nothing: test/dataplane/podrunner starts one
// testapp per pod, on the pod's IP and container ports.
//
// Every response carries the header X-Version and the body "<version>\n".
// The health paths (/healthz, /_healthz, /readyz, /livez) always answer 200
// at once; every other path waits TESTAPP_LATENCY, then answers 500 with the
// probability TESTAPP_ERROR_RATE (0.5 by default for a version ending in
// -bad, else 0) and 200 otherwise. With TESTAPP_CALL (names of variables
// that hold dependencies' URLs, as the operator injects them), each such
// request first calls every dependency with the same path and reports the
// versions that answered in X-Chain ("storefront-2>checkout-2>ledger-2"); a
// dependency that fails makes it answer 502. The local cluster has no DNS:
// hosts are looked up in the pod runner's service table (TESTAPP_SERVICES).
// On SIGTERM it goes on serving for
// TESTAPP_DRAIN (5s by default, as a preStop sleep would), then shuts down
// and exits 0.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

// shutdownTimeout bounds how long requests in flight may take to finish
// once the drain is over.
const shutdownTimeout = 5 * time.Second

func main() {
	var listen listFlag
	flag.Var(&listen, "listen", "ip:port to serve on; repeatable or comma-separated (default $TESTAPP_LISTEN)")
	version := flag.String("version", "", "version to report in X-Version and the body (default $TESTAPP_VERSION, else dev)")
	flag.Parse()
	log.SetFlags(log.LstdFlags | log.Lmicroseconds)

	cfg, err := parseConfig(listen, *version, os.Getenv)
	if err != nil {
		log.Fatalf("testapp: %v", err)
	}
	if err := run(cfg); err != nil {
		log.Fatalf("testapp: %v", err)
	}
}

// run serves cfg until SIGTERM or SIGINT, drains, and shuts down.
func run(cfg config) error {
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)

	var listeners []net.Listener
	for _, addr := range cfg.listen {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			for _, open := range listeners {
				_ = open.Close()
			}
			return fmt.Errorf("listen on %s: %w", addr, err)
		}
		listeners = append(listeners, l)
	}
	srv := &http.Server{Handler: handler(cfg), ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, len(listeners))
	for _, l := range listeners {
		go func() { served <- srv.Serve(l) }()
	}
	log.Printf("testapp version %s serving on %s (error rate %g, latency %s, drain %s, calls %s)",
		cfg.version, strings.Join(cfg.listen, ","), cfg.errorRate, cfg.latency, cfg.drain, strings.Join(cfg.calls, ","))

	select {
	case sig := <-signals:
		// Like a pod whose endpoints are being removed: go on answering
		// until the drain is over, so that no request in flight through
		// the Gateway is refused.
		time.Sleep(cfg.drain)
		ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		defer cancel()
		err := srv.Shutdown(ctx)
		log.Printf("testapp version %s exiting on %s after a drain of %s", cfg.version, sig, cfg.drain)
		return err
	case err := <-served:
		_ = srv.Close()
		return fmt.Errorf("serve: %w", err)
	}
}

// handler answers every path as described in the package comment.
func handler(cfg config) http.Handler {
	body := cfg.version + "\n"
	upstream := upstreamClient(cfg)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Version", cfg.version)
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if isHealthPath(r.URL.Path) {
			_, _ = fmt.Fprint(w, body)
			return
		}
		if cfg.latency > 0 {
			select {
			case <-time.After(cfg.latency):
			case <-r.Context().Done():
				return
			}
		}
		var chains []string
		for _, url := range cfg.calls {
			chain, err := callUpstream(r.Context(), upstream, url, r.URL.Path)
			chains = append(chains, chain)
			if err != nil {
				w.Header().Set("X-Chain", chainOf(cfg.version, chains))
				w.WriteHeader(http.StatusBadGateway)
				_, _ = fmt.Fprintf(w, "%s: calling %s: %v\n", cfg.version, url, err)
				return
			}
		}
		w.Header().Set("X-Chain", chainOf(cfg.version, chains))
		if cfg.errorRate > 0 && rand.Float64() < cfg.errorRate {
			w.WriteHeader(http.StatusInternalServerError)
		}
		_, _ = fmt.Fprint(w, body)
	})
}

// isHealthPath reports whether path is a probe's, which never fails.
func isHealthPath(path string) bool {
	switch path {
	case "/healthz", "/_healthz", "/readyz", "/livez":
		return true
	}
	return false
}
