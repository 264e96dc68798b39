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
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

// upstreamTimeout bounds each call of a dependency.
const upstreamTimeout = 2 * time.Second

// serviceTable maps a Service's address ("name.namespace.svc.cluster.local:80",
// "name.namespace:80", ...) to the addresses of its ready endpoints
// ("10.0.0.7:8080"), as the pod runner writes it: the local cluster has
// neither DNS nor kube-proxy.
type serviceTable map[string][]string

// readServiceTable reads the table at path.
func readServiceTable(path string) (serviceTable, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	t := serviceTable{}
	if err := json.Unmarshal(data, &t); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// endpoints are the ready endpoints of addr (host:port) for a caller in
// namespace: a name is looked up as written, then in the caller's
// namespace, as a pod's DNS search path would.
func (t serviceTable) endpoints(addr, namespace string) []string {
	if eps := t[addr]; len(eps) > 0 {
		return eps
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil || namespace == "" || strings.Contains(host, ".") {
		return nil
	}
	return t[net.JoinHostPort(host+"."+namespace, port)]
}

// dialer connects to a Service's address through the table at path, read
// again on every dial (the pod runner rewrites it as endpoints change), and
// to an IP address directly.
func dialer(path, namespace string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, _, err := net.SplitHostPort(addr)
		if err == nil && net.ParseIP(host) != nil {
			return d.DialContext(ctx, network, addr)
		}
		if path == "" {
			return nil, fmt.Errorf("no service table (TESTAPP_SERVICES) to resolve %s", addr)
		}
		t, err := readServiceTable(path)
		if err != nil {
			return nil, fmt.Errorf("resolving %s: %w", addr, err)
		}
		eps := t.endpoints(addr, namespace)
		if len(eps) == 0 {
			return nil, fmt.Errorf("no ready endpoint of %s in %s", addr, path)
		}
		return d.DialContext(ctx, network, eps[rand.IntN(len(eps))])
	}
}

// upstreamClient calls the dependencies.
func upstreamClient(cfg config) *http.Client {
	return &http.Client{
		Timeout: upstreamTimeout,
		// A connection per call: each call resolves the Service again,
		// so endpoints that left the table get no more requests.
		Transport: &http.Transport{DialContext: dialer(cfg.services, cfg.namespace), DisableKeepAlives: true},
	}
}

// callUpstream calls url with path and returns the chain of versions that
// answered ("checkout-2>ledger-2"): the upstream's X-Chain, else its
// X-Version.
func callUpstream(ctx context.Context, c *http.Client, url, path string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(url, "/")+path, nil)
	if err != nil {
		return "", err
	}
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer func() { _ = resp.Body.Close() }() // read to the end below; a close error loses nothing
	_, _ = io.Copy(io.Discard, resp.Body)
	chain := resp.Header.Get("X-Chain")
	if chain == "" {
		chain = resp.Header.Get("X-Version")
	}
	if resp.StatusCode >= 300 {
		return chain, fmt.Errorf("%s answered %d", url, resp.StatusCode)
	}
	return chain, nil
}

// chainOf is this version followed by what its calls reported: one call
// gives "v>chain", several "v>(chain1,chain2)".
func chainOf(version string, upstream []string) string {
	switch len(upstream) {
	case 0:
		return version
	case 1:
		return version + ">" + upstream[0]
	}
	return version + ">(" + strings.Join(upstream, ",") + ")"
}
