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
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"
)

var update = flag.Bool("update", false, "rewrite the generated part of docs/traffic-metrics.md")

const trafficDoc = "../../docs/traffic-metrics.md"

func TestRateWindow(t *testing.T) {
	tests := []struct {
		interval, sinceStep time.Duration
		want                string
	}{
		{time.Second, 0, "60s"},
		{30 * time.Second, 0, "60s"},
		{time.Minute, 0, "60s"},
		{90 * time.Second, 0, "90s"},
		{1500 * time.Millisecond, 0, "60s"},
		{time.Minute + 500*time.Millisecond, 0, "61s"},
		{24 * time.Hour, 0, "86400s"},
		// Never back before the analysis step started, never below the interval.
		{4 * time.Second, 4 * time.Second, "4s"},
		{4 * time.Second, 9 * time.Second, "9s"},
		{4 * time.Second, 10 * time.Minute, "60s"},
		{30 * time.Second, 2 * time.Second, "30s"},
		{time.Minute, time.Minute + 200*time.Millisecond, "60s"},
		{90 * time.Second, time.Hour, "90s"},
	}
	for _, tt := range tests {
		if got := RateWindow(tt.interval, tt.sinceStep); got != tt.want {
			t.Errorf("RateWindow(%v, %v) = %q, want %q", tt.interval, tt.sinceStep, got, tt.want)
		}
	}
}

