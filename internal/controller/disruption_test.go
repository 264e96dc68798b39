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
	appsv1 "k8s.io/api/apps/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
	"github.com/msvc-dev/msvc-operator/internal/builder"
)

// noDisruptionBudget says that ms has no PodDisruptionBudget.
func noDisruptionBudget(ms *msv1.Microservice) func() bool {
	return func() bool {
		return apierrors.IsNotFound(k8sClient.Get(ctx, key(ms), &policyv1.PodDisruptionBudget{}))
	}
}

// budgetSelects says whether the live budget of ms selects the pods of the
// Deployment k.
func budgetSelects(ms *msv1.Microservice, k client.ObjectKey) func() (bool, error) {
	return func() (bool, error) {
		pdb := &policyv1.PodDisruptionBudget{}
		if err := k8sClient.Get(ctx, key(ms), pdb); err != nil {
			return false, err
		}
		d := &appsv1.Deployment{}
		if err := k8sClient.Get(ctx, k, d); err != nil {
			return false, err
		}
		selector, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
		if err != nil {
			return false, err
		}
		return selector.Matches(labels.Set(d.Spec.Template.Labels)), nil
	}
}

var _ = Describe("Disruption budgets", func() {
	var ns string
	BeforeEach(func() { ns = newNamespace() })

	It("protect a service of 2 pods or more, one pod at a time, and go at 1 pod or when turned off", func() {
		before := env.writes.Snapshot()
		ms := checkout(ns)
		Expect(k8sClient.Create(ctx, ms)).To(Succeed())

		By("creating one budget over every pod of the service, with one apply")
		pdb := getChild(Default, ms, &policyv1.PodDisruptionBudget{})
		Expect(metav1.IsControlledBy(pdb, ms)).To(BeTrue())
		Expect(pdb.Labels).To(HaveKeyWithValue(builder.LabelManagedBy, builder.ManagedByValue))
		Expect(pdb.Spec.Selector.MatchLabels).To(Equal(map[string]string{builder.LabelMicroservice: "checkout"}))
		Expect(pdb.Spec.MaxUnavailable).To(Equal(ptr.To(intstr.FromInt32(1))))
		Expect(pdb.Spec.MinAvailable).To(BeNil())
		Eventually(budgetSelects(ms, key(ms)), timeout, interval).Should(BeTrue(), "the budget selects the stable pods")
		Eventually(func() int { return env.writes.Since(before, ns)["PATCH poddisruptionbudgets"] }, timeout, interval).Should(Equal(1))

		By("reconciling the unchanged Microservice: no write at all")
		playDeploymentController(ms)
		Eventually(condition(ms, msv1.AvailableCondition), timeout, interval).Should(haveCondition(metav1.ConditionTrue, msv1.ReasonSucceeded))
		Eventually(func() map[string]int {
			settled := env.writes.Snapshot()
			time.Sleep(time.Second)
			return env.writes.Since(settled, ns)
		}, timeout, interval).Should(BeEmpty())
		quiet := env.writes.Snapshot()
		for _, v := range []string{"1", "2", "3"} {
			nudge(ms, v)
		}
		Consistently(func() map[string]int { return env.writes.Since(quiet, ns) }, time.Second, interval).Should(BeEmpty())

		By("putting back a budget edited by hand")
		Eventually(func() error {
			live := getChild(Default, ms, &policyv1.PodDisruptionBudget{})
			live.Spec.MaxUnavailable = ptr.To(intstr.FromInt32(2))
			return k8sClient.Update(ctx, live)
		}, timeout, interval).Should(Succeed())
		Eventually(func() *intstr.IntOrString {
			return getChild(Default, ms, &policyv1.PodDisruptionBudget{}).Spec.MaxUnavailable
		}, timeout, interval).Should(Equal(ptr.To(intstr.FromInt32(1))))

		By("scaling to 1 pod: a budget would block every drain, so it goes")
		updateSpec(ms, func(s *msv1.MicroserviceSpec) { s.Replicas = ptr.To[int32](1) })
		Eventually(noDisruptionBudget(ms), timeout, interval).Should(BeTrue())

		By("scaling back to 3 pods, with half of them to stay up")
		updateSpec(ms, func(s *msv1.MicroserviceSpec) {
			s.Replicas = ptr.To[int32](3)
			s.DisruptionBudget = &msv1.DisruptionBudget{MinAvailable: ptr.To(intstr.FromString("50%"))}
		})
		Eventually(func() *intstr.IntOrString {
			return getChild(Default, ms, &policyv1.PodDisruptionBudget{}).Spec.MinAvailable
		}, timeout, interval).Should(Equal(ptr.To(intstr.FromString("50%"))))
		Expect(getChild(Default, ms, &policyv1.PodDisruptionBudget{}).Spec.MaxUnavailable).To(BeNil())

		By("turning it off")
		updateSpec(ms, func(s *msv1.MicroserviceSpec) {
			s.Replicas = ptr.To[int32](5)
			s.DisruptionBudget = &msv1.DisruptionBudget{Enabled: ptr.To(false)}
		})
		Eventually(noDisruptionBudget(ms), timeout, interval).Should(BeTrue())
		Eventually(replicas(key(ms)), timeout, interval).Should(Equal(int32(5)))
		Consistently(noDisruptionBudget(ms), time.Second, interval).Should(BeTrue())
	})

	It("cover the canary's pods with the stable ones", func() {
		ms := withCanary(withRoute(checkout(ns)), weightStep(20), manualGate())
		startCanary(ms)
		Eventually(budgetSelects(ms, key(ms)), timeout, interval).Should(BeTrue(), "the budget selects the stable pods")
		Eventually(budgetSelects(ms, canaryKey(ms)), timeout, interval).Should(BeTrue(), "the budget selects the canary's pods")
		Expect(getChild(Default, ms, &policyv1.PodDisruptionBudget{}).Spec.MaxUnavailable).To(Equal(ptr.To(intstr.FromInt32(1))))
	})

	It("wait for a service held at zero pods for its dependencies", func() {
		ms := service(ns, "checkout", 80, dep("payments"))
		Expect(k8sClient.Create(ctx, ms)).To(Succeed())
		Eventually(condition(ms, msv1.AvailableCondition), timeout, interval).Should(haveCondition(metav1.ConditionFalse, msv1.ReasonDependenciesNotReady))
		Expect(replicas(key(ms))()).To(Equal(int32(0)))
		Consistently(noDisruptionBudget(ms), time.Second, interval).Should(BeTrue(), "no budget while held")

		payments := service(ns, "payments", 8080)
		Expect(k8sClient.Create(ctx, payments)).To(Succeed())
		makeAvailable(payments)
		Eventually(replicas(key(ms)), timeout, interval).Should(Equal(int32(2)))
		Eventually(noDisruptionBudget(ms), timeout, interval).Should(BeFalse(), "a budget once it starts")
	})
})
