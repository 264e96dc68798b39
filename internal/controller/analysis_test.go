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
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
	"github.com/msvc-dev/msvc-operator/internal/testutil/promserver"
)

// successRatios is an exporter that serves a success ratio per Microservice
// and track, with values the test sets; a real Prometheus scrapes it.
type successRatios struct {
	mu     sync.Mutex
	values map[string]float64 // "namespace/name" -> canary success ratio
}

func (s *successRatios) set(ns, name string, v float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.values[ns+"/"+name] = v
}

func (s *successRatios) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b strings.Builder
	b.WriteString("# TYPE request_success_ratio gauge\n")
	for k, v := range s.values {
		ns, name, _ := strings.Cut(k, "/")
		fmt.Fprintf(&b, "request_success_ratio{namespace=%q,name=%q,track=\"canary\"} %g\n", ns, name, v)
	}
	_, _ = w.Write([]byte(b.String()))
}

// startRatiosPrometheus starts a real Prometheus that scrapes a
// successRatios exporter, both stopped when the container ends.
func startRatiosPrometheus() (*successRatios, *promserver.Server) {
	bin, err := promserver.Find()
	Expect(err).NotTo(HaveOccurred())
	ratios := &successRatios{values: map[string]float64{}}
	exporter := httptest.NewServer(ratios)
	DeferCleanup(exporter.Close)
	u, err := url.Parse(exporter.URL)
	Expect(err).NotTo(HaveOccurred())
	prom, err := promserver.Start(bin, GinkgoT().TempDir(), u.Host)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(prom.Stop)
	return ratios, prom
}

var _ = Describe("Canary analysis against a real Prometheus", Ordered, func() {
	var (
		ratios *successRatios
		prom   *promserver.Server
	)
	BeforeAll(func() { ratios, prom = startRatiosPrometheus() })

	analysed := func(ns string) *msv1.Microservice {
		ms := withCanary(withRoute(checkout(ns)), weightStep(25), msv1.CanaryStep{Analysis: &msv1.AnalysisStep{}}, weightStep(50))
		ms.Spec.Rollout.Canary.Analysis = &msv1.Analysis{
			Interval:          &metav1.Duration{Duration: time.Second},
			Count:             ptr.To[int32](3),
			FailureLimit:      ptr.To[int32](0),
			InconclusiveLimit: ptr.To[int32](30), // Prometheus 2.42 takes ~5s to scrape a new target first
			Prometheus:        &msv1.PrometheusProvider{Address: prom.URL},
			Metrics: []msv1.Metric{{
				Name:             "success-rate",
				Query:            `request_success_ratio{namespace="{{ .Namespace }}",name="{{ .Name }}",track="{{ .Track }}"}`,
				SuccessCondition: msv1.SuccessCondition{Min: ptr.To("0.99")},
			}},
		}
		return ms
	}

	It("promotes a canary whose metrics pass", func() {
		ns := newNamespace()
		ratios.set(ns, "checkout", 0.999)
		ms := analysed(ns)
		startCanaryWithReadyPods(ms)

		Eventually(rolloutStatus(ms), 60*time.Second, interval).Should(HaveField("Phase", msv1.RolloutPhasePromoting))
		st := rolloutStatus(ms)()
		Expect(st.Analysis).NotTo(BeNil())
		Expect(st.Analysis.Metrics).To(ContainElement(And(HaveField("Name", "success-rate"), HaveField("Value", "0.999"), HaveField("Phase", "Successful"))))
		Expect(routeWeights(ms)()).To(Equal("checkout-stable=50/checkout-canary=50"))

		playDeploymentController(ms)
		Eventually(rolloutStatus(ms), timeout, interval).Should(HaveField("Phase", msv1.RolloutPhaseSucceeded))
		Expect(routeWeights(ms)()).To(Equal("checkout-stable=100/checkout-canary=0"))
	})

	It("rolls back a canary whose metrics fail, traffic first", func() {
		ns := newNamespace()
		ratios.set(ns, "checkout", 0.999)
		ms := analysed(ns)
		startCanaryWithReadyPods(ms)
		Eventually(func() int32 {
			st := rolloutStatus(ms)()
			if st.Analysis == nil {
				return 0
			}
			return st.Analysis.Measurements - st.Analysis.Inconclusives
		}, 60*time.Second, interval).Should(BeNumerically(">=", 1), "a passing measurement with data")

		badAt := time.Now()
		ratios.set(ns, "checkout", 0.9)
		Eventually(routeWeights(ms), 30*time.Second, 20*time.Millisecond).Should(Equal("checkout-stable=100/checkout-canary=0"))
		GinkgoWriter.Printf("From failing metric value to all traffic on stable: %v (scrape 1s + analysis interval 1s bound it)\n", time.Since(badAt))
		AddReportEntry("failing metric to traffic on stable", time.Since(badAt).String())

		Eventually(replicas(canaryKey(ms)), timeout, interval).Should(Equal(int32(0)))
		Eventually(condition(ms, msv1.DegradedCondition), timeout, interval).Should(And(
			haveCondition(metav1.ConditionTrue, msv1.ReasonRolledBack),
			HaveField("Message", ContainSubstring("success-rate=0.9"))))
		Expect(image(key(ms))()).To(Equal("ghcr.io/acme/checkout:1.4.2"), "the stable track never got the bad version")
		Consistently(routeWeights(ms), 2*time.Second, interval).Should(Equal("checkout-stable=100/checkout-canary=0"), "no retry without a request")
	})
})

// startCanaryWithReadyPods starts a canary whose single pod is ready.
func startCanaryWithReadyPods(ms *msv1.Microservice) {
	startCanary(ms)
	Expect(replicas(canaryKey(ms))()).To(Equal(int32(1)))
	playDeployment(canaryKey(ms))
}
