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
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
	"github.com/msvc-dev/msvc-operator/internal/builder"
	"github.com/msvc-dev/msvc-operator/internal/traffic"
)

func weightStep(w int32) msv1.CanaryStep { return msv1.CanaryStep{SetWeight: ptr.To(w)} }
func manualGate() msv1.CanaryStep        { return msv1.CanaryStep{Pause: &msv1.PauseStep{}} }
func pauseFor(d time.Duration) msv1.CanaryStep {
	return msv1.CanaryStep{Pause: &msv1.PauseStep{Duration: &metav1.Duration{Duration: d}}}
}

func withCanary(ms *msv1.Microservice, steps ...msv1.CanaryStep) *msv1.Microservice {
	ms.Spec.Rollout = &msv1.Rollout{Strategy: msv1.CanaryStrategy, Canary: &msv1.Canary{Steps: steps}}
	return ms
}

func canaryKey(ms *msv1.Microservice) client.ObjectKey {
	return client.ObjectKey{Namespace: ms.Namespace, Name: builder.CanaryDeploymentName(ms)}
}

// routeWeights reads the HTTPRoute's backend weights as "stable/canary".
func routeWeights(ms *msv1.Microservice) func() string {
	return func() string {
		r := &gwv1.HTTPRoute{}
		if err := k8sClient.Get(ctx, key(ms), r); err != nil || len(r.Spec.Rules) == 0 {
			return "no route"
		}
		out := ""
		for i, b := range r.Spec.Rules[0].BackendRefs {
			if i > 0 {
				out += "/"
			}
			out += fmt.Sprintf("%s=%d", b.Name, ptr.Deref(b.Weight, 1))
		}
		return out
	}
}

func rolloutStatus(ms *msv1.Microservice) func() msv1.RolloutStatus {
	return func() msv1.RolloutStatus {
		live := &msv1.Microservice{}
		if err := k8sClient.Get(ctx, key(ms), live); err != nil || live.Status.Rollout == nil {
			return msv1.RolloutStatus{}
		}
		return *live.Status.Rollout
	}
}

func image(k client.ObjectKey) func() string {
	return func() string {
		d := &appsv1.Deployment{}
		if err := k8sClient.Get(ctx, k, d); err != nil {
			return ""
		}
		return d.Spec.Template.Spec.Containers[0].Image
	}
}

func replicas(k client.ObjectKey) func() int32 {
	return func() int32 {
		d := &appsv1.Deployment{}
		if err := k8sClient.Get(ctx, k, d); err != nil {
			return -1
		}
		return ptr.Deref(d.Spec.Replicas, 1)
	}
}

// annotate sets a control annotation on the Microservice, as kubectl annotate --overwrite does.
func annotate(ms *msv1.Microservice, k, v string) {
	live := &msv1.Microservice{}
	Expect(k8sClient.Get(ctx, key(ms), live)).To(Succeed())
	patch := client.MergeFrom(live.DeepCopy())
	if live.Annotations == nil {
		live.Annotations = map[string]string{}
	}
	live.Annotations[k] = v
	Expect(k8sClient.Patch(ctx, live, patch)).To(Succeed())
}

// startCanary creates ms, lets its first version settle, then changes the image.
func startCanary(ms *msv1.Microservice) {
	Expect(k8sClient.Create(ctx, ms)).To(Succeed())
	getChild(Default, ms, &appsv1.Deployment{})
	playDeploymentController(ms)
	Eventually(rolloutStatus(ms), timeout, interval).Should(HaveField("Phase", msv1.RolloutPhaseIdle))
	Eventually(routeWeights(ms), timeout, interval).Should(Equal("checkout-stable=100/checkout-canary=0"))
	Expect(replicas(canaryKey(ms))()).To(Equal(int32(0)))

	updateSpec(ms, func(s *msv1.MicroserviceSpec) { s.Image = "ghcr.io/acme/checkout:2.0.0" })
	Eventually(image(canaryKey(ms)), timeout, interval).Should(Equal("ghcr.io/acme/checkout:2.0.0"))
	Eventually(replicas(canaryKey(ms)), timeout, interval).Should(BeNumerically(">=", 1))
}

