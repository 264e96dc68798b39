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
	"strings"
	"testing"
)

func TestRenderQuery(t *testing.T) {
	vars := QueryVars{Name: "shop", Namespace: "prod", Track: "canary", Revision: "shop-00002"}
	tests := []struct {
		name    string
		tmpl    string
		vars    QueryVars
		want    string
		wantErr string
	}{
		{
			name: "all fields",
			tmpl: `sum(rate(http_requests_total{app="{{ .Name }}",namespace="{{ .Namespace }}",track="{{ .Track }}",rev="{{ .Revision }}"}[1m]))`,
			vars: vars,
			want: `sum(rate(http_requests_total{app="shop",namespace="prod",track="canary",rev="shop-00002"}[1m]))`,
		},
		{
			name: "no fields",
			tmpl: `vector(1)`,
			vars: vars,
			want: `vector(1)`,
		},
		{
			name: "injection stays inside the string literal",
			tmpl: `up{app="{{ .Name }}"}`,
			vars: QueryVars{Name: `"} or vector(1) #`},
			want: `up{app="\"} or vector(1) #"}`,
		},
		{
			name: "backslash is escaped before quote",
			tmpl: `up{app="{{ .Name }}"}`,
			vars: QueryVars{Name: `a\"b`},
			want: `up{app="a\\\"b"}`,
		},
		{
			name: "trailing backslash cannot escape the closing quote",
			tmpl: `up{app="{{ .Name }}"}`,
			vars: QueryVars{Name: `x\`},
			want: `up{app="x\\"}`,
		},
		{
			name: "unicode passes through",
			tmpl: `up{app="{{ .Name }}"}`,
			vars: QueryVars{Name: "café-ü"},
			want: `up{app="café-ü"}`,
		},
		{
			name:    "newline is rejected",
			tmpl:    `up{app="{{ .Name }}"}`,
			vars:    QueryVars{Name: "shop\"}\nor vector(1)"},
			wantErr: "newline",
		},
		{
			name:    "carriage return is rejected",
			tmpl:    `up{ns="{{ .Namespace }}"}`,
			vars:    QueryVars{Namespace: "prod\r"},
			wantErr: "Namespace",
		},
		{
			name:    "control character is rejected",
			tmpl:    `up{track="{{ .Track }}"}`,
			vars:    QueryVars{Track: "can\x00ary"},
			wantErr: "control character",
		},
		{
			name:    "tab is rejected",
			tmpl:    `up{rev="{{ .Revision }}"}`,
			vars:    QueryVars{Revision: "r\t1"},
			wantErr: "Revision",
		},
		{
			name:    "invalid utf-8 is rejected",
			tmpl:    `up{app="{{ .Name }}"}`,
			vars:    QueryVars{Name: "\xff"},
			wantErr: "UTF-8",
		},
		{
			name:    "unused bad field is still rejected",
			tmpl:    `up`,
			vars:    QueryVars{Name: "a\nb"},
			wantErr: "newline",
		},
		{
			name:    "parse error",
			tmpl:    `up{app="{{ .Name "}`,
			vars:    vars,
			wantErr: "invalid query template",
		},
		{
			name:    "unknown field",
			tmpl:    `up{app="{{ .App }}"}`,
			vars:    vars,
			wantErr: "invalid query template",
		},
		{
			name:    "empty template",
			tmpl:    `  `,
			vars:    vars,
			wantErr: "empty",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := RenderQuery(tc.tmpl, tc.vars)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("RenderQuery error = %v (output %q), want one containing %q", err, got, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("RenderQuery unexpected error: %v", err)
			}
			if got != tc.want {
				t.Errorf("RenderQuery =\n  %s\nwant\n  %s", got, tc.want)
			}
		})
	}
}

// TestRenderQueryInjectionIsOneLiteral checks with a tiny PromQL-style string
// scanner that the rendered label value is one literal equal to the input.
func TestRenderQueryInjectionIsOneLiteral(t *testing.T) {
	for _, name := range []string{`"} or vector(1) #`, `\"} or vector(1)`, `\`, `""`, `a\\"b`} {
		t.Run(name, func(t *testing.T) {
			out, err := RenderQuery(`up{app="{{ .Name }}"} == 1`, QueryVars{Name: name})
			if err != nil {
				t.Fatalf("RenderQuery: %v", err)
			}
			const prefix = `up{app="`
			if !strings.HasPrefix(out, prefix) {
				t.Fatalf("output %q lost its prefix", out)
			}
			lit, rest, ok := scanDoubleQuoted(out[len(prefix):])
			if !ok {
				t.Fatalf("output %q has an unterminated string", out)
			}
			if lit != name {
				t.Errorf("literal decodes to %q, want %q", lit, name)
			}
			if rest != `} == 1` {
				t.Errorf("text after the literal is %q, want %q (output %q)", rest, `} == 1`, out)
			}
		})
	}
}

// scanDoubleQuoted reads a double-quoted literal body (opening quote already
// consumed) the way PromQL's lexer does for \\ and \" escapes.
func scanDoubleQuoted(s string) (lit, rest string, ok bool) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			if i+1 >= len(s) {
				return "", "", false
			}
			i++
			b.WriteByte(s[i])
		case '"':
			return b.String(), s[i+1:], true
		default:
			b.WriteByte(s[i])
		}
	}
	return "", "", false
}

func TestValidateQueryTemplate(t *testing.T) {
	tests := []struct {
		tmpl    string
		wantErr bool
	}{
		{tmpl: `sum(rate(http_requests_total{app="{{ .Name }}",track="{{ .Track }}"}[1m]))`},
		{tmpl: `up{namespace="{{ .Namespace }}",rev="{{ .Revision }}"}`},
		{tmpl: `up{app="{{ .Name "}`, wantErr: true},
		{tmpl: `up{app="{{ .Nmae }}"}`, wantErr: true},
		{tmpl: `{{ if }}`, wantErr: true},
		{tmpl: ``, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.tmpl, func(t *testing.T) {
			err := ValidateQueryTemplate(tc.tmpl)
			if (err != nil) != tc.wantErr {
				t.Errorf("ValidateQueryTemplate(%q) error = %v, wantErr %v", tc.tmpl, err, tc.wantErr)
			}
		})
	}
}
