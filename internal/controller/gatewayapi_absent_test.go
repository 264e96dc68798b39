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
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
)

var _ = Describe("Without the Gateway API installed", Ordered, func() {
	var (
		bare *operatorEnv
		c    client.Client
	)
	BeforeAll(func() {
		bare = startOperatorEnv([]string{projectCRDs()})
		var err error
		c, err = client.New(bare.cfg, client.Options{Scheme: scheme})
		Expect(err).NotTo(HaveOccurred())
	})
	AfterAll(func() { bare.Stop() })

	It("manages everything else and reports that routes need the Gateway API", func() {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "no-gateway"}}
		Expect(c.Create(ctx, ns)).To(Succeed())

		withRouteMS := withRoute(checkout(ns.Name))
		plain := checkout(ns.Name)
		plain.Name = "catalog"
		Expect(c.Create(ctx, withRouteMS)).To(Succeed())
		Expect(c.Create(ctx, plain)).To(Succeed())

		for _, ms := range []*msv1.Microservice{withRouteMS, plain} {
			Eventually(func() error { return c.Get(ctx, key(ms), &appsv1.Deployment{}) }, timeout, interval).Should(Succeed())
			Eventually(func() error { return c.Get(ctx, key(ms), &corev1.Service{}) }, timeout, interval).Should(Succeed())
		}

		routeAccepted := func(ms *msv1.Microservice) func() []metav1.Condition {
			return func() []metav1.Condition {
				live := &msv1.Microservice{}
				_ = c.Get(ctx, key(ms), live)
				return live.Status.Conditions
			}
		}
		Eventually(routeAccepted(withRouteMS), timeout, interval).Should(ContainElement(And(
			HaveField("Type", msv1.RouteAcceptedCondition),
			HaveField("Status", metav1.ConditionFalse),
			HaveField("Reason", msv1.ReasonGatewayAPINotInstalled),
			HaveField("Message", ContainSubstring("install the Gateway API CRDs")))))
		Eventually(routeAccepted(withRouteMS), timeout, interval).Should(ContainElement(And(
			HaveField("Type", msv1.StalledCondition), HaveField("Status", metav1.ConditionTrue))))
		Eventually(routeAccepted(plain), timeout, interval).Should(ContainElement(And(
			HaveField("Type", msv1.AvailableCondition), HaveField("Reason", msv1.ReasonProgressing))))
		Expect(routeAccepted(plain)()).NotTo(ContainElement(HaveField("Type", msv1.RouteAcceptedCondition)))
		Expect(routeAccepted(plain)()).NotTo(ContainElement(HaveField("Type", msv1.StalledCondition)))
	})
})
