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
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
)

var _ = Describe("Background analysis against a real Prometheus", Ordered, func() {
	var ratios *successRatios
	var promURL string
	BeforeAll(func() {
		r, prom := startRatiosPrometheus()
		ratios, promURL = r, prom.URL
	})

	// gated is a canary with no analysis step: a weight, a gate, a weight,
	// and the analysis running in the background from the first step.
	gated := func(ns string, inconclusiveLimit int32) *msv1.Microservice {
		ms := withCanary(withRoute(checkout(ns)), weightStep(25), manualGate(), weightStep(50))
		ms.Spec.Rollout.Canary.BackgroundAnalysis = &msv1.BackgroundAnalysis{}
		ms.Spec.Rollout.Canary.Analysis = &msv1.Analysis{
			Interval:          &metav1.Duration{Duration: time.Second},
			InconclusiveLimit: ptr.To(inconclusiveLimit),
			Prometheus:        &msv1.PrometheusProvider{Address: promURL},
			Metrics: []msv1.Metric{{
				Name:             "success-rate",
				Query:            `request_success_ratio{namespace="{{ .Namespace }}",name="{{ .Name }}",track="{{ .Track }}"}`,
				SuccessCondition: msv1.SuccessCondition{Min: ptr.To("0.99")},
			}},
		}
		return ms
	}
	background := func(ms *msv1.Microservice) func() msv1.AnalysisStatus {
		return func() msv1.AnalysisStatus {
			if b := rolloutStatus(ms)().BackgroundAnalysis; b != nil {
				return *b
			}
			return msv1.AnalysisStatus{}
		}
	}

	It("measures the canary while it waits at a gate, and rolls it back from there when the metric fails, traffic first", func() {
		ns := newNamespace()
		ratios.set(ns, "checkout", 0.999)
		// Prometheus takes about 5 s to scrape a new target first.
		ms := gated(ns, 30)
		guard, rec := guardTraffic(ms), recordRollout(ms)
		DeferCleanup(guard.stop)
		DeferCleanup(rec.stop)
		startCanaryWithReadyPods(ms)
		Eventually(rolloutStatus(ms), timeout, interval).Should(And(
			HaveField("Phase", msv1.RolloutPhasePaused), HaveField("CurrentStep", ptr.To[int32](1)), HaveField("CanaryWeight", int32(25))))

		By("at the gate, with no analysis step, the background analysis takes passing measurements")
		Eventually(func() int32 { b := background(ms)(); return b.Measurements - b.Inconclusives }, 60*time.Second, interval).Should(BeNumerically(">=", 2))
		b := background(ms)()
		Expect(b.Failures).To(BeZero())
		Expect(b.Metrics).To(ContainElement(And(HaveField("Name", "success-rate"), HaveField("Value", "0.999"), HaveField("Phase", "Successful"))))
		Expect(rolloutStatus(ms)().Analysis).To(BeNil(), "no analysis step ran")
		Expect(rolloutStatus(ms)().Phase).To(Equal(msv1.RolloutPhasePaused), "passing measurements do not pass the gate")

		By("the metric fails: the canary is rolled back from the gate")
		badAt := time.Now()
		ratios.set(ns, "checkout", 0.9)
		Eventually(routeWeights(ms), 30*time.Second, 20*time.Millisecond).Should(Equal("checkout-stable=100/checkout-canary=0"))
		AddReportEntry("failing metric to traffic on stable, from a gate", time.Since(badAt).String())
		Eventually(rolloutStatus(ms), timeout, interval).Should(And(
			HaveField("Phase", msv1.RolloutPhaseRolledBack),
			HaveField("Message", And(ContainSubstring("Background analysis failed"), ContainSubstring("step 2/3"), ContainSubstring("success-rate=0.9")))))
		Eventually(replicas(canaryKey(ms)), timeout, interval).Should(Equal(int32(0)))
		Expect(image(key(ms))()).To(Equal("ghcr.io/acme/checkout:1.4.2"), "the stable track never got the bad version")
		guard.Check()
		rec.Check()
	})

	It("holds the rollout on inconclusive measurements, and a promote resumes it at the same step with the count reset", func() {
		ns := newNamespace()
		// No series for this namespace: every measurement has no data.
		ms := gated(ns, 1)
		guard, rec := guardTraffic(ms), recordRollout(ms)
		DeferCleanup(guard.stop)
		DeferCleanup(rec.stop)
		startCanaryWithReadyPods(ms)
		Eventually(rolloutStatus(ms), timeout, interval).Should(And(
			HaveField("Phase", msv1.RolloutPhasePaused),
			HaveField("Message", ContainSubstring("background analysis inconclusive 2 times")),
			HaveField("CurrentStep", ptr.To[int32](1))))
		held := background(ms)()
		Consistently(func() int32 { return background(ms)().Measurements }, 3*time.Second, interval).Should(Equal(held.Measurements), "no measurement while held")
		Expect(routeWeights(ms)()).To(Equal("checkout-stable=75/checkout-canary=25"))

		By("the series appears and someone promotes: the rollout goes on at the gate, not past it")
		ratios.set(ns, "checkout", 0.999)
		annotate(ms, msv1.PromoteAnnotation, "resume")
		Eventually(rolloutStatus(ms), timeout, interval).Should(HaveField("HandledPromote", "resume"))
		st := rolloutStatus(ms)()
		Expect(st.CurrentStep).To(Equal(ptr.To[int32](1)), "the gate step is not skipped")
		Expect(st.BackgroundAnalysis.Inconclusives).To(BeZero())
		Expect(eventCount(ms, "RolloutPromoted")).To(Equal(1))
		Eventually(func() int32 { b := background(ms)(); return b.Measurements - b.Inconclusives }, 60*time.Second, interval).Should(BeNumerically(">=", 1))

		By("the gate's own promote passes it, and the canary is promoted")
		annotate(ms, msv1.PromoteAnnotation, "gate-1")
		Eventually(rolloutStatus(ms), timeout, interval).Should(HaveField("Phase", msv1.RolloutPhasePromoting))
		playDeploymentController(ms)
		Eventually(rolloutStatus(ms), timeout, interval).Should(HaveField("Phase", msv1.RolloutPhaseSucceeded))
		Expect(routeWeights(ms)()).To(Equal("checkout-stable=100/checkout-canary=0"))
		guard.Check()
		rec.Check()
	})
})
