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
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
	"github.com/msvc-dev/msvc-operator/internal/builder"
)

var _ = Describe("Microservice controller", func() {
	var ns string
	BeforeEach(func() { ns = newNamespace() })

	It("creates a Deployment, Service, HPA and HTTPRoute with one write each and one status write", func() {
		before := env.writes.Snapshot()
		ms := withAutoscaling(withRoute(checkout(ns)), 2, 10)
		Expect(k8sClient.Create(ctx, ms)).To(Succeed())

		dep := getChild(Default, ms, &appsv1.Deployment{})
		svc := getChild(Default, ms, &corev1.Service{})
		hpa := getChild(Default, ms, &autoscalingv2.HorizontalPodAutoscaler{})
		route := getChild(Default, ms, &gwv1.HTTPRoute{})
		for _, child := range []client.Object{dep, svc, hpa, route} {
			Expect(metav1.IsControlledBy(child, ms)).To(BeTrue(), "%T is controlled by the Microservice", child)
			Expect(child.GetOwnerReferences()[0].BlockOwnerDeletion).To(Equal(ptr.To(true)))
			Expect(child.GetLabels()).To(HaveKeyWithValue(builder.LabelManagedBy, builder.ManagedByValue))
		}

		Expect(dep.Spec.Template.Spec.Containers).To(HaveLen(1))
		Expect(dep.Spec.Template.Spec.Containers[0].Image).To(Equal("ghcr.io/acme/checkout:1.4.2"))
		Expect(dep.Spec.Template.Spec.Containers[0].Ports[0].ContainerPort).To(Equal(int32(8080)))
		Expect(svc.Spec.Ports[0].Port).To(Equal(int32(80)))
		Expect(svc.Spec.Ports[0].TargetPort).To(Equal(intstr.FromString("http")))
		Expect(hpa.Spec.MinReplicas).To(Equal(ptr.To[int32](2)))
		Expect(hpa.Spec.MaxReplicas).To(Equal(int32(10)))
		Expect(route.Spec.Rules[0].BackendRefs[0].Name).To(Equal(gwv1.ObjectName("checkout")))
		Expect(route.Spec.Rules[0].Matches[0].Path.Value).To(Equal(ptr.To("/checkout")))

		Eventually(condition(ms, msv1.AvailableCondition), timeout, interval).Should(haveCondition(metav1.ConditionFalse, msv1.ReasonProgressing))
		Eventually(condition(ms, msv1.RouteAcceptedCondition), timeout, interval).Should(haveCondition(metav1.ConditionUnknown, msv1.ReasonRoutePending))
		Eventually(condition(ms, msv1.ReconcilingCondition), timeout, interval).Should(haveCondition(metav1.ConditionTrue, msv1.ReasonProgressing))

		// Let every event of the creation be handled, then count.
		Consistently(func() map[string]int { return env.writes.Since(before, ns) }, 2*time.Second, interval).Should(Equal(map[string]int{
			"PATCH deployments":              1,
			"PATCH services":                 1,
			"PATCH horizontalpodautoscalers": 1,
			"PATCH poddisruptionbudgets":     1,
			"PATCH httproutes":               1,
			"PATCH microservices/status":     1,
		}))
		GinkgoWriter.Printf("Writes to create a Microservice with 5 children: %v\n", env.writes.Since(before, ns))

		live := &msv1.Microservice{}
		Expect(k8sClient.Get(ctx, key(ms), live)).To(Succeed())
		Expect(live.Status.URL).To(Equal("http://checkout." + ns + ".svc.cluster.local:80"))
		Expect(live.Status.Selector).To(Equal("apps.msvc.dev/microservice=checkout"))
	})

	It("becomes Ready when the Deployment is available and the Gateway accepts the route, then costs zero writes", func() {
		ms := withRoute(checkout(ns))
		Expect(k8sClient.Create(ctx, ms)).To(Succeed())
		Eventually(condition(ms, msv1.ReadyCondition), timeout, interval).Should(haveCondition(metav1.ConditionFalse, msv1.ReasonProgressing))

		playDeploymentController(ms)
		Eventually(condition(ms, msv1.AvailableCondition), timeout, interval).Should(haveCondition(metav1.ConditionTrue, msv1.ReasonSucceeded))
		Eventually(condition(ms, msv1.ReadyCondition), timeout, interval).Should(haveCondition(metav1.ConditionFalse, msv1.ReasonRoutePending))

		playGatewayController(ms, false, "NotAllowedByListeners", "no listener allows this namespace")
		Eventually(condition(ms, msv1.RouteAcceptedCondition), timeout, interval).Should(And(
			haveCondition(metav1.ConditionFalse, msv1.ReasonRouteNotAccepted),
			HaveField("Message", ContainSubstring("gateway-system/public (NotAllowedByListeners: no listener allows this namespace)"))))

		playGatewayController(ms, true, "Accepted", "")
		Eventually(condition(ms, msv1.ReadyCondition), timeout, interval).Should(haveCondition(metav1.ConditionTrue, msv1.ReasonSucceeded))
		Eventually(condition(ms, msv1.ReconcilingCondition), timeout, interval).Should(BeNil())
		Expect(condition(ms, msv1.StalledCondition)()).To(BeNil())

		live := &msv1.Microservice{}
		Expect(k8sClient.Get(ctx, key(ms), live)).To(Succeed())
		Expect(live.Status.ReadyReplicas).To(Equal(int32(2)))

		By("reconciling the unchanged Microservice three times")
		before := env.writes.Snapshot()
		for _, v := range []string{"1", "2", "3"} {
			nudge(ms, v)
		}
		Consistently(func() map[string]int { return env.writes.Since(before, ns) }, time.Second, interval).Should(BeEmpty())
	})

	It("rolls a new image out to the Deployment and reports Reconciling until it is available", func() {
		ms := checkout(ns)
		Expect(k8sClient.Create(ctx, ms)).To(Succeed())
		getChild(Default, ms, &appsv1.Deployment{})
		playDeploymentController(ms)
		Eventually(condition(ms, msv1.ReadyCondition), timeout, interval).Should(haveCondition(metav1.ConditionTrue, msv1.ReasonSucceeded))

		updateSpec(ms, func(s *msv1.MicroserviceSpec) { s.Image = "ghcr.io/acme/checkout:1.5.0" })
		Eventually(func() string {
			d := &appsv1.Deployment{}
			_ = k8sClient.Get(ctx, key(ms), d)
			return d.Spec.Template.Spec.Containers[0].Image
		}, timeout, interval).Should(Equal("ghcr.io/acme/checkout:1.5.0"))
		Eventually(condition(ms, msv1.ReconcilingCondition), timeout, interval).Should(haveCondition(metav1.ConditionTrue, msv1.ReasonProgressing))
		Expect(condition(ms, msv1.ReadyCondition)()).To(haveCondition(metav1.ConditionTrue, msv1.ReasonSucceeded),
			"the old pods keep serving while the new version rolls out")

		playDeploymentController(ms)
		Eventually(condition(ms, msv1.ReadyCondition), timeout, interval).Should(haveCondition(metav1.ConditionTrue, msv1.ReasonSucceeded))
		Eventually(condition(ms, msv1.ReconcilingCondition), timeout, interval).Should(BeNil())
	})

	It("scales through the scale subresource, as kubectl scale does", func() {
		ms := checkout(ns)
		Expect(k8sClient.Create(ctx, ms)).To(Succeed())
		getChild(Default, ms, &appsv1.Deployment{})

		scale := &autoscalingv1.Scale{}
		Expect(k8sClient.SubResource("scale").Get(ctx, ms, scale)).To(Succeed())
		Expect(scale.Spec.Replicas).To(Equal(int32(2)))
		scale.Spec.Replicas = 5
		Expect(k8sClient.SubResource("scale").Update(ctx, ms, client.WithSubResourceBody(scale))).To(Succeed())

		Eventually(func() *int32 {
			d := &appsv1.Deployment{}
			_ = k8sClient.Get(ctx, key(ms), d)
			return d.Spec.Replicas
		}, timeout, interval).Should(Equal(ptr.To[int32](5)))
		playDeploymentController(ms)
		Eventually(func() (int32, error) {
			err := k8sClient.SubResource("scale").Get(ctx, ms, scale)
			return scale.Status.Replicas, err
		}, timeout, interval).Should(Equal(int32(5)))
		Expect(scale.Status.Selector).To(Equal("apps.msvc.dev/microservice=checkout"))
	})

	It("hands the replica count to the HPA without scaling down, never fights it, and takes it back", func() {
		ms := checkout(ns)
		ms.Spec.Replicas = ptr.To[int32](3)
		Expect(k8sClient.Create(ctx, ms)).To(Succeed())
		getChild(Default, ms, &appsv1.Deployment{})

		By("turning autoscaling on: the Deployment keeps its 3 pods")
		updateSpec(ms, func(s *msv1.MicroserviceSpec) {
			s.Autoscaling = &msv1.Autoscaling{MinReplicas: ptr.To[int32](2), MaxReplicas: 10, TargetCPUUtilizationPercentage: ptr.To[int32](70)}
		})
		getChild(Default, ms, &autoscalingv2.HorizontalPodAutoscaler{})
		Eventually(func() string {
			d := &appsv1.Deployment{}
			_ = k8sClient.Get(ctx, key(ms), d)
			return d.Annotations[builder.AnnotationReplicasOwner]
		}, timeout, interval).Should(Equal(builder.ReplicasOwnerAutoscaler))
		d := &appsv1.Deployment{}
		Expect(k8sClient.Get(ctx, key(ms), d)).To(Succeed())
		Expect(d.Spec.Replicas).To(Equal(ptr.To[int32](3)))

		By("scaling the Deployment as the HPA does, through its scale subresource")
		scale := &autoscalingv1.Scale{}
		Expect(k8sClient.SubResource("scale").Get(ctx, d, scale)).To(Succeed())
		scale.Spec.Replicas = 7
		Expect(k8sClient.SubResource("scale").Update(ctx, d, client.WithSubResourceBody(scale), client.FieldOwner("horizontal-pod-autoscaler"))).To(Succeed())
		nudge(ms, "after-hpa-scaled")
		Consistently(func() *int32 {
			_ = k8sClient.Get(ctx, key(ms), d)
			return d.Spec.Replicas
		}, time.Second, interval).Should(Equal(ptr.To[int32](7)))

		By("turning autoscaling off: the HPA is deleted and spec.replicas rules again")
		updateSpec(ms, func(s *msv1.MicroserviceSpec) {
			s.Autoscaling = nil
			s.Replicas = ptr.To[int32](4)
		})
		Eventually(func() bool {
			return apierrors.IsNotFound(k8sClient.Get(ctx, key(ms), &autoscalingv2.HorizontalPodAutoscaler{}))
		}, timeout, interval).Should(BeTrue())
		Eventually(func() *int32 {
			_ = k8sClient.Get(ctx, key(ms), d)
			return d.Spec.Replicas
		}, timeout, interval).Should(Equal(ptr.To[int32](4)))
	})

	It("deletes the HTTPRoute when the route is removed and creates it when it comes back", func() {
		ms := withRoute(checkout(ns))
		Expect(k8sClient.Create(ctx, ms)).To(Succeed())
		getChild(Default, ms, &gwv1.HTTPRoute{})

		updateSpec(ms, func(s *msv1.MicroserviceSpec) { s.Route = nil })
		Eventually(func() bool {
			return apierrors.IsNotFound(k8sClient.Get(ctx, key(ms), &gwv1.HTTPRoute{}))
		}, timeout, interval).Should(BeTrue())
		Eventually(func() []metav1.Condition {
			live := &msv1.Microservice{}
			_ = k8sClient.Get(ctx, key(ms), live)
			return live.Status.Conditions
		}, timeout, interval).ShouldNot(ContainElement(HaveField("Type", msv1.RouteAcceptedCondition)))

		updateSpec(ms, func(s *msv1.MicroserviceSpec) { s.Route = withRoute(checkout(ns)).Spec.Route })
		getChild(Default, ms, &gwv1.HTTPRoute{})
	})

	It("puts back children edited or deleted by hand", func() {
		ms := checkout(ns)
		Expect(k8sClient.Create(ctx, ms)).To(Succeed())
		dep := getChild(Default, ms, &appsv1.Deployment{})
		svc := getChild(Default, ms, &corev1.Service{})

		By("editing the Deployment's image and replicas")
		dep.Spec.Template.Spec.Containers[0].Image = "evil:latest"
		dep.Spec.Replicas = ptr.To[int32](9)
		Expect(k8sClient.Update(ctx, dep)).To(Succeed())
		Eventually(func() []any {
			d := &appsv1.Deployment{}
			_ = k8sClient.Get(ctx, key(ms), d)
			return []any{d.Spec.Template.Spec.Containers[0].Image, ptr.Deref(d.Spec.Replicas, 0)}
		}, timeout, interval).Should(Equal([]any{"ghcr.io/acme/checkout:1.4.2", int32(2)}))

		By("editing the Service's port")
		svc.Spec.Ports[0].Port = 9999
		Expect(k8sClient.Update(ctx, svc)).To(Succeed())
		Eventually(func() int32 {
			s := &corev1.Service{}
			_ = k8sClient.Get(ctx, key(ms), s)
			return s.Spec.Ports[0].Port
		}, timeout, interval).Should(Equal(int32(80)))

		By("deleting the Service")
		uid := svc.UID
		Expect(k8sClient.Delete(ctx, svc)).To(Succeed())
		Eventually(func() bool {
			s := &corev1.Service{}
			return k8sClient.Get(ctx, key(ms), s) == nil && s.UID != uid
		}, timeout, interval).Should(BeTrue())
	})

	It("reports Stalled with the API server's reason when a child is refused, and recovers when the spec is fixed", func() {
		ms := checkout(ns)
		// Admission of the Microservice accepts this, the Deployment's validation does not.
		ms.Spec.Resources = &corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2")},
			Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")},
		}
		Expect(k8sClient.Create(ctx, ms)).To(Succeed())
		Eventually(condition(ms, msv1.StalledCondition), timeout, interval).Should(And(
			haveCondition(metav1.ConditionTrue, msv1.ReasonApplyFailed),
			HaveField("Message", ContainSubstring("must be less than or equal to cpu limit"))))
		Expect(condition(ms, msv1.ReadyCondition)()).To(haveCondition(metav1.ConditionFalse, msv1.ReasonApplyFailed))
		Expect(apierrors.IsNotFound(k8sClient.Get(ctx, key(ms), &appsv1.Deployment{}))).To(BeTrue())
		Expect(apierrors.IsNotFound(k8sClient.Get(ctx, key(ms), &corev1.Service{}))).To(BeTrue(),
			"nothing after the refused child is applied")

		updateSpec(ms, func(s *msv1.MicroserviceSpec) { s.Resources.Limits[corev1.ResourceCPU] = resource.MustParse("2") })
		getChild(Default, ms, &appsv1.Deployment{})
		getChild(Default, ms, &corev1.Service{})
		Eventually(condition(ms, msv1.StalledCondition), timeout, interval).Should(BeNil())
	})

	It("caches only the objects it manages, without managedFields", func() {
		ms := checkout(ns)
		Expect(k8sClient.Create(ctx, ms)).To(Succeed())
		getChild(Default, ms, &appsv1.Deployment{})

		unmanaged := &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: "someone-elses", Namespace: ns},
			Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 80}}},
		}
		Expect(k8sClient.Create(ctx, unmanaged)).To(Succeed())

		cached := &appsv1.Deployment{}
		Eventually(func() error { return env.mgr.GetCache().Get(ctx, key(ms), cached) }, timeout, interval).Should(Succeed())
		Expect(cached.ManagedFields).To(BeEmpty())
		Consistently(func() bool {
			return apierrors.IsNotFound(env.mgr.GetCache().Get(ctx, client.ObjectKeyFromObject(unmanaged), &corev1.Service{}))
		}, time.Second, interval).Should(BeTrue())
	})

	It("leaves deletion of the children to the garbage collector and stays quiet", func() {
		ms := checkout(ns)
		Expect(k8sClient.Create(ctx, ms)).To(Succeed())
		dep := getChild(Default, ms, &appsv1.Deployment{})
		Expect(dep.OwnerReferences).To(ConsistOf(HaveField("UID", ms.UID)))
		Eventually(condition(ms, msv1.ReconcilingCondition), timeout, interval).ShouldNot(BeNil())
		settled := env.writes.Snapshot()
		Consistently(func() map[string]int { return env.writes.Since(settled, ns) }, time.Second, interval).Should(BeEmpty())

		before := env.writes.Snapshot()
		Expect(k8sClient.Delete(ctx, ms)).To(Succeed())
		Eventually(func() bool { return apierrors.IsNotFound(k8sClient.Get(ctx, key(ms), &msv1.Microservice{})) }, timeout, interval).Should(BeTrue())
		// envtest runs no garbage collector; the owner references above are
		// what makes it delete the children (proved end to end in test/e2e).
		Consistently(func() map[string]int { return env.writes.Since(before, ns) }, time.Second, interval).Should(BeEmpty())
	})
})