var _ = Describe("Canary rollouts", func() {
	var ns string
	BeforeEach(func() { ns = newNamespace() })

	It("steps the route's weights, waits at the manual gate, promotes, and only then moves traffic back to stable", func() {
		ms := withCanary(withRoute(checkout(ns)), weightStep(20), manualGate(), weightStep(50), pauseFor(time.Second))
		ms.Spec.Replicas = ptr.To[int32](4)
		startCanary(ms)

		By("starting the canary with the new image and no traffic until its pod is ready")
		Eventually(image(canaryKey(ms)), timeout, interval).Should(Equal("ghcr.io/acme/checkout:2.0.0"))
		Eventually(replicas(canaryKey(ms)), timeout, interval).Should(Equal(int32(1)))
		Expect(image(key(ms))()).To(Equal("ghcr.io/acme/checkout:1.4.2"), "the stable track keeps the old version")
		Expect(argoHealth(ms)()).To(Equal("Progressing"), "Argo CD health while the canary starts")
		Consistently(routeWeights(ms), time.Second, interval).Should(Equal("checkout-stable=100/checkout-canary=0"))

		By("sending 20% once the canary is ready, then waiting at the gate")
		playDeployment(canaryKey(ms))
		Eventually(routeWeights(ms), timeout, interval).Should(Equal("checkout-stable=80/checkout-canary=20"))
		Eventually(rolloutStatus(ms), timeout, interval).Should(And(
			HaveField("Phase", msv1.RolloutPhasePaused), HaveField("CurrentStep", ptr.To[int32](1)), HaveField("CanaryWeight", int32(20))))
		Consistently(routeWeights(ms), time.Second, interval).Should(Equal("checkout-stable=80/checkout-canary=20"))
		Expect(argoHealth(ms)()).To(Equal("Suspended"), "Argo CD health at the manual gate")

		By("promoting past the gate: 50% needs 2 canary pods first")
		annotate(ms, msv1.PromoteAnnotation, "1")
		Eventually(replicas(canaryKey(ms)), timeout, interval).Should(Equal(int32(2)))
		Consistently(routeWeights(ms), 500*time.Millisecond, interval).Should(Equal("checkout-stable=80/checkout-canary=20"))
		playDeployment(canaryKey(ms))
		Eventually(routeWeights(ms), timeout, interval).Should(Equal("checkout-stable=50/checkout-canary=50"))

		By("promoting after the timed pause: stable rolls out the new version while traffic stays split")
		Eventually(image(key(ms)), timeout, interval).Should(Equal("ghcr.io/acme/checkout:2.0.0"))
		Eventually(rolloutStatus(ms), timeout, interval).Should(HaveField("Phase", msv1.RolloutPhasePromoting))
		Consistently(routeWeights(ms), time.Second, interval).Should(Equal("checkout-stable=50/checkout-canary=50"))

		By("moving traffic back to stable once it has rolled out, then scaling the canary to zero")
		playDeploymentController(ms)
		Eventually(rolloutStatus(ms), timeout, interval).Should(And(
			HaveField("Phase", msv1.RolloutPhaseSucceeded), HaveField("CanaryWeight", int32(0))))
		Expect(routeWeights(ms)()).To(Equal("checkout-stable=100/checkout-canary=0"))
		Eventually(replicas(canaryKey(ms)), timeout, interval).Should(Equal(int32(0)))
		Consistently(argoHealth(ms), 500*time.Millisecond, interval).Should(Equal("Progressing"), "Argo CD health while no Gateway accepts the route")
		playGatewayController(ms, true, "Accepted", "")
		Eventually(argoHealth(ms), timeout, interval).Should(Equal("Healthy"), "Argo CD health after promotion")

		live := &msv1.Microservice{}
		Expect(k8sClient.Get(ctx, key(ms), live)).To(Succeed())
		Expect(live.Spec.Image).To(Equal("ghcr.io/acme/checkout:2.0.0"), "the operator never writes the spec")
		Expect(live.Status.Rollout.StableRevision).To(Equal(builder.Revision(live, builder.PodInputs{})))

		By("counting the rollout in the operator's metrics")
		Expect(metricValue("msvc_rollouts_total", map[string]string{"namespace": ns, "outcome": "started"})).To(Equal(1.0))
		Expect(metricValue("msvc_rollouts_total", map[string]string{"namespace": ns, "outcome": "succeeded"})).To(Equal(1.0))
		Expect(metricValue("msvc_canary_weight_percent", map[string]string{"namespace": ns})).To(Equal(0.0))
	})

	It("aborts back to stable and retries from the first step", func() {
		ms := withCanary(withRoute(checkout(ns)), weightStep(30), manualGate())
		startCanary(ms)
		playDeployment(canaryKey(ms))
		Eventually(routeWeights(ms), timeout, interval).Should(Equal("checkout-stable=70/checkout-canary=30"))

		annotate(ms, msv1.AbortAnnotation, "a1")
		Eventually(routeWeights(ms), timeout, interval).Should(Equal("checkout-stable=100/checkout-canary=0"))
		Eventually(replicas(canaryKey(ms)), timeout, interval).Should(Equal(int32(0)))
		Eventually(condition(ms, msv1.DegradedCondition), timeout, interval).Should(haveCondition(metav1.ConditionTrue, msv1.ReasonAborted))
		Expect(argoHealth(ms)()).To(Equal("Degraded"), "Argo CD health after an abort")
		Expect(image(key(ms))()).To(Equal("ghcr.io/acme/checkout:1.4.2"))

		annotate(ms, msv1.RetryAnnotation, "r1")
		Eventually(replicas(canaryKey(ms)), timeout, interval).Should(Equal(int32(1)))
		playDeployment(canaryKey(ms))
		Eventually(routeWeights(ms), timeout, interval).Should(Equal("checkout-stable=70/checkout-canary=30"))
		Eventually(condition(ms, msv1.DegradedCondition), timeout, interval).Should(BeNil())
	})

	It("keeps the canary's pods after an abort until the Gateway has reported on the route that took its traffic away", func() {
		ms := withCanary(withRoute(checkout(ns)), weightStep(30), manualGate())
		startCanary(ms)
		playDeployment(canaryKey(ms))
		Eventually(routeWeights(ms), timeout, interval).Should(Equal("checkout-stable=70/checkout-canary=30"))
		playGatewayController(ms, true, "Accepted", "")

		annotate(ms, msv1.AbortAnnotation, "a1")
		Eventually(routeWeights(ms), timeout, interval).Should(Equal("checkout-stable=100/checkout-canary=0"))
		Consistently(replicas(canaryKey(ms)), 3*time.Second, interval).Should(Equal(int32(1)),
			"the Gateway still serves the route's previous generation: 30% to the canary")

		playGatewayController(ms, true, "Accepted", "")
		reported := time.Now()
		Eventually(replicas(canaryKey(ms)), timeout, interval).Should(Equal(int32(0)))
		settled := time.Since(reported)
		AddReportEntry("from the Gateway's report on weight 0 to the canary at 0 replicas", settled.String())
		Expect(settled).To(BeNumerically(">=", traffic.DefaultSettleTime), "the data plane gets the settle time to apply the report")
	})

	It("restarts the canary cleanly when a new revision arrives mid-rollout", func() {
		ms := withCanary(withRoute(checkout(ns)), weightStep(30), manualGate())
		startCanary(ms)
		playDeployment(canaryKey(ms))
		Eventually(routeWeights(ms), timeout, interval).Should(Equal("checkout-stable=70/checkout-canary=30"))

		updateSpec(ms, func(s *msv1.MicroserviceSpec) {
			s.Env = []corev1.EnvVar{{Name: "FEATURE_X", Value: "on"}}
		})
		Eventually(routeWeights(ms), timeout, interval).Should(Equal("checkout-stable=100/checkout-canary=0"),
			"no traffic to canary pods of the replaced revision")
		Eventually(rolloutStatus(ms), timeout, interval).Should(And(
			HaveField("CurrentStep", ptr.To[int32](0)), HaveField("CanaryRevision", Not(BeEmpty()))))
		Eventually(func() []corev1.EnvVar {
			d := &appsv1.Deployment{}
			_ = k8sClient.Get(ctx, canaryKey(ms), d)
			return d.Spec.Template.Spec.Containers[0].Env
		}, timeout, interval).Should(ContainElement(HaveField("Name", "FEATURE_X")))
		playDeployment(canaryKey(ms))
		Eventually(routeWeights(ms), timeout, interval).Should(Equal("checkout-stable=70/checkout-canary=30"))
	})

	It("splits by replica ratio without a route, and says so", func() {
		ms := withCanary(checkout(ns), weightStep(50), manualGate())
		ms.Spec.Replicas = ptr.To[int32](4)
		Expect(k8sClient.Create(ctx, ms)).To(Succeed())
		getChild(Default, ms, &appsv1.Deployment{})
		playDeploymentController(ms)
		Eventually(rolloutStatus(ms), timeout, interval).Should(HaveField("TrafficRouting", "ReplicaRatio"))
		updateSpec(ms, func(s *msv1.MicroserviceSpec) { s.Image = "ghcr.io/acme/checkout:2.0.0" })
		Eventually(image(canaryKey(ms)), timeout, interval).Should(Equal("ghcr.io/acme/checkout:2.0.0"))
		Eventually(replicas(canaryKey(ms)), timeout, interval).Should(Equal(int32(2)))
		playDeployment(canaryKey(ms))
		Eventually(rolloutStatus(ms), timeout, interval).Should(And(HaveField("Phase", msv1.RolloutPhasePaused), HaveField("CanaryWeight", int32(50))))
	})
})
