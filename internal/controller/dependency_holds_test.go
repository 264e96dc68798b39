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
	"slices"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
)

// Holds for dependencies work the same whatever the rollout strategy: these
// specs use the canary strategy, whose first version goes to the stable
// track, with and without an autoscaler.
var _ = Describe("Dependency holds with the canary strategy", func() {
	var ns string
	BeforeEach(func() { ns = newNamespace() })

	It("keep a held service unavailable, so that its own dependents wait, and say no more about waiting once it runs", func() {
		gateway := withCanary(service(ns, "payments-gateway", 8080, dep("ledger")), msv1.CanaryStep{SetWeight: ptr.To[int32](50)})
		shop := service(ns, "shop", 80, dep("payments-gateway"))
		Expect(k8sClient.Create(ctx, gateway)).To(Succeed())
		Expect(k8sClient.Create(ctx, shop)).To(Succeed())

		By("the held service is not Available: its dependents stay held too")
		Eventually(replicas(key(gateway)), timeout, interval).Should(Equal(int32(0)))
		Eventually(condition(gateway, msv1.AvailableCondition), timeout, interval).Should(
			haveCondition(metav1.ConditionFalse, msv1.ReasonDependenciesNotReady))
		Eventually(replicas(key(shop)), timeout, interval).Should(Equal(int32(0)))
		Consistently(func() string {
			c := condition(gateway, msv1.AvailableCondition)()
			if c == nil {
				return "missing"
			}
			return string(c.Status)
		}, 2*time.Second, interval).Should(Equal(string(metav1.ConditionFalse)))
		Expect(replicas(key(shop))()).To(Equal(int32(0)), "a dependent of a held service must not start")

		By("once its dependency is available it starts, straight on the stable track")
		ledger := service(ns, "ledger", 8080)
		Expect(k8sClient.Create(ctx, ledger)).To(Succeed())
		makeAvailable(ledger)
		makeAvailable(gateway)
		Eventually(condition(gateway, msv1.ReadyCondition), timeout, interval).Should(haveCondition(metav1.ConditionTrue, msv1.ReasonSucceeded))
		Eventually(rolloutStatus(gateway), timeout, interval).Should(And(
			HaveField("Phase", msv1.RolloutPhaseIdle),
			HaveField("Message", "No rollout in progress")))
		makeAvailable(shop)
	})

	// The e2e suite saw a routed frontend, held for its dependencies, get a
	// canary pod while Traefik had not yet accepted its new route: the
	// drain that waits for the router kept "at least one" canary pod,
	// which a canary at zero replicas does not have to keep.
	It("start no canary pod for a routed service held while its new route is not applied", func() {
		payments := withRoute(withCanary(service(ns, "payments", 8080, dep("ledger")), msv1.CanaryStep{SetWeight: ptr.To[int32](50)}))
		var mu sync.Mutex
		var canaryVersions int
		var asking []string
		stop := watchNamedVersions(payments, payments.Name+"-canary", &appsv1.DeploymentList{}, func(d *appsv1.Deployment) {
			mu.Lock()
			defer mu.Unlock()
			canaryVersions++
			if n := ptr.Deref(d.Spec.Replicas, 1); n > 0 {
				asking = append(asking, fmt.Sprintf("resourceVersion %s asks for %d pods", d.ResourceVersion, n))
			}
		})
		defer stop()
		Expect(k8sClient.Create(ctx, payments)).To(Succeed())

		By("held, with a route change that the Gateway has not applied yet: no canary pods")
		Eventually(replicas(key(payments)), timeout, interval).Should(Equal(int32(0)))
		Eventually(rolloutStatus(payments), timeout, interval).Should(HaveField("Message", HavePrefix("Held at zero replicas")))
		// The Gateway reports on the route's first generation; the next
		// one waits for its report (up to 30 s).
		playGatewayController(payments, true, "Accepted", "")
		updateSpec(payments, func(s *msv1.MicroserviceSpec) { s.Route.Hostnames = []string{"payments.example.com"} })
		Eventually(func() []gwv1.Hostname {
			r := &gwv1.HTTPRoute{}
			_ = k8sClient.Get(ctx, key(payments), r)
			return r.Spec.Hostnames
		}, timeout, interval).Should(Equal([]gwv1.Hostname{"payments.example.com"}))
		Consistently(func() []string {
			mu.Lock()
			defer mu.Unlock()
			return slices.Clone(asking)
		}, 3*time.Second, interval).Should(BeEmpty())

		By("its dependency available: it starts on the stable track, still without a canary pod")
		ledger := service(ns, "ledger", 8080)
		Expect(k8sClient.Create(ctx, ledger)).To(Succeed())
		makeAvailable(ledger)
		Eventually(replicas(key(payments)), timeout, interval).Should(BeNumerically(">", 0))
		playGatewayController(payments, true, "Accepted", "")
		makeAvailable(payments)
		Eventually(rolloutStatus(payments), timeout, interval).Should(HaveField("Message", "No rollout in progress"))

		mu.Lock()
		defer mu.Unlock()
		Expect(canaryVersions).To(BeNumerically(">", 0), "the canary Deployment was never seen: the check saw nothing")
		Expect(asking).To(BeEmpty(), "%d canary Deployment versions seen", canaryVersions)
	})

	It("never ask for pods from a template without the dependencies' addresses, autoscaled or not", func() {
		catalog := service(ns, "catalog", 3550)
		currency := service(ns, "currency", 7000)
		frontend := withAutoscaling(withCanary(service(ns, "frontend", 80, dep("catalog"), dep("currency")),
			msv1.CanaryStep{SetWeight: ptr.To[int32](50)}), 2, 5)
		Expect(k8sClient.Create(ctx, frontend)).To(Succeed())

		// Every version of the frontend's stable Deployment the API server
		// reports: one that asks for pods must have both addresses.
		var mu sync.Mutex
		var checked, asking int
		var violations []string
		stop := watchVersions(frontend, &appsv1.DeploymentList{}, func(d *appsv1.Deployment) {
			mu.Lock()
			defer mu.Unlock()
			checked++
			if ptr.Deref(d.Spec.Replicas, 1) == 0 {
				return
			}
			asking++
			env := map[string]bool{}
			for _, e := range d.Spec.Template.Spec.Containers[0].Env {
				env[e.Name] = true
			}
			for _, v := range []string{"CATALOG_HOST", "CURRENCY_HOST"} {
				if !env[v] {
					violations = append(violations, fmt.Sprintf("resourceVersion %s asks for %d pods without %s",
						d.ResourceVersion, ptr.Deref(d.Spec.Replicas, 1), v))
				}
			}
		})
		defer stop()

		// Held before its dependencies exist: the held template has no
		// addresses yet, and gets them once they do.
		Eventually(replicas(key(frontend)), timeout, interval).Should(Equal(int32(0)))
		Expect(k8sClient.Create(ctx, catalog)).To(Succeed())
		Expect(k8sClient.Create(ctx, currency)).To(Succeed())
		makeAvailable(catalog)
		makeAvailable(currency)
		getChild(Default, frontend, &autoscalingv2.HorizontalPodAutoscaler{})
		Eventually(replicas(key(frontend)), timeout, interval).Should(BeNumerically(">", 0))
		makeAvailable(frontend)

		mu.Lock()
		defer mu.Unlock()
		Expect(asking).To(BeNumerically(">", 0), "no version asked for pods: the check saw nothing")
		Expect(violations).To(BeEmpty(), "%d versions checked", checked)
	})
})
