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
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/msvc-dev/msvc-operator/internal/testutil/promserver"
)

// These tests evaluate the rendered template queries with Prometheus's own
// engine (promtool test rules) on series named and labelled the way each
// implementation emits them. Every case holds, beside the canary track's
// series, series of the stable track and of unrelated services whose values
// would change the result: a query that selects too much fails.

// shapedTarget is the Microservice checkout in namespace shop, canary track.
var shapedTarget = Target{Namespace: "shop", Service: "checkout-canary", Workload: "checkout-canary", Window: "60s"}

// counter is a series that grows by perStep every scrape (15s).
func counter(series string, perStep int) promSeries {
	return promSeries{Series: series, Values: fmt.Sprintf("0+%dx20", perStep)}
}

// histogram returns the _bucket series of a histogram whose every
// observation falls in the bucket ending at le, perStep observations a scrape.
func histogram(name, labels string, bounds []string, le string, perStep int) []promSeries {
	var out []promSeries
	in := false
	for _, b := range bounds {
		if b == le {
			in = true
		}
		n := 0
		if in {
			n = perStep
		}
		out = append(out, counter(fmt.Sprintf(`%s{%s,le="%s"}`, name, labels, b), n))
	}
	return out
}

type promSeries struct {
	Series string `json:"series"`
	Values string `json:"values"`
}

type promExprTest struct {
	Expr       string          `json:"expr"`
	EvalTime   string          `json:"eval_time"`
	ExpSamples []promExpSample `json:"exp_samples"`
}

type promExpSample struct {
	Labels string  `json:"labels"`
	Value  float64 `json:"value"`
}

type promTest struct {
	Interval        string         `json:"interval"`
	InputSeries     []promSeries   `json:"input_series"`
	PromqlExprTests []promExprTest `json:"promql_expr_test"`
}

type promTestFile struct {
	RuleFiles          []string   `json:"rule_files"`
	EvaluationInterval string     `json:"evaluation_interval"`
	Tests              []promTest `json:"tests"`
}

// near wraps query so that it returns 1 when its single value is within
// 1e-6 of want: Prometheus's rates carry rounding, promtool compares exactly.
func near(query string, want float64) string {
	return fmt.Sprintf("abs((%s) - %v) < bool 1e-6", query, want)
}

// runPromtool evaluates every expression of tests at 3m and expects it to
// return the single value 1 without labels.
func runPromtool(t *testing.T, series []promSeries, exprs []string) {
	t.Helper()
	promtool := findPromtool(t)
	pt := promTest{Interval: "15s", InputSeries: series}
	for _, e := range exprs {
		pt.PromqlExprTests = append(pt.PromqlExprTests, promExprTest{Expr: e, EvalTime: "3m", ExpSamples: []promExpSample{{Labels: "{}", Value: 1}}})
	}
	b, err := yaml.Marshal(promTestFile{RuleFiles: []string{}, EvaluationInterval: "15s", Tests: []promTest{pt}})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "test.yml")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(promtool, "test", "rules", path).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool test rules: %v\n%s\ntest file:\n%s", err, out, b)
	}
}

func findPromtool(t *testing.T) string {
	t.Helper()
	bin, err := promserver.Find()
	if err == nil {
		p := filepath.Join(filepath.Dir(bin), "promtool")
		if _, statErr := os.Stat(p); statErr == nil {
			return p
		}
		err = fmt.Errorf("no promtool beside %s", bin)
	}
	if os.Getenv("MSVC_SKIP_PROMETHEUS") == "1" {
		t.Skipf("promtool not found (%v); skipped because MSVC_SKIP_PROMETHEUS=1", err)
	}
	t.Fatalf("promtool not found: run hack/ensure-prometheus.sh (make test does) (%v)", err)
	return ""
}

func mustQuery(t *testing.T, impl Implementation, tmpl Template) string {
	t.Helper()
	q, err := TemplateQuery(impl, tmpl, shapedTarget)
	if err != nil {
		t.Fatalf("%s %s: %v", impl, tmpl, err)
	}
	return q
}

// In every case below the canary answers 3 of 4 requests without a 5xx
// (success rate 0.75), and every canary request takes between 250ms and
// 500ms (p99 by linear interpolation 250 + 0.99 * 250 = 497.5ms). The
// stable track and the unrelated services are fast and healthy or slow and
// failing, so that counting any of them moves both results.

