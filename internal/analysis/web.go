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
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"text/template"

	"k8s.io/client-go/util/jsonpath"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
)

// web is a Backend that GETs a URL and reads one number from the JSON it
// returns (spec.rollout.canary.analysis.provider.web).
type web struct {
	url     *template.Template
	path    *jsonpath.JSONPath
	headers []msv1.HTTPHeader
	vars    QueryVars
	client  *http.Client
}

// urlVars are what a web provider's url template sees.
type urlVars struct {
	QueryVars
	Query string
}

// NewWeb returns the web backend of one measurement with vars: urlTemplate
// is executed with them and the metric's query, each escaped as a URL query
// value, and jsonPath (kubectl's syntax) picks the number from the answer.
func NewWeb(urlTemplate, jsonPath string, headers []msv1.HTTPHeader, vars QueryVars, client *http.Client) (Backend, error) {
	t, err := template.New("url").Option("missingkey=error").Parse(urlTemplate)
	if err != nil {
		return nil, fmt.Errorf("invalid web provider url: %w", err)
	}
	p := jsonpath.New("value")
	if err := p.Parse(jsonPath); err != nil {
		return nil, fmt.Errorf("invalid web provider jsonPath %q: %w", jsonPath, err)
	}
	p.AllowMissingKeys(true)
	if client == nil {
		client = &http.Client{Timeout: defaultTimeout}
	}
	return &web{url: t, path: p, headers: headers, vars: vars, client: client}, nil
}

// Render implements Backend: a metric's query is a plain string here, put in
// the url (escaped) by Query.
func (w *web) Render(tmpl string, vars QueryVars) (string, error) {
	return renderTemplate(tmpl, vars, plainString)
}

// Query implements Provider.
func (w *web) Query(ctx context.Context, query string) (Value, error) {
	escaped, err := escapeQueryVars(w.vars, func(s string) (string, error) { return url.QueryEscape(s), nil })
	if err != nil {
		return Value{}, err
	}
	var b strings.Builder
	if err := w.url.Execute(&b, urlVars{QueryVars: escaped, Query: url.QueryEscape(query)}); err != nil {
		return Value{}, fmt.Errorf("invalid web provider url: %w", err)
	}
	u, err := url.Parse(b.String())
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return Value{}, fmt.Errorf("the web provider url renders to %q, not an http or https URL", b.String())
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return Value{}, err
	}
	for _, h := range w.headers {
		req.Header.Set(h.Name, h.Value)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := w.client.Do(req)
	if err != nil {
		return Value{}, fmt.Errorf("querying %s: %w", u.Redacted(), err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	if err != nil {
		return Value{}, fmt.Errorf("reading the answer of %s: %w", u.Redacted(), err)
	}
	if len(body) > maxResponseBytes {
		return Value{}, fmt.Errorf("the answer of %s exceeds %d bytes", u.Redacted(), maxResponseBytes)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return Value{}, fmt.Errorf("%s returned HTTP %d: %s", u.Redacted(), resp.StatusCode, snippet(body))
	}
	var doc any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		return Value{}, fmt.Errorf("the answer of %s is not JSON: %w", u.Redacted(), err)
	}
	results, err := w.path.FindResults(doc)
	if err != nil {
		return Value{}, fmt.Errorf("jsonPath on the answer of %s: %w", u.Redacted(), err)
	}
	var found []any
	for _, r := range results {
		for _, v := range r {
			if v.IsValid() && v.CanInterface() {
				found = append(found, v.Interface())
			}
		}
	}
	switch len(found) {
	case 0:
		return Value{NoData: true}, nil
	case 1:
	default:
		return Value{}, fmt.Errorf("jsonPath found %d values in the answer of %s, want one number", len(found), u.Redacted())
	}
	switch v := found[0].(type) {
	case nil:
		return Value{NoData: true}, nil
	case json.Number:
		n, err := v.Float64()
		if err != nil {
			return Value{}, fmt.Errorf("the value %s is not a number: %w", v, err)
		}
		return Value{Number: n}, nil
	case string:
		n, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil {
			return Value{}, fmt.Errorf("the value %q is not a number", v)
		}
		return Value{Number: n}, nil
	}
	return Value{}, fmt.Errorf("jsonPath found %s, want a number", snippet(fmt.Appendf(nil, "%v", found[0])))
}
