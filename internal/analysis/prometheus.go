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
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
)

const (
	// defaultTimeout bounds each query when the caller passes no client.
	defaultTimeout = 10 * time.Second
	// maxResponseBytes caps how much of a response body is read.
	maxResponseBytes = 10 << 20
	// maxErrorBodyBytes caps how much of a non-JSON error body is quoted.
	maxErrorBodyBytes = 512
)

// prometheus is a Provider backed by the Prometheus HTTP API.
type prometheus struct {
	queryURL string
	client   *http.Client
	// headers are sent with every query (provider.prometheus.headers).
	headers []msv1.HTTPHeader
}

// NewHTTPClient returns a client for the providers of every analysis to
// share: its connections to each metrics server are kept and reused across
// measurements, and it sets no overall timeout, since every query carries
// its own in its context.
func NewHTTPClient() *http.Client {
	return &http.Client{Transport: &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		TLSHandshakeTimeout:   5 * time.Second,
		MaxIdleConns:          64,
		MaxIdleConnsPerHost:   16,
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: time.Second,
	}}
}

// NewPrometheus returns a Provider that sends instant queries to the
// Prometheus server at address, e.g. "http://prometheus.monitoring:9090".
// The address may carry a path prefix (for a server run with
// --web.route-prefix). When client is nil, a client with a 10s timeout is
// used; a shared one from NewHTTPClient relies on each query's context.
func NewPrometheus(address string, client *http.Client) (Provider, error) {
	u, err := url.Parse(strings.TrimSpace(address))
	if err != nil {
		return nil, fmt.Errorf("invalid Prometheus address %q: %w", address, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("invalid Prometheus address %q: scheme must be http or https, e.g. http://prometheus.monitoring:9090", address)
	}
	if u.Host == "" || u.Hostname() == "" {
		return nil, fmt.Errorf("invalid Prometheus address %q: a host is required, e.g. http://prometheus.monitoring:9090", address)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("invalid Prometheus address %q: remove the query string and fragment", address)
	}
	if u.User != nil {
		return nil, fmt.Errorf("invalid Prometheus address %q: credentials in the URL are not supported", address)
	}
	if client == nil {
		client = &http.Client{Timeout: defaultTimeout}
	}
	return &prometheus{
		queryURL: strings.TrimRight(u.String(), "/") + "/api/v1/query",
		client:   client,
	}, nil
}

// apiResponse is the envelope of every Prometheus HTTP API response.
type apiResponse struct {
	Status    string          `json:"status"`
	Data      json.RawMessage `json:"data"`
	ErrorType string          `json:"errorType"`
	Error     string          `json:"error"`
}

// queryData is the data field of an instant query response.
type queryData struct {
	ResultType string          `json:"resultType"`
	Result     json.RawMessage `json:"result"`
}

// sample is one series of a vector result.
type sample struct {
	Metric map[string]string `json:"metric"`
	Value  json.RawMessage   `json:"value"`
}

// Query implements Provider.
func (p *prometheus) Query(ctx context.Context, query string) (Value, error) {
	form := url.Values{"query": {query}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.queryURL, strings.NewReader(form.Encode()))
	if err != nil {
		return Value{}, fmt.Errorf("building Prometheus request: %w", err)
	}
	for _, h := range p.headers {
		req.Header.Set(h.Name, h.Value)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")

	resp, err := p.client.Do(req)
	if err != nil {
		return Value{}, fmt.Errorf("querying Prometheus: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()

	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	if err != nil {
		return Value{}, fmt.Errorf("reading Prometheus response: %w", err)
	}
	if len(body) > maxResponseBytes {
		return Value{}, fmt.Errorf("prometheus response exceeds %d bytes", maxResponseBytes)
	}

	var api apiResponse
	jsonErr := json.Unmarshal(body, &api)
	// Prometheus answers bad queries with 400/422 and a JSON error body;
	// prefer that message over the bare status code.
	if jsonErr == nil && api.Status == "error" {
		return Value{}, fmt.Errorf("prometheus query failed (HTTP %d): %s: %s", resp.StatusCode, api.ErrorType, api.Error)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return Value{}, fmt.Errorf("prometheus returned HTTP %d: %s", resp.StatusCode, snippet(body))
	}
	if jsonErr != nil {
		return Value{}, fmt.Errorf("decoding Prometheus response: %w", jsonErr)
	}
	if api.Status != "success" {
		return Value{}, fmt.Errorf("prometheus returned unexpected status %q", api.Status)
	}
	return decodeQueryData(api.Data)
}

// decodeQueryData turns the data of a successful instant query into a Value.
func decodeQueryData(raw json.RawMessage) (Value, error) {
	var data queryData
	if err := json.Unmarshal(raw, &data); err != nil {
		return Value{}, fmt.Errorf("decoding Prometheus query data: %w", err)
	}
	switch data.ResultType {
	case "scalar":
		n, err := parseSamplePair(data.Result)
		if err != nil {
			return Value{}, fmt.Errorf("decoding scalar result: %w", err)
		}
		return Value{Number: n}, nil
	case "vector":
		var series []sample
		if err := json.Unmarshal(data.Result, &series); err != nil {
			return Value{}, fmt.Errorf("decoding vector result: %w", err)
		}
		switch len(series) {
		case 0:
			return Value{NoData: true}, nil
		case 1:
			n, err := parseSamplePair(series[0].Value)
			if err != nil {
				return Value{}, fmt.Errorf("decoding vector result: %w", err)
			}
			return Value{Number: n}, nil
		default:
			return Value{}, fmt.Errorf("query returned %d series, it must be aggregated to one (e.g. with sum())", len(series))
		}
	default:
		return Value{}, fmt.Errorf("unsupported result type %q: the query must return a scalar or a single-series instant vector", data.ResultType)
	}
}

// parseSamplePair decodes a [<unix time>, "<value>"] pair and returns the value.
func parseSamplePair(raw json.RawMessage) (float64, error) {
	var pair []json.RawMessage
	if err := json.Unmarshal(raw, &pair); err != nil {
		return 0, fmt.Errorf("sample is not a [time, value] pair: %w", err)
	}
	if len(pair) != 2 {
		return 0, fmt.Errorf("sample has %d elements, want [time, value]", len(pair))
	}
	var s string
	if err := json.Unmarshal(pair[1], &s); err != nil {
		return 0, fmt.Errorf("sample value is not a string: %w", err)
	}
	n, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("sample value %q is not a number: %w", s, err)
	}
	return n, nil
}

// snippet returns the start of body for use in an error message.
func snippet(body []byte) string {
	s := strings.TrimSpace(string(body))
	if len(s) > maxErrorBodyBytes {
		s = s[:maxErrorBodyBytes] + "..."
	}
	if s == "" {
		return "(empty body)"
	}
	return s
}
