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

package controller

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
	"github.com/msvc-dev/msvc-operator/internal/testutil/promserver"
)

// webMetrics is a JSON metrics API: GET /value?q=<query> answers
// {"data": {"value": <number>}} with the value the test set for the query.
type webMetrics struct {
	mu      sync.Mutex
	values  map[string]any
	queries []string
}

func (m *webMetrics) set(query string, v any) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.values[query] = v
}

func (m *webMetrics) seen() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.queries...)
}

func (m *webMetrics) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if r.Header.Get("X-Api-Key") != "team-shop" {
		http.Error(w, "missing X-Api-Key", http.StatusUnauthorized)
		return
	}
	q := r.URL.Query().Get("q")
	m.queries = append(m.queries, q)
	v, ok := m.values[q]
	if !ok {
		http.Error(w, "unknown query", http.StatusNotFound)
		return
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"data": map[string]any{"value": v}})
}

var _ = Describe("Canary analysis through the metrics backends of spec.rollout.canary.analysis.provider", Ordered, func() {
	var (
		prom    *promserver.Server
		ratios  *successRatios
		tenants *httptest.Server
		web     *webMetrics
		webAPI  *httptest.Server
	)
	BeforeAll(func() {
		ratios, prom = startRatiosPrometheus()
		// A multi-tenant front of the real Prometheus, as Mimir or Cortex
		// are: a query without its tenant header is refused.
		target, err := url.Parse(prom.URL)
		Expect(err).NotTo(HaveOccurred())
		proxy := httputil.NewSingleHostReverseProxy(target)
		tenants = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("X-Scope-OrgID") != "shop" {
				http.Error(w, "no tenant", http.StatusUnauthorized)
				return
			}
			proxy.ServeHTTP(w, r)
		}))
		DeferCleanup(tenants.Close)
		web = &webMetrics{values: map[string]any{}}
		webAPI = httptest.NewServer(web)
		DeferCleanup(webAPI.Close)
	})

	analysed := func(ns string, provider *msv1.MetricProvider, query string, min string) *msv1.Microservice {
		ms := withCanary(withRoute(checkout(ns)), weightStep(25), msv1.CanaryStep{Analysis: &msv1.AnalysisStep{}}, weightStep(50))
		ms.Spec.Rollout.Canary.Analysis = &msv1.Analysis{
			Interval:          &metav1.Duration{Duration: time.Second},
			Count:             ptr.To[int32](2),
			InconclusiveLimit: ptr.To[int32](30), // Prometheus 2.42 takes ~5s to scrape a new target first
			Provider:          provider,
			Metrics: []msv1.Metric{{
				Name: "success-rate", Query: query, SuccessCondition: msv1.SuccessCondition{Min: ptr.To(min)},
			}},
		}
		return ms
	}

	It("sends provider.prometheus.headers with every query (a multi-tenant Prometheus)", func() {
		ns := newNamespace()
		ratios.set(ns, "checkout", 0.999)
		ms := analysed(ns, &msv1.MetricProvider{Prometheus: &msv1.PrometheusProvider{
			Address: tenants.URL,
			Headers: []msv1.HTTPHeader{{Name: "X-Scope-OrgID", Value: "shop"}},
		}}, `request_success_ratio{namespace="{{ .Namespace }}",name="{{ .Name }}",track="{{ .Track }}"}`, "0.99")
		startCanaryWithReadyPods(ms)
		Eventually(rolloutStatus(ms), 60*time.Second, interval).Should(HaveField("Phase", msv1.RolloutPhasePromoting))
		Expect(rolloutStatus(ms)().Analysis.Metrics).To(ContainElement(And(HaveField("Value", "0.999"), HaveField("Phase", "Successful"))))
	})

	It("reads each metric from a JSON API with provider.web, and rolls back on a failing value", func() {
		ns := newNamespace()
		provider := &msv1.MetricProvider{Web: &msv1.WebProvider{
			URL:      webAPI.URL + "/value?q={{ .Query }}",
			JSONPath: "{.data.value}",
			Headers:  []msv1.HTTPHeader{{Name: "X-Api-Key", Value: "team-shop"}},
		}}
		// The metric's query is a plain string for this backend: its
		// variables are put in as they are, and the whole is URL-escaped.
		query := `success{service="{{ .Name }}",ns="{{ .Namespace }}",track="{{ .Track }}"}`
		rendered := `success{service="checkout",ns="` + ns + `",track="canary"}`
		web.set(rendered, "0.995") // a number in a string is read too
		ms := analysed(ns, provider, query, "0.99")
		startCanaryWithReadyPods(ms)
		Eventually(rolloutStatus(ms), 30*time.Second, interval).Should(HaveField("Phase", msv1.RolloutPhasePromoting))
		Expect(rolloutStatus(ms)().Analysis.Metrics).To(ContainElement(And(HaveField("Value", "0.995"), HaveField("Phase", "Successful"))))
		Expect(web.seen()).To(ContainElement(rendered), "the query arrives whole, its & and \" escaped in the URL")

		By("a failing value rolls the next canary back")
		failing := newNamespace()
		web.set(`success{service="checkout",ns="`+failing+`",track="canary"}`, 0.5)
		bad := analysed(failing, provider, query, "0.99")
		startCanaryWithReadyPods(bad)
		Eventually(condition(bad, msv1.DegradedCondition), 30*time.Second, interval).Should(And(
			haveCondition(metav1.ConditionTrue, msv1.ReasonRolledBack),
			HaveField("Message", ContainSubstring("success-rate=0.5"))))
		Expect(routeWeights(bad)()).To(Equal("checkout-stable=100/checkout-canary=0"))
	})

	It("judges a metric relative to the stable track, measured at the same time (relativeTo: Stable)", func() {
		provider := &msv1.MetricProvider{Web: &msv1.WebProvider{
			URL: webAPI.URL + "/value?q={{ .Query }}", JSONPath: "{.data.value}",
			Headers: []msv1.HTTPHeader{{Name: "X-Api-Key", Value: "team-shop"}},
		}}
		errorRate := func(ns string) *msv1.Microservice {
			ms := analysed(ns, provider, `errors{ns="{{ .Namespace }}",track="{{ .Track }}"}`, "0")
			ms.Spec.Rollout.Canary.Analysis.Metrics[0] = msv1.Metric{
				Name:  "error-rate",
				Query: `errors{ns="{{ .Namespace }}",track="{{ .Track }}"}`,
				// At most one point above stable's own rate.
				SuccessCondition: msv1.SuccessCondition{RelativeTo: msv1.RelativeToStable, Max: ptr.To("0.01")},
			}
			return ms
		}
		set := func(ns string, canary, stable float64) {
			web.set(`errors{ns="`+ns+`",track="canary"}`, canary)
			web.set(`errors{ns="`+ns+`",track="stable"}`, stable)
		}

		By("a canary as bad as a bad stable passes")
		ns := newNamespace()
		set(ns, 0.055, 0.05)
		ms := errorRate(ns)
		startCanaryWithReadyPods(ms)
		Eventually(rolloutStatus(ms), 30*time.Second, interval).Should(HaveField("Phase", msv1.RolloutPhasePromoting))
		Expect(rolloutStatus(ms)().Analysis.Metrics).To(ContainElement(And(
			HaveField("Value", "0.005"), HaveField("Phase", "Successful"),
			HaveField("Message", ContainSubstring("canary 0.055 minus stable 0.05")))))

		By("a canary two points worse than its stable is rolled back, though its own rate is low")
		worse := newNamespace()
		set(worse, 0.03, 0.01)
		bad := errorRate(worse)
		startCanaryWithReadyPods(bad)
		Eventually(condition(bad, msv1.DegradedCondition), 30*time.Second, interval).Should(And(
			haveCondition(metav1.ConditionTrue, msv1.ReasonRolledBack),
			HaveField("Message", ContainSubstring("error-rate=0.02"))))
		Expect(web.seen()).To(ContainElements(`errors{ns="`+worse+`",track="canary"}`, `errors{ns="`+worse+`",track="stable"}`))
	})

	It("runs an AnalysisTemplate of the namespace with the Microservice's arguments, and says what is wrong with one it cannot use", func() {
		ns := newNamespace()
		template := &msv1.AnalysisTemplate{}
		template.Name, template.Namespace = "success-rate", ns
		template.Spec = msv1.AnalysisTemplateSpec{
			Args: []msv1.AnalysisArg{{Name: "service"}, {Name: "floor", Value: ptr.To("0.99")}},
			Analysis: msv1.Analysis{
				Interval: &metav1.Duration{Duration: time.Second}, Count: ptr.To[int32](2),
				Provider: &msv1.MetricProvider{Web: &msv1.WebProvider{
					URL: webAPI.URL + "/value?q={{ .Query }}", JSONPath: "{.data.value}",
					Headers: []msv1.HTTPHeader{{Name: "X-Api-Key", Value: "team-shop"}},
				}},
				Metrics: []msv1.Metric{{
					Name: "success-rate", Query: `success{service="{{ .Args.service }}",ns="{{ .Namespace }}",track="{{ .Track }}"}`,
					SuccessCondition: msv1.SuccessCondition{Min: ptr.To("0.99")},
				}},
			},
		}
		Expect(k8sClient.Create(ctx, template)).To(Succeed())
		web.set(`success{service="shop-checkout",ns="`+ns+`",track="canary"}`, 0.999)
		using := func(ns string, args ...msv1.AnalysisArg) *msv1.Microservice {
			ms := withCanary(withRoute(checkout(ns)), weightStep(25), msv1.CanaryStep{Analysis: &msv1.AnalysisStep{}}, weightStep(50))
			ms.Spec.Rollout.Canary.AnalysisTemplate = &msv1.AnalysisTemplateRef{Name: "success-rate", Args: args}
			return ms
		}
		ms := using(ns, msv1.AnalysisArg{Name: "service", Value: ptr.To("shop-checkout")})
		startCanaryWithReadyPods(ms)
		Eventually(rolloutStatus(ms), 30*time.Second, interval).Should(HaveField("Phase", msv1.RolloutPhasePromoting))
		Expect(rolloutStatus(ms)().Analysis.Metrics).To(ContainElement(And(HaveField("Name", "success-rate"), HaveField("Value", "0.999"))))

		By("an argument without a value pauses the analysis with the reason")
		other := newNamespace()
		copied := template.DeepCopy()
		copied.ResourceVersion, copied.Namespace = "", other
		Expect(k8sClient.Create(ctx, copied)).To(Succeed())
		unset := using(other)
		startCanaryWithReadyPods(unset)
		Eventually(rolloutStatus(unset), 30*time.Second, interval).Should(And(
			HaveField("Phase", msv1.RolloutPhasePaused),
			HaveField("Analysis.Metrics", ContainElement(HaveField("Message",
				"AnalysisTemplate success-rate needs a value for service in spec.rollout.canary.analysisTemplate.args")))))

		By("a template that does not exist pauses it too")
		missing := newNamespace()
		none := using(missing, msv1.AnalysisArg{Name: "service", Value: ptr.To("x")})
		startCanaryWithReadyPods(none)
		Eventually(rolloutStatus(none), 30*time.Second, interval).Should(And(
			HaveField("Phase", msv1.RolloutPhasePaused),
			HaveField("Analysis.Metrics", ContainElement(HaveField("Message", ContainSubstring("AnalysisTemplate "+missing+"/success-rate (spec.rollout.canary.analysisTemplate) does not exist"))))))
	})
})
