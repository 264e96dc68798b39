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
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
	"github.com/msvc-dev/msvc-operator/internal/builder"
)

// stableRevisions records every status.rollout.stableRevision the
// Microservice's versions carry, from the moment it is called.
type stableRevisions struct {
	mu   sync.Mutex
	seen []string
	stop func()
}

func recordStableRevisions(ms *msv1.Microservice) *stableRevisions {
	r := &stableRevisions{}
	r.stop = watchVersions(ms, &msv1.MicroserviceList{}, func(live *msv1.Microservice) {
		if live.Name != ms.Name || live.Status.Rollout == nil {
			return
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		if rev := live.Status.Rollout.StableRevision; len(r.seen) == 0 || r.seen[len(r.seen)-1] != rev {
			r.seen = append(r.seen, rev)
		}
	})
	return r
}

func (r *stableRevisions) values() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.seen...)
}

// stableTemplate is the pod template of the stable Deployment now.
func stableTemplate(ms *msv1.Microservice) corev1.PodTemplateSpec {
	d := &appsv1.Deployment{}
	Expect(k8sClient.Get(ctx, key(ms), d)).To(Succeed())
	return d.Spec.Template
}

// promoteToStable takes a canary waiting at its first gate into phase
// Promoting, with the stable Deployment given the new template but its pods
// never played ready, and returns the revision it replaced and its template.
func promoteToStable(ms *msv1.Microservice) (string, corev1.PodTemplateSpec) {
	oldTemplate := stableTemplate(ms)
	d := &appsv1.Deployment{}
	Expect(k8sClient.Get(ctx, key(ms), d)).To(Succeed())
	oldRevision := d.Annotations[builder.AnnotationRevision]
	Expect(oldRevision).NotTo(BeEmpty())

	annotate(ms, msv1.PromoteAnnotation, "gate-1")
	Eventually(image(key(ms)), timeout, interval).Should(Equal("ghcr.io/acme/checkout:2.0.0"))
	Eventually(rolloutStatus(ms), timeout, interval).Should(HaveField("Phase", msv1.RolloutPhasePromoting))

	By("keeping the replaced template in a ControllerRevision the Microservice owns")
	cr := &appsv1.ControllerRevision{}
	Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ms.Namespace, Name: builder.StableTemplateName(ms, oldRevision)}, cr)).To(Succeed())
	live := &msv1.Microservice{}
	Expect(k8sClient.Get(ctx, key(ms), live)).To(Succeed())
	Expect(metav1.IsControlledBy(cr, live)).To(BeTrue(), "garbage-collected with the Microservice")
	Expect(live.Status.Rollout.StableRevision).To(Equal(oldRevision), "the status keeps the revision being replaced while it is promoted")
	return oldRevision, oldTemplate
}

var _ = Describe("A promotion that does not complete", func() {
	It("is aborted on request: traffic back to stable, the stable Deployment given its previous template back, the canary removed", func() {
		ms := withCanary(withRoute(checkout(newNamespace())), weightStep(50), manualGate())
		ms.Spec.Replicas = ptr.To[int32](2)
		guard, rec := canaryAtFirstGate(ms, 50)
		revs := recordStableRevisions(ms)
		DeferCleanup(revs.stop)
		oldRevision, oldTemplate := promoteToStable(ms)
		Consistently(routeWeights(ms), 500*time.Millisecond, interval).Should(Equal("checkout-stable=50/checkout-canary=50"))

		By("aborting while the stable Deployment rolls out 2.0.0")
		annotate(ms, msv1.AbortAnnotation, "a1")
		Eventually(rolloutStatus(ms), timeout, interval).Should(And(
			HaveField("Phase", msv1.RolloutPhaseAborted),
			HaveField("StableRevision", oldRevision),
			HaveField("Message", ContainSubstring("the stable track goes back to revision "+oldRevision))))
		Eventually(image(key(ms)), timeout, interval).Should(Equal("ghcr.io/acme/checkout:1.4.2"))
		Eventually(routeWeights(ms), timeout, interval).Should(Equal("checkout-stable=100/checkout-canary=0"))
		Eventually(replicas(canaryKey(ms)), timeout, interval).Should(Equal(int32(0)))
		Expect(equality.Semantic.DeepEqual(stableTemplate(ms), oldTemplate)).To(BeTrue(),
			"the stable Deployment runs exactly the template the promotion replaced")
		d := &appsv1.Deployment{}
		Expect(k8sClient.Get(ctx, key(ms), d)).To(Succeed())
		Expect(d.Annotations).To(HaveKeyWithValue(builder.AnnotationRevision, oldRevision))
		Eventually(condition(ms, msv1.DegradedCondition), timeout, interval).Should(haveCondition(metav1.ConditionTrue, msv1.ReasonAborted))

		By("staying aborted: the stable track keeps the old template while the spec asks for 2.0.0")
		playPods(ms)
		Consistently(image(key(ms)), time.Second, interval).Should(Equal("ghcr.io/acme/checkout:1.4.2"))
		Expect(rolloutStatus(ms)()).To(HaveField("Phase", msv1.RolloutPhaseAborted))

		rec.Check() // a retry starts over from step 1, which the recorder counts as a step back

		By("retrying from step 1 with the stable track on the old version")
		annotate(ms, msv1.RetryAnnotation, "r1")
		Eventually(replicas(canaryKey(ms)), timeout, interval).Should(Equal(int32(1)))
		playDeployment(canaryKey(ms))
		Eventually(routeWeights(ms), timeout, interval).Should(Equal("checkout-stable=50/checkout-canary=50"))
		Expect(revs.values()).To(Equal([]string{oldRevision}), "no status version named another stable revision")
		guard.Check()
	})

	It("is rolled back when the stable Deployment does not roll out within the progress deadline", func() {
		ms := withCanary(withRoute(checkout(newNamespace())), weightStep(50), manualGate())
		ms.Spec.Rollout.Canary.ProgressDeadline = &metav1.Duration{Duration: 3 * time.Second}
		ms.Spec.Replicas = ptr.To[int32](2)
		guard, rec := canaryAtFirstGate(ms, 50)
		oldRevision, oldTemplate := promoteToStable(ms)

		By("never making the stable Deployment's new pods ready")
		Eventually(rolloutStatus(ms), 2*timeout, interval).Should(And(
			HaveField("Phase", msv1.RolloutPhaseRolledBack),
			HaveField("StableRevision", oldRevision),
			HaveField("Message", ContainSubstring("Rolled back during the promotion: the stable Deployment has not rolled out revision")),
			HaveField("Message", ContainSubstring("past spec.rollout.canary.progressDeadline (3s)"))))
		Eventually(image(key(ms)), timeout, interval).Should(Equal("ghcr.io/acme/checkout:1.4.2"))
		Expect(equality.Semantic.DeepEqual(stableTemplate(ms), oldTemplate)).To(BeTrue())
		Eventually(routeWeights(ms), timeout, interval).Should(Equal("checkout-stable=100/checkout-canary=0"))
		Eventually(replicas(canaryKey(ms)), timeout, interval).Should(Equal(int32(0)))
		Eventually(condition(ms, msv1.StalledCondition), timeout, interval).Should(haveCondition(metav1.ConditionTrue, msv1.ReasonRolledBack))
		guard.Check()
		rec.Check()
	})
})
