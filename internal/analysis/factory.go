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
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
)

// Backend is the metrics backend of one measurement: how a metric's query
// is written for it, and how it is run.
type Backend interface {
	Provider
	// Render executes a metric's query template with vars, each value
	// escaped the way this backend's queries need.
	Render(tmpl string, vars QueryVars) (string, error)
}

// kinds are the metrics backends an analysis can name in
// spec.rollout.canary.analysis.provider, in the order their fields are
// looked at. A new backend is one entry here, its own file and its tests.
var kinds = []struct {
	name string
	set  func(*msv1.MetricProvider) bool
	make func(f *Factory, p *msv1.MetricProvider, vars QueryVars) (Backend, error)
}{
	{"prometheus", func(p *msv1.MetricProvider) bool { return p.Prometheus != nil }, func(f *Factory, p *msv1.MetricProvider, _ QueryVars) (Backend, error) {
		return f.prometheus(p.Prometheus.Address, p.Prometheus.Headers)
	}},
	{"web", func(p *msv1.MetricProvider) bool { return p.Web != nil }, func(f *Factory, p *msv1.MetricProvider, vars QueryVars) (Backend, error) {
		return NewWeb(p.Web.URL, p.Web.JSONPath, p.Web.Headers, vars, f.Client)
	}},
}

// Factory makes the Backend of each analysis. Its HTTP clients are shared
// by every measurement.
type Factory struct {
	// Client is the client of every backend an analysis names itself.
	Client *http.Client
	// DefaultPrometheus is the operator's --default-prometheus-address, for
	// analyses that name no backend.
	DefaultPrometheus string
	// defaultClient carries the operator's credentials, and only to
	// DefaultPrometheus: an address from a spec never gets them.
	defaultClient *http.Client
}

// Credentials are the operator's own for its default Prometheus, from files
// mounted into its pod.
type Credentials struct {
	// BearerTokenFile holds a token sent as "Authorization: Bearer"; it is
	// read again for every query, so a rotated token is picked up.
	BearerTokenFile string
	// CAFile holds the PEM certificates that the server's must chain to.
	CAFile string
}

// NewFactory returns a Factory whose default Prometheus is queried with
// creds (which may be empty).
func NewFactory(client *http.Client, defaultPrometheus string, creds Credentials) (*Factory, error) {
	f := &Factory{Client: client, DefaultPrometheus: defaultPrometheus, defaultClient: client}
	if creds == (Credentials{}) {
		return f, nil
	}
	base, ok := client.Transport.(*http.Transport)
	if !ok {
		return nil, errors.New("the shared HTTP client has no *http.Transport to add credentials to")
	}
	t := base.Clone()
	if creds.CAFile != "" {
		pem, err := os.ReadFile(creds.CAFile)
		if err != nil {
			return nil, fmt.Errorf("reading the default Prometheus's CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s holds no PEM certificate", creds.CAFile)
		}
		t.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	var rt http.RoundTripper = t
	if creds.BearerTokenFile != "" {
		if _, err := readToken(creds.BearerTokenFile); err != nil {
			return nil, err
		}
		rt = &bearerToken{file: creds.BearerTokenFile, next: t}
	}
	f.defaultClient = &http.Client{Transport: rt}
	return f, nil
}

// For returns the backend of analysis a for one measurement with vars.
func (f *Factory) For(a *msv1.Analysis, vars QueryVars) (Backend, error) {
	switch {
	case a.Provider != nil:
		for _, k := range kinds {
			if k.set(a.Provider) {
				return k.make(f, a.Provider, vars)
			}
		}
		return nil, errors.New("spec.rollout.canary.analysis.provider names no backend this operator knows")
	case a.Prometheus != nil:
		return f.prometheus(a.Prometheus.Address, nil)
	case f.DefaultPrometheus == "":
		return nil, errors.New("no Prometheus to query: set spec.rollout.canary.analysis.provider, or start the operator with --default-prometheus-address")
	}
	p, err := NewPrometheus(f.DefaultPrometheus, f.defaultClient)
	if err != nil {
		return nil, err
	}
	return p.(*prometheus), nil
}

func (f *Factory) prometheus(address string, headers []msv1.HTTPHeader) (Backend, error) {
	p, err := NewPrometheus(address, f.Client)
	if err != nil {
		return nil, err
	}
	prom := p.(*prometheus)
	prom.headers = headers
	return prom, nil
}

// bearerToken adds the token of a file to every request.
type bearerToken struct {
	file string
	next http.RoundTripper
}

func (b *bearerToken) RoundTrip(req *http.Request) (*http.Response, error) {
	token, err := readToken(b.file)
	if err != nil {
		return nil, err
	}
	req = req.Clone(req.Context())
	req.Header.Set("Authorization", "Bearer "+token)
	return b.next.RoundTrip(req)
}

func readToken(file string) (string, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("reading the default Prometheus's bearer token: %w", err)
	}
	token := strings.TrimSpace(string(data))
	if token == "" {
		return "", fmt.Errorf("the bearer token file %s is empty", file)
	}
	return token, nil
}

// Render implements Backend: values are escaped for a PromQL string literal.
func (p *prometheus) Render(tmpl string, vars QueryVars) (string, error) {
	return RenderQuery(tmpl, vars)
}
