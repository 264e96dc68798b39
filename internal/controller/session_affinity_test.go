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
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
	"github.com/msvc-dev/msvc-operator/internal/traffic"
)

// sessionPersistence reads the session persistence of the route's weighted
// rule (its last), or nil.
func sessionPersistence(ms *msv1.Microservice) func() *gwv1.SessionPersistence {
	return func() *gwv1.SessionPersistence {
		if rule := weightedRule(ms); rule != nil {
			return rule.SessionPersistence
		}
		return nil
	}
}

func withSessionAffinity(ms *msv1.Microservice) *msv1.Microservice {
	ms.Spec.Rollout.Canary.SessionAffinity = &msv1.SessionAffinity{
		CookieName: "checkout-track", MaxAge: &metav1.Duration{Duration: 90 * time.Minute}}
	return ms
}

var _ = Describe("Session affinity", func() {
	It("keeps sessions through the experimental channel's HTTPRoute while the canary has ready pods", func() {
		e := startOperatorEnv(append([]string{projectCRDs()}, gatewayAPICRDsOf("experimental")...))
		DeferCleanup(e.Stop)
		useEnv(e)

		ms := withSessionAffinity(withCanary(withRoute(checkout(newNamespace())), weightStep(20), manualGate()))
		startCanary(ms)
		Consistently(sessionPersistence(ms), "1s", interval).Should(BeNil(), "no session may pin a user to a canary without a ready pod")
		playDeployment(canaryKey(ms))
		Eventually(sessionPersistence(ms), timeout, interval).Should(And(
			HaveField("Type", ptr.To(gwv1.CookieBasedSessionPersistence)),
			HaveField("SessionName", ptr.To("checkout-track")),
			HaveField("AbsoluteTimeout", ptr.To(gwv1.Duration("1h30m"))),
			HaveField("CookieConfig.LifetimeType", ptr.To(gwv1.PermanentCookieLifetimeType))))
		Expect(routeWeights(ms)()).To(Equal("checkout-stable=80/checkout-canary=20"))
		Expect(condition(ms, msv1.RouteAcceptedCondition)()).NotTo(haveCondition(metav1.ConditionFalse, traffic.ReasonSessionAffinityNotSupported))

		annotate(ms, msv1.AbortAnnotation, "a1")
		Eventually(sessionPersistence(ms), timeout, interval).Should(BeNil(), "no session pins users to an aborted canary")
		Eventually(routeWeights(ms), timeout, interval).Should(Equal("checkout-stable=100/checkout-canary=0"))
	})

	It("says in RouteAccepted that the standard channel's HTTPRoute keeps no sessions, and serves the weights", func() {
		ms := withSessionAffinity(withCanary(withRoute(checkout(newNamespace())), weightStep(20), manualGate()))
		startCanary(ms)
		playDeployment(canaryKey(ms))
		Eventually(routeWeights(ms), timeout, interval).Should(Equal("checkout-stable=80/checkout-canary=20"))
		Eventually(condition(ms, msv1.RouteAcceptedCondition), timeout, interval).Should(And(
			haveCondition(metav1.ConditionFalse, traffic.ReasonSessionAffinityNotSupported),
			HaveField("Message", And(
				ContainSubstring("has no spec.rules[].sessionPersistence"),
				ContainSubstring("install the experimental channel's HTTPRoute CRD")))))
		Expect(sessionPersistence(ms)()).To(BeNil())
		Expect(rolloutStatus(ms)()).To(HaveField("Phase", msv1.RolloutPhasePaused), "the rollout goes on without affinity")
	})
})
