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
	"fmt"
	"strconv"
	"strings"
	"text/template"
	"time"
	"unicode"
	"unicode/utf8"
)

// QueryVars are the values a query template may refer to as {{ .Name }},
// {{ .Namespace }}, {{ .Track }}, {{ .Revision }} and {{ .Interval }}.
type QueryVars struct {
	Name      string
	Namespace string
	Track     string
	Revision  string
	// Interval is the rate window, a Prometheus duration such as "60s"
	// (see RateWindow).
	Interval string
	// Args are an AnalysisTemplate's arguments, as {{ .Args.<name> }}.
	Args map[string]string
}

// sampleQueryVars are used by ValidateQueryTemplate.
var sampleQueryVars = QueryVars{
	Name:      "sample-app",
	Namespace: "default",
	Track:     "canary",
	Revision:  "sample-app-00001",
	Interval:  "60s",
}

// scrapeIntervalAssumption is the longest scrape interval the rate window
// is sized for. Production Prometheus setups commonly scrape every 15s to 30s;
// rate() needs at least two samples in its window, and four make it robust
// against a missed scrape.
const scrapeIntervalAssumption = 15 * time.Second

// MinRateWindow is the shortest rate window: four scrapes at
// scrapeIntervalAssumption.
const MinRateWindow = 4 * scrapeIntervalAssumption

// RateWindow is the range of the rate() in the metric templates, given to
// queries as {{ .Interval }}: the analysis interval, but at least
// MinRateWindow, and never reaching back before the analysis step started
// (sinceStep; 0 when unknown) nor shorter than the interval. The canary's
// Service keeps its name across revisions, so a longer window would count
// the previous canary revision's requests, and could pass a bad canary on
// a good one's record. Rounded up to whole seconds and written in seconds
// ("90s"), a form every Prometheus version parses.
func RateWindow(interval, sinceStep time.Duration) string {
	w := max(interval, MinRateWindow)
	if sinceStep > 0 {
		w = min(w, max(sinceStep, interval))
	}
	secs := int64((w + time.Second - 1) / time.Second)
	return strconv.FormatInt(secs, 10) + "s"
}

// RenderQuery executes the text/template tmpl with vars and returns the
// PromQL query. Every substituted value is escaped for use inside a PromQL
// double-quoted string literal (backslash and double quote are escaped), so
// templates must place them inside double quotes, e.g.
// sum(rate(http_requests_total{app="{{ .Name }}"}[1m])). Values that contain
// newlines, other control characters or invalid UTF-8 are rejected.
func RenderQuery(tmpl string, vars QueryVars) (string, error) {
	return renderTemplate(tmpl, vars, escapePromQLString)
}

// renderTemplate executes tmpl with every field of vars passed through
// escape: each provider says how a value is written in its queries.
func renderTemplate(tmpl string, vars QueryVars, escape func(string) (string, error)) (string, error) {
	t, err := template.New("query").Option("missingkey=error").Parse(tmpl)
	if err != nil {
		return "", fmt.Errorf("invalid query template: %w", err)
	}
	escaped, err := escapeQueryVars(vars, escape)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	if err := t.Execute(&b, escaped); err != nil {
		return "", fmt.Errorf("invalid query template: rendering failed: %w", err)
	}
	out := b.String()
	if strings.TrimSpace(out) == "" {
		return "", fmt.Errorf("invalid query template: it renders to an empty query")
	}
	return out, nil
}

// ValidateQueryTemplate reports whether tmpl parses and renders with sample
// values, so a bad template can be rejected before any rollout uses it.
func ValidateQueryTemplate(tmpl string) error {
	_, err := RenderQuery(tmpl, sampleQueryVars)
	return err
}

// escapeQueryVars checks and escapes every field of vars.
func escapeQueryVars(vars QueryVars, escape func(string) (string, error)) (QueryVars, error) {
	var out QueryVars
	fields := []struct {
		name string
		in   string
		out  *string
	}{
		{"Name", vars.Name, &out.Name},
		{"Namespace", vars.Namespace, &out.Namespace},
		{"Track", vars.Track, &out.Track},
		{"Revision", vars.Revision, &out.Revision},
		{"Interval", vars.Interval, &out.Interval},
	}
	for _, f := range fields {
		s, err := escape(f.in)
		if err != nil {
			return QueryVars{}, fmt.Errorf("query variable %s: %w", f.name, err)
		}
		*f.out = s
	}
	if vars.Args != nil {
		out.Args = make(map[string]string, len(vars.Args))
		for k, v := range vars.Args {
			s, err := escape(v)
			if err != nil {
				return QueryVars{}, fmt.Errorf("argument %s: %w", k, err)
			}
			out.Args[k] = s
		}
	}
	return out, nil
}

// plainString is s itself, checked as escapePromQLString checks it.
func plainString(s string) (string, error) {
	if !utf8.ValidString(s) {
		return "", fmt.Errorf("value %q is not valid UTF-8", s)
	}
	for _, r := range s {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return "", fmt.Errorf("value %q contains control character %U", s, r)
		}
	}
	return s, nil
}

// escapePromQLString escapes s for use inside a PromQL double-quoted string
// literal. It rejects newlines, control characters and invalid UTF-8.
func escapePromQLString(s string) (string, error) {
	if !utf8.ValidString(s) {
		return "", fmt.Errorf("value %q is not valid UTF-8", s)
	}
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		switch {
		case r == '\n' || r == '\r':
			return "", fmt.Errorf("value %q contains a newline", s)
		case unicode.IsControl(r) || r == '\u2028' || r == '\u2029':
			return "", fmt.Errorf("value %q contains control character %U", s, r)
		case r == '\\' || r == '"':
			b.WriteByte('\\')
			b.WriteRune(r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String(), nil
}