func TestTraefikNormalize(t *testing.T) {
	tests := map[string]string{
		"shop-checkout-canary-http": "shop-checkout-canary-http",
		"shop-check--out-http":      "shop-check-out-http",
		"-shop.a_b--http-":          "shop-a-b-http",
		"café-ü":                    "café-ü",
	}
	for in, want := range tests {
		if got := traefikNormalize(in); got != want {
			t.Errorf("traefikNormalize(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPromRegex(t *testing.T) {
	tests := []struct {
		in, want, wantErr string
	}{
		{in: "checkout-canary", want: "checkout-canary"},
		{in: "a.b", want: `a\\.b`},
		{in: `x"} or vector(1) #`, want: `x\"\\} or vector\\(1\\) #`},
		{in: `back\slash`, want: `back\\\\slash`},
		{in: "a+b*c?[d]^$|", want: `a\\+b\\*c\\?\\[d\\]\\^\\$\\|`},
		{in: "bad\nname", wantErr: "newline"},
	}
	for _, tt := range tests {
		got, err := promRegex(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("promRegex(%q) error = %v, want one containing %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("promRegex(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestTemplateQuery(t *testing.T) {
	target := Target{Namespace: "shop", Service: "checkout-canary", Workload: "checkout-canary", Window: "60s"}
	tests := []struct {
		name    string
		impl    Implementation
		tmpl    Template
		target  Target
		want    string
		wantErr string
	}{
		{name: "traefik success rate", impl: Traefik, tmpl: RequestSuccessRate, target: target,
			want: `sum(rate(traefik_service_requests_total{service=~"shop-checkout-canary-http-[0-9]+@kubernetesgateway",code!~"5.."}[60s])) / sum(rate(traefik_service_requests_total{service=~"shop-checkout-canary-http-[0-9]+@kubernetesgateway"}[60s]))`},
		{name: "the empty implementation is traefik", impl: "", tmpl: RequestDurationP99, target: target,
			want: `histogram_quantile(0.99, sum by (le) (rate(traefik_service_request_duration_seconds_bucket{service=~"shop-checkout-canary-http-[0-9]+@kubernetesgateway"}[60s]))) * 1000`},
		{name: "traefik collapses double dashes as Traefik does", impl: Traefik, tmpl: RequestSuccessRate,
			target: Target{Namespace: "a--b", Service: "c-canary", Workload: "c-canary", Window: "90s"},
			want:   `sum(rate(traefik_service_requests_total{service=~"a-b-c-canary-http-[0-9]+@kubernetesgateway",code!~"5.."}[90s])) / sum(rate(traefik_service_requests_total{service=~"a-b-c-canary-http-[0-9]+@kubernetesgateway"}[90s]))`},
		{name: "istio selects the destination workload", impl: Istio, tmpl: RequestDurationP99, target: target,
			want: `histogram_quantile(0.99, sum by (le) (rate(istio_request_duration_milliseconds_bucket{reporter="destination",destination_workload_namespace="shop",destination_workload="checkout-canary"}[60s])))`},
		{name: "istio escapes a hostile workload", impl: Istio, tmpl: RequestSuccessRate,
			target: Target{Namespace: "shop", Workload: `x"} or vector(1) or y{a="`, Window: "60s"},
			want:   `sum(rate(istio_requests_total{reporter="destination",destination_workload_namespace="shop",destination_workload="x\"} or vector(1) or y{a=\"",response_code!~"5.."}[60s])) / sum(rate(istio_requests_total{reporter="destination",destination_workload_namespace="shop",destination_workload="x\"} or vector(1) or y{a=\""}[60s]))`},
		{name: "nginx-gateway-fabric escapes regex metacharacters", impl: NGINXGatewayFabric, tmpl: RequestSuccessRate,
			target: Target{Namespace: "a.b", Service: "c+d", Window: "60s"},
			want:   `sum(rate(nginx_http_upstream_peer_responses_total{nginx_upstream_name=~"a\\.b_c\\+d_[0-9]+",nginx_status_range!="5xx"}[60s])) / sum(rate(nginx_http_upstream_peer_responses_total{nginx_upstream_name=~"a\\.b_c\\+d_[0-9]+"}[60s]))`},
		{name: "a newline never reaches a query", impl: Linkerd, tmpl: RequestSuccessRate,
			target: Target{Namespace: "shop", Workload: "x\n) or vector(1", Window: "60s"}, wantErr: "newline"},
		{name: "the window must be a duration", impl: Linkerd, tmpl: RequestSuccessRate,
			target: Target{Namespace: "shop", Workload: "w", Window: "1m]) or vector(1) or rate(x[1m"}, wantErr: "not a Prometheus duration"},
		{name: "unknown implementation", impl: "haproxy", tmpl: RequestSuccessRate, target: target,
			wantErr: `unknown gateway implementation "haproxy": use one of traefik, envoy-gateway, istio, linkerd, nginx-gateway-fabric`},
		{name: "unknown template", impl: Traefik, tmpl: "error-budget", target: target,
			wantErr: `unknown metric template "error-budget": use one of request-success-rate, request-duration-p99`},
		{name: "a template the implementation lacks", impl: NGINXGatewayFabric, tmpl: RequestDurationP99, target: target,
			wantErr: "template request-duration-p99 is not available for nginx-gateway-fabric: NGINX reports only an average response time"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := TemplateQuery(tt.impl, tt.tmpl, tt.target)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("query\n got %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestParseImplementation(t *testing.T) {
	for _, impl := range Implementations() {
		if got, err := ParseImplementation(string(impl)); err != nil || got != impl {
			t.Errorf("ParseImplementation(%q) = %q, %v", impl, got, err)
		}
	}
	if got, err := ParseImplementation(""); err != nil || got != Traefik {
		t.Errorf(`ParseImplementation("") = %q, %v; want traefik`, got, err)
	}
	if _, err := ParseImplementation("Traefik"); err == nil {
		t.Error(`ParseImplementation("Traefik") must fail: names are lower case`)
	}
}

// Every implementation either renders a template or says why it cannot.
func TestEveryImplementationAnswersEveryTemplate(t *testing.T) {
	for _, impl := range Implementations() {
		for _, tmpl := range Templates() {
			q, err := TemplateQuery(impl, tmpl, shapedTarget)
			var unavailable *UnavailableError
			switch {
			case errors.As(err, &unavailable):
				if unavailable.Reason == "" {
					t.Errorf("%s %s: refused without a reason", impl, tmpl)
				}
			case err != nil:
				t.Errorf("%s %s: %v", impl, tmpl, err)
			case q == "":
				t.Errorf("%s %s: empty query", impl, tmpl)
			}
		}
	}
}

// The CRD's enums of spec.rollout.canary.analysis.implementation and
// metrics[].template are the lists this package knows.
func TestCRDEnumsMatchTheCatalogue(t *testing.T) {
	b, err := os.ReadFile("../../config/crd/bases/apps.msvc.dev_microservices.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var crd map[string]any
	if err := yaml.Unmarshal(b, &crd); err != nil {
		t.Fatal(err)
	}
	var analysis map[string]any
	for _, v := range dig(crd, "spec", "versions").([]any) {
		analysis = dig(v, "schema", "openAPIV3Schema", "properties", "spec", "properties", "rollout", "properties", "canary", "properties", "analysis", "properties").(map[string]any)
	}
	enum := func(node any) []string {
		var out []string
		for _, e := range dig(node, "enum").([]any) {
			out = append(out, e.(string))
		}
		return out
	}
	if got, want := enum(analysis["implementation"]), names(Implementations()); !slices.Equal(got, want) {
		t.Errorf("CRD implementation enum %v, catalogue %v", got, want)
	}
	tmpl := dig(analysis, "metrics", "items", "properties", "template")
	if got, want := enum(tmpl), names(Templates()); !slices.Equal(got, want) {
		t.Errorf("CRD template enum %v, catalogue %v", got, want)
	}
}

func dig(node any, path ...string) any {
	for _, p := range path {
		m, ok := node.(map[string]any)
		if !ok {
			panic(fmt.Sprintf("no %q in the CRD", p))
		}
		node = m[p]
	}
	return node
}

func names[T ~string](in []T) []string {
	out := make([]string, len(in))
	for i, v := range in {
		out[i] = string(v)
	}
	return out
}

// The doc's queries are the ones the code renders. Run with -update to
// rewrite them.
func TestTrafficMetricsDoc(t *testing.T) {
	b, err := os.ReadFile(trafficDoc)
	if err != nil {
		t.Fatal(err)
	}
	const begin, end = "<!-- BEGIN GENERATED: queries (go test ./internal/analysis -run TestTrafficMetricsDoc -update) -->\n", "<!-- END GENERATED: queries -->\n"
	doc := string(b)
	i, j := strings.Index(doc, begin), strings.Index(doc, end)
	if i < 0 || j < i {
		t.Fatalf("%s has no generated section between %q and %q", trafficDoc, begin, end)
	}
	want := doc[:i+len(begin)] + generatedQueries() + doc[j:]
	if *update {
		if err := os.WriteFile(trafficDoc, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if doc != want {
		t.Errorf("%s is stale: run go test ./internal/analysis -run TestTrafficMetricsDoc -update", trafficDoc)
	}
}

// generatedQueries lists every implementation's query per template, for
// the Microservice checkout in namespace shop with the default interval.
func generatedQueries() string {
	var b strings.Builder
	target := Target{Namespace: "shop", Service: "checkout-canary", Workload: "checkout-canary", Window: RateWindow(time.Minute, 0)}
	for _, impl := range Implementations() {
		if b.Len() == 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "### %s\n\n", impl)
		for _, tmpl := range Templates() {
			q, err := TemplateQuery(impl, tmpl, target)
			var unavailable *UnavailableError
			if errors.As(err, &unavailable) {
				fmt.Fprintf(&b, "`%s`: not available. The measurement is Inconclusive with the message:\n\n```text\n%s\n```\n\n", tmpl, err)
				continue
			}
			if err != nil {
				q = "error: " + err.Error()
			}
			fmt.Fprintf(&b, "`%s`:\n\n```promql\n%s\n```\n\n", tmpl, q)
		}
	}
	return b.String()
}