func TestTemplatesOnTraefikSeries(t *testing.T) {
	bounds := []string{"0.1", "0.25", "0.5", "1", "+Inf"}
	svc := func(name string) string { return `service="` + name + `",method="GET",protocol="http"` }
	canary := svc("shop-checkout-canary-http-8080@kubernetesgateway")
	var series []promSeries
	series = append(series,
		counter(`traefik_service_requests_total{`+canary+`,code="200"}`, 100),
		counter(`traefik_service_requests_total{`+canary+`,code="404"}`, 50),
		counter(`traefik_service_requests_total{`+canary+`,code="503"}`, 50))
	series = append(series, histogram("traefik_service_request_duration_seconds_bucket", canary+`,code="200"`, bounds, "0.5", 200)...)
	for _, other := range []struct{ svc, code, le string }{
		{"shop-checkout-stable-http-8080@kubernetesgateway", "200", "0.1"},        // the stable track
		{"shop-checkout-canary-http-8080@kubernetescrd", "500", "+Inf"},           // the same Service through an IngressRoute
		{"shop-checkout-canary-admin-http-8080@kubernetesgateway", "500", "+Inf"}, // another Service whose name starts alike
		{"other-checkout-canary-http-8080@kubernetesgateway", "500", "+Inf"},      // the same name in another namespace
		{"shop-0de3f0a9b1-wrr@kubernetesgateway", "200", "0.1"},                   // the route's weighted service, both tracks
	} {
		series = append(series, counter(`traefik_service_requests_total{`+svc(other.svc)+`,code="`+other.code+`"}`, 1000))
		series = append(series, histogram("traefik_service_request_duration_seconds_bucket", svc(other.svc)+`,code="`+other.code+`"`, bounds, other.le, 1000)...)
	}
	runPromtool(t, series, []string{
		near(mustQuery(t, Traefik, RequestSuccessRate), 0.75),
		near(mustQuery(t, Traefik, RequestDurationP99), 497.5),
	})
}

func TestTemplatesOnIstioSeries(t *testing.T) {
	bounds := []string{"100", "250", "500", "1000", "+Inf"}
	labels := func(reporter, ns, workload, code string) string {
		return fmt.Sprintf(`reporter="%s",source_workload="gateway-istio",source_workload_namespace="gateways",destination_workload="%s",destination_workload_namespace="%s",destination_service_name="%s",destination_service_namespace="%s",response_code="%s",request_protocol="http"`,
			reporter, workload, ns, workload, ns, code)
	}
	var series []promSeries
	for code, n := range map[string]int{"200": 100, "404": 50, "503": 50} {
		series = append(series, counter(`istio_requests_total{`+labels("destination", "shop", "checkout-canary", code)+`}`, n))
	}
	series = append(series, histogram("istio_request_duration_milliseconds_bucket", labels("destination", "shop", "checkout-canary", "200"), bounds, "500", 200)...)
	for _, other := range []struct{ reporter, ns, workload, code, le string }{
		{"destination", "shop", "checkout", "200", "100"},          // the stable track's Deployment
		{"source", "shop", "checkout-canary", "500", "+Inf"},       // the gateway's report of the same requests
		{"destination", "other", "checkout-canary", "500", "+Inf"}, // the same name in another namespace
		{"destination", "shop", "checkout-canary-v2", "500", "+Inf"},
	} {
		l := labels(other.reporter, other.ns, other.workload, other.code)
		series = append(series, counter(`istio_requests_total{`+l+`}`, 1000))
		series = append(series, histogram("istio_request_duration_milliseconds_bucket", l, bounds, other.le, 1000)...)
	}
	runPromtool(t, series, []string{
		near(mustQuery(t, Istio, RequestSuccessRate), 0.75),
		near(mustQuery(t, Istio, RequestDurationP99), 497.5),
	})
}

func TestTemplatesOnLinkerdSeries(t *testing.T) {
	bounds := []string{"100", "250", "500", "1000", "+Inf"}
	labels := func(direction, ns, deployment, class, code string) string {
		return fmt.Sprintf(`direction="%s",namespace="%s",deployment="%s",pod="%s-7d9f8-abcde",tls="true",classification="%s",status_code="%s"`,
			direction, ns, deployment, deployment, class, code)
	}
	series := []promSeries{
		counter(`response_total{`+labels("inbound", "shop", "checkout-canary", "success", "200")+`}`, 100),
		counter(`response_total{`+labels("inbound", "shop", "checkout-canary", "success", "404")+`}`, 50),
		counter(`response_total{`+labels("inbound", "shop", "checkout-canary", "failure", "503")+`}`, 50),
	}
	series = append(series, histogram("response_latency_ms_bucket", labels("inbound", "shop", "checkout-canary", "success", "200"), bounds, "500", 200)...)
	for _, other := range []struct{ direction, ns, deployment, class, le string }{
		{"inbound", "shop", "checkout", "success", "100"},          // the stable track's Deployment
		{"outbound", "shop", "checkout-canary", "failure", "+Inf"}, // the canary's own calls to its dependencies
		{"inbound", "other", "checkout-canary", "failure", "+Inf"}, // the same name in another namespace
		{"inbound", "shop", "checkout-canary-v2", "failure", "+Inf"},
	} {
		l := labels(other.direction, other.ns, other.deployment, other.class, "500")
		series = append(series, counter(`response_total{`+l+`}`, 1000))
		series = append(series, histogram("response_latency_ms_bucket", l, bounds, other.le, 1000)...)
	}
	runPromtool(t, series, []string{
		near(mustQuery(t, Linkerd, RequestSuccessRate), 0.75),
		near(mustQuery(t, Linkerd, RequestDurationP99), 497.5),
	})
}

