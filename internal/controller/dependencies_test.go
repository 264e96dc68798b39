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
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
	"github.com/msvc-dev/msvc-operator/internal/builder"
	"github.com/msvc-dev/msvc-operator/internal/kubectlmsvc"
)

func service(ns, name string, port int32, deps ...msv1.Dependency) *msv1.Microservice {
	return &msv1.Microservice{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: msv1.MicroserviceSpec{
			Image:        "ghcr.io/acme/" + name + ":1.0.0",
			Ports:        []msv1.ServicePort{{Name: "http", Port: port}},
			Replicas:     ptr.To[int32](2),
			Dependencies: deps,
		},
	}
}

func dep(name string) msv1.Dependency { return msv1.Dependency{Name: name} }

func containerEnv(ms *msv1.Microservice) func() map[string]string {
	return func() map[string]string {
		d := &appsv1.Deployment{}
		if err := k8sClient.Get(ctx, key(ms), d); err != nil {
			return nil
		}
		out := map[string]string{}
		for _, e := range d.Spec.Template.Spec.Containers[0].Env {
			out[e.Name] = e.Value
		}
		return out
	}
}

func dependencyStates(ms *msv1.Microservice) func() []string {
	return func() []string {
		live := &msv1.Microservice{}
		if err := k8sClient.Get(ctx, key(ms), live); err != nil {
			return nil
		}
		var out []string
		for _, d := range live.Status.Dependencies {
			out = append(out, d.Name+"="+d.State)
		}
		return out
	}
}

// makeAvailable plays the Deployment controller for ms once its Deployment
// asks for pods.
func makeAvailable(ms *msv1.Microservice) {
	Eventually(replicas(key(ms)), timeout, interval).Should(BeNumerically(">", 0))
	playDeploymentController(ms)
	Eventually(condition(ms, msv1.AvailableCondition), timeout, interval).Should(haveCondition(metav1.ConditionTrue, msv1.ReasonSucceeded))
}