func TestTemplatesOnNGINXGatewayFabricSeries(t *testing.T) {
	labels := func(upstream, peer, status string) string {
		return fmt.Sprintf(`nginx_upstream_name="%s",nginx_peer_address="%s",nginx_peer_name="%s",nginx_zone_name="%s",nginx_status_range="%s"`,
			upstream, peer, peer, upstream, status)
	}
	var series []promSeries
	// Two canary pods, each answering 3 of 4 without a 5xx.
	for _, peer := range []string{"10.0.0.5:8080", "10.0.0.6:8080"} {
		series = append(series,
			counter(`nginx_http_upstream_peer_responses_total{`+labels("shop_checkout-canary_8080", peer, "2xx")+`}`, 50),
			counter(`nginx_http_upstream_peer_responses_total{`+labels("shop_checkout-canary_8080", peer, "4xx")+`}`, 25),
			counter(`nginx_http_upstream_peer_responses_total{`+labels("shop_checkout-canary_8080", peer, "5xx")+`}`, 25))
	}
	for _, other := range []struct{ upstream, status string }{
		{"shop_checkout-stable_8080", "2xx"},    // the stable track
		{"other_checkout-canary_8080", "5xx"},   // the same name in another namespace
		{"shop_checkout-canary-v2_8080", "5xx"}, // another Service whose name starts alike
		{"shop_checkout-canary_9090", "5xx"},    // another port of the canary: still the canary
	} {
		n := 1000
		if other.upstream == "shop_checkout-canary_9090" {
			n = 0
		}
		series = append(series, counter(`nginx_http_upstream_peer_responses_total{`+labels(other.upstream, "10.0.1.9:8080", other.status)+`}`, n))
	}
	runPromtool(t, series, []string{near(mustQuery(t, NGINXGatewayFabric, RequestSuccessRate), 0.75)})

	var unavailable *UnavailableError
	if _, err := TemplateQuery(NGINXGatewayFabric, RequestDurationP99, shapedTarget); !errors.As(err, &unavailable) {
		t.Fatalf("request-duration-p99 on nginx-gateway-fabric: want an UnavailableError, got %v", err)
	}
}

// Envoy Gateway has no per-track series to evaluate: one Envoy cluster per
// HTTPRoute rule carries both tracks. The templates are refused, with why.
func TestTemplatesOnEnvoyGatewayAreRefused(t *testing.T) {
	for _, tmpl := range Templates() {
		_, err := TemplateQuery(EnvoyGateway, tmpl, shapedTarget)
		var unavailable *UnavailableError
		if !errors.As(err, &unavailable) {
			t.Fatalf("%s on envoy-gateway: want an UnavailableError, got %v", tmpl, err)
		}
		if !strings.Contains(err.Error(), "cannot tell the canary from stable") {
			t.Errorf("%s on envoy-gateway: the message does not say why: %v", tmpl, err)
		}
	}
}

// The regular expression escaping is checked by Prometheus itself: a name
// with metacharacters matches itself and nothing its metacharacters would.
func TestPromRegexMatchesOnlyItselfInPrometheus(t *testing.T) {
	name := `a.b+c(d)|e*f\g"h`
	re, err := promRegex(name)
	if err != nil {
		t.Fatal(err)
	}
	lit, err := escapePromQLString(name)
	if err != nil {
		t.Fatal(err)
	}
	series := []promSeries{
		counter(`probe{x="`+lit+`"}`, 1),
		counter(`probe{x="aXbbc(d)|e*f\\g\"h"}`, 10),
		counter(`probe{x="e*f\\g\"h"}`, 100),
		counter(`probe{x="a.b+c(d)"}`, 1000),
	}
	// At 3m the series of the name itself stands at 12 (1 a scrape).
	runPromtool(t, series, []string{fmt.Sprintf(`sum(probe{x=~"%s"}) == bool 12`, re)})
}