var _ = Describe("Dependencies", func() {
	var ns string
	BeforeEach(func() { ns = newNamespace() })

	It("inject the addresses of dependencies, in the default and the chosen forms, and the user's env wins", func() {
		catalog := service(ns, "product-catalog", 3550)
		cart := service(ns, "cart", 7070)
		currency := service(ns, "currency", 7000)
		frontend := service(ns, "frontend", 80,
			msv1.Dependency{Name: "product-catalog", Env: &msv1.DependencyEnv{Name: "PRODUCT_CATALOG_SERVICE_ADDR", Format: msv1.AddressHostPort, Short: true}},
			dep("cart"),
			msv1.Dependency{Name: "currency", Env: &msv1.DependencyEnv{Name: "CURRENCY_HOST", Format: msv1.AddressHost}},
		)
		frontend.Spec.Env = []corev1.EnvVar{{Name: "CART_PORT", Value: "9999"}}
		for _, ms := range []*msv1.Microservice{catalog, cart, currency, frontend} {
			Expect(k8sClient.Create(ctx, ms)).To(Succeed())
		}
		for _, ms := range []*msv1.Microservice{catalog, cart, currency} {
			makeAvailable(ms)
		}
		Eventually(containerEnv(frontend), timeout, interval).Should(And(
			HaveKeyWithValue("PRODUCT_CATALOG_SERVICE_ADDR", "product-catalog:3550"),
			HaveKeyWithValue("CART_URL", fmt.Sprintf("http://cart.%s.svc.cluster.local:7070", ns)),
			HaveKeyWithValue("CART_HOST", fmt.Sprintf("cart.%s.svc.cluster.local", ns)),
			HaveKeyWithValue("CART_PORT", "9999"),
			HaveKeyWithValue("CURRENCY_HOST", fmt.Sprintf("currency.%s.svc.cluster.local", ns)),
		))
		Eventually(dependencyStates(frontend), timeout, interval).Should(ConsistOf("product-catalog=Ready", "cart=Ready", "currency=Ready"))
		Expect(kubectlmsvc.Dependents(ctx, k8sClient, cart)).To(Equal([]string{"frontend"}), "the plugin finds who depends on cart")
		Expect(kubectlmsvc.Dependents(ctx, k8sClient, frontend)).To(BeEmpty())

		By("a new dependent costs its dependency no write")
		settled := &msv1.Microservice{}
		Expect(k8sClient.Get(ctx, key(cart), settled)).To(Succeed())
		reports := service(ns, "reports", 80, dep("cart"))
		Expect(k8sClient.Create(ctx, reports)).To(Succeed())
		Eventually(dependencyStates(reports), timeout, interval).Should(ConsistOf("cart=Ready"))
		Consistently(func() string {
			live := &msv1.Microservice{}
			_ = k8sClient.Get(ctx, key(cart), live)
			return live.ResourceVersion
		}, time.Second, interval).Should(Equal(settled.ResourceVersion))
		Expect(kubectlmsvc.Dependents(ctx, k8sClient, cart)).To(Equal([]string{"frontend", "reports"}))
	})

	It("hold a new service at zero replicas until its required dependencies are available, then start it at once", func() {
		checkout := withAutoscaling(service(ns, "checkout", 80, dep("payments"), msv1.Dependency{Name: "ads", Optional: true}), 2, 5)
		Expect(k8sClient.Create(ctx, checkout)).To(Succeed())

		Eventually(replicas(key(checkout)), timeout, interval).Should(Equal(int32(0)))
		Eventually(condition(checkout, msv1.AvailableCondition), timeout, interval).Should(
			haveCondition(metav1.ConditionFalse, msv1.ReasonDependenciesNotReady))
		// The Deployment controller calls a Deployment at zero replicas
		// available; a held service is not, or its dependents would start.
		playDeploymentController(checkout)
		Consistently(condition(checkout, msv1.AvailableCondition), time.Second, interval).Should(
			haveCondition(metav1.ConditionFalse, msv1.ReasonDependenciesNotReady))
		Eventually(condition(checkout, msv1.DependenciesReadyCondition), timeout, interval).Should(And(
			haveCondition(metav1.ConditionFalse, msv1.ReasonDependenciesNotReady), HaveField("Message", ContainSubstring("payments (Missing)"))))
		Expect(condition(checkout, msv1.ReadyCondition)()).To(haveCondition(metav1.ConditionFalse, msv1.ReasonDependenciesNotReady))
		Expect(apierrors.IsNotFound(k8sClient.Get(ctx, key(checkout), &autoscalingv2.HorizontalPodAutoscaler{}))).To(BeTrue(), "no HPA while held")
		Expect(dependencyStates(checkout)()).To(ConsistOf("payments=Missing", "ads=Missing"))

		payments := service(ns, "payments", 8080)
		Expect(k8sClient.Create(ctx, payments)).To(Succeed())
		Eventually(dependencyStates(checkout), timeout, interval).Should(ContainElement("payments=Unavailable"))
		Consistently(replicas(key(checkout)), time.Second, interval).Should(Equal(int32(0)))

		makeAvailable(payments)
		availableAt := time.Now()
		Eventually(replicas(key(checkout)), timeout, 10*time.Millisecond).Should(Equal(int32(2)), "started at minReplicas")
		GinkgoWriter.Printf("Dependency available -> dependent started: %v\n", time.Since(availableAt))
		Expect(time.Since(availableAt)).To(BeNumerically("<", 5*time.Second), "no polling: the dependency's status change re-reconciles its dependents")
		getChild(Default, checkout, &autoscalingv2.HorizontalPodAutoscaler{})
		Expect(containerEnv(checkout)()).To(HaveKey("PAYMENTS_URL"))
		Expect(containerEnv(checkout)()).NotTo(HaveKey("ADS_URL"), "an optional dependency that does not exist gets no variables")
		Eventually(condition(checkout, msv1.DependenciesReadyCondition), timeout, interval).Should(haveCondition(metav1.ConditionTrue, msv1.ReasonSucceeded))
	})

	It("report a cycle on every member, spelled out", func() {
		a := service(ns, "a", 80, dep("b"))
		b := service(ns, "b", 80, dep("c"))
		c := service(ns, "c", 80, dep("a"))
		standalone := service(ns, "d", 80)
		for _, ms := range []*msv1.Microservice{a, b, c, standalone} {
			Expect(k8sClient.Create(ctx, ms)).To(Succeed())
		}
		for ms, cycle := range map[*msv1.Microservice]string{a: "a -> b -> c -> a", b: "b -> c -> a -> b", c: "c -> a -> b -> c"} {
			Eventually(condition(ms, msv1.StalledCondition), timeout, interval).Should(And(
				haveCondition(metav1.ConditionTrue, msv1.ReasonDependencyCycle), HaveField("Message", ContainSubstring(cycle))))
			Expect(argoHealth(ms)()).To(Equal("Degraded"), "Argo CD health of a stalled Microservice")
		}
		getChild(Default, standalone, &appsv1.Deployment{})
		Expect(condition(standalone, msv1.StalledCondition)()).To(BeNil(), "nothing else breaks")

		By("breaking the cycle")
		updateSpec(c, func(s *msv1.MicroserviceSpec) { s.Dependencies = nil })
		Eventually(condition(a, msv1.StalledCondition), timeout, interval).Should(BeNil())
		makeAvailable(c)
		makeAvailable(b)
		makeAvailable(a)
	})

	It("hold a new version back while a required dependency is unavailable or rolling out, unless told not to", func() {
		payments := service(ns, "payments", 8080)
		checkout := service(ns, "checkout", 80, dep("payments"))
		relaxed := service(ns, "reports", 80, msv1.Dependency{Name: "payments", IgnoreRollouts: true})
		for _, ms := range []*msv1.Microservice{payments, checkout, relaxed} {
			Expect(k8sClient.Create(ctx, ms)).To(Succeed())
		}
		makeAvailable(payments)
		makeAvailable(checkout)
		makeAvailable(relaxed)

		By("making payments roll out a new version")
		updateSpec(payments, func(s *msv1.MicroserviceSpec) { s.Image = "ghcr.io/acme/payments:2.0.0" })
		Eventually(dependencyStates(checkout), timeout, interval).Should(ConsistOf("payments=RollingOut"))

		updateSpec(checkout, func(s *msv1.MicroserviceSpec) { s.Image = "ghcr.io/acme/checkout:2.0.0" })
		updateSpec(relaxed, func(s *msv1.MicroserviceSpec) { s.Image = "ghcr.io/acme/reports:2.0.0" })
		Eventually(image(key(relaxed)), timeout, interval).Should(Equal("ghcr.io/acme/reports:2.0.0"), "ignoreRollouts opts out")
		Eventually(condition(checkout, msv1.ReconcilingCondition), timeout, interval).Should(And(
			haveCondition(metav1.ConditionTrue, msv1.ReasonDependenciesNotReady), HaveField("Message", ContainSubstring("payments (RollingOut)"))))
		Consistently(image(key(checkout)), time.Second, interval).Should(Equal("ghcr.io/acme/checkout:1.0.0"))

		By("finishing the rollout of payments")
		playDeploymentController(payments)
		Eventually(image(key(checkout)), timeout, interval).Should(Equal("ghcr.io/acme/checkout:2.0.0"))
	})

	It("isolate a service so that only its declared consumers reach it, across namespaces only with consent", func() {
		other := newNamespace()
		payments := service(ns, "payments", 8080)
		payments.Spec.Ports = append(payments.Spec.Ports, msv1.ServicePort{Name: "metrics", Port: 9090})
		payments.Spec.NetworkPolicy = &msv1.NetworkPolicySpec{Enabled: ptr.To(true)}
		checkout := service(ns, "checkout", 80, dep("payments"))
		intruder := service(other, "intruder", 80, msv1.Dependency{Name: "payments", Namespace: ns})
		for _, ms := range []*msv1.Microservice{payments, checkout, intruder} {
			Expect(k8sClient.Create(ctx, ms)).To(Succeed())
		}
		makeAvailable(payments)

		policyPeers := func() []string {
			np := &networkingv1.NetworkPolicy{}
			if err := k8sClient.Get(ctx, key(payments), np); err != nil {
				return nil
			}
			var out []string
			for _, rule := range np.Spec.Ingress {
				for _, from := range rule.From {
					out = append(out, from.NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"]+"/"+from.PodSelector.MatchLabels[builder.LabelMicroservice])
				}
			}
			return out
		}
		Eventually(policyPeers, timeout, interval).Should(ConsistOf(ns + "/checkout"))
		Expect(kubectlmsvc.Dependents(ctx, k8sClient, payments)).To(ConsistOf("checkout", other+"/intruder"), "dependents in other namespaces by namespace/name")
		np := &networkingv1.NetworkPolicy{}
		Expect(k8sClient.Get(ctx, key(payments), np)).To(Succeed())
		Expect(np.Spec.PodSelector.MatchLabels).To(Equal(map[string]string{builder.LabelMicroservice: "payments"}))
		Expect(np.Spec.Ingress[0].Ports).To(HaveLen(2))

		By("refusing the consumer from another namespace, and saying so")
		Eventually(dependencyStates(intruder), timeout, interval).Should(ConsistOf("payments=Denied"))
		Eventually(condition(intruder, msv1.DependenciesReadyCondition), timeout, interval).Should(And(
			haveCondition(metav1.ConditionFalse, msv1.ReasonDependenciesNotReady), HaveField("Message", ContainSubstring("payments (Denied)"))))
		live := &msv1.Microservice{}
		Expect(k8sClient.Get(ctx, key(intruder), live)).To(Succeed())
		Expect(live.Status.Dependencies[0].Message).To(ContainSubstring("add " + other + " to its spec.networkPolicy.allowedNamespaces"))

		By("admitting it once payments consents")
		updateSpec(payments, func(s *msv1.MicroserviceSpec) { s.NetworkPolicy.AllowedNamespaces = []string{other} })
		Eventually(policyPeers, timeout, interval).Should(ConsistOf(ns+"/checkout", other+"/intruder"))
		Eventually(dependencyStates(intruder), timeout, interval).Should(ConsistOf("payments=Ready"))

		By("removing the policy when isolation is turned off")
		updateSpec(payments, func(s *msv1.MicroserviceSpec) { s.NetworkPolicy = nil })
		Eventually(func() bool {
			return apierrors.IsNotFound(k8sClient.Get(ctx, key(payments), &networkingv1.NetworkPolicy{}))
		}, timeout, interval).Should(BeTrue())
	})
})

var _ = client.ObjectKey{}
