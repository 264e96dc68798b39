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
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
	"github.com/msvc-dev/msvc-operator/internal/traffic"
)

// gatewayWithFeatures creates a GatewayClass whose status lists features,
// as its controller would publish them, and a Gateway of it in ns.
func gatewayWithFeatures(ns, name string, features ...gwv1.FeatureName) {
	gc := &gwv1.GatewayClass{ObjectMeta: metav1.ObjectMeta{Name: name + "-" + ns}, Spec: gwv1.GatewayClassSpec{ControllerName: "example.com/gateway-controller"}}
	Expect(k8sClient.Create(ctx, gc)).To(Succeed())
	DeferCleanup(func() { _ = k8sClient.Delete(ctx, gc) })
	for _, f := range features {
		gc.Status.SupportedFeatures = append(gc.Status.SupportedFeatures, gwv1.SupportedFeature{Name: f})
	}
	Expect(k8sClient.Status().Update(ctx, gc)).To(Succeed())
	gw := &gwv1.Gateway{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Spec: gwv1.GatewaySpec{
		GatewayClassName: gwv1.ObjectName(gc.Name),
		Listeners:        []gwv1.Listener{{Name: "http", Port: 80, Protocol: gwv1.HTTPProtocolType}},
	}}
	Expect(k8sClient.Create(ctx, gw)).To(Succeed())
}

// weightedRule reads the route's weighted rule (its last), or nil.
func weightedRule(ms *msv1.Microservice) *gwv1.HTTPRouteRule {
	r := &gwv1.HTTPRoute{}
	if err := k8sClient.Get(ctx, key(ms), r); err != nil || len(r.Spec.Rules) == 0 {
		return nil
	}
	return &r.Spec.Rules[len(r.Spec.Rules)-1]
}

// mirrorFilter reads the RequestMirror filter of the route's weighted rule, or nil.
func mirrorFilter(ms *msv1.Microservice) func() *gwv1.HTTPRequestMirrorFilter {
	return func() *gwv1.HTTPRequestMirrorFilter {
		rule := weightedRule(ms)
		if rule == nil {
			return nil
		}
		for _, f := range rule.Filters {
			if f.Type == gwv1.HTTPRouteFilterRequestMirror {
				return f.RequestMirror
			}
		}
		return nil
	}
}

var _ = Describe("Traffic mirroring", func() {
	It("copies a percent of the route's requests to the canary while it runs with ready pods, through a Gateway that lists the feature", func() {
		ns := newNamespace()
		gatewayWithFeatures(ns, "mirroring", gwv1.FeatureName("HTTPRouteRequestMirror"), gwv1.FeatureName("HTTPRouteRequestPercentageMirror"))
		ms := withCanary(withRoute(checkout(ns)), weightStep(20), manualGate())
		ms.Spec.Route.ParentRefs = []msv1.ParentReference{{Name: "mirroring", Namespace: ns}}
		ms.Spec.Rollout.Canary.Mirror = &msv1.Mirror{Percent: ptr.To[int32](25)}

		startCanary(ms)
		Consistently(mirrorFilter(ms), "1s", interval).Should(BeNil(), "no copies to a canary without a ready pod")
		playDeployment(canaryKey(ms))
		Eventually(mirrorFilter(ms), timeout, interval).Should(And(
			HaveField("BackendRef.Name", gwv1.ObjectName("checkout-canary")),
			HaveField("BackendRef.Port", ptr.To(gwv1.PortNumber(80))),
			HaveField("Percent", ptr.To[int32](25))))
		Expect(condition(ms, msv1.RouteAcceptedCondition)()).NotTo(haveCondition(metav1.ConditionFalse, traffic.ReasonMirrorNotSupported))

		annotate(ms, msv1.AbortAnnotation, "a1")
		Eventually(mirrorFilter(ms), timeout, interval).Should(BeNil(), "no copies once the canary is aborted")
	})

	It("does not mirror through a Gateway whose class does not list the feature, and says so in RouteAccepted", func() {
		ns := newNamespace()
		// The class mirrors whole, but not a percent.
		gatewayWithFeatures(ns, "whole", gwv1.FeatureName("HTTPRouteRequestMirror"))
		ms := withCanary(withRoute(checkout(ns)), weightStep(20), manualGate())
		ms.Spec.Route.ParentRefs = []msv1.ParentReference{{Name: "whole", Namespace: ns}, {Name: "missing", Namespace: ns}}
		ms.Spec.Rollout.Canary.Mirror = &msv1.Mirror{Percent: ptr.To[int32](10)}

		startCanary(ms)
		playDeployment(canaryKey(ms))
		Eventually(routeWeights(ms), timeout, interval).Should(Equal("checkout-stable=80/checkout-canary=20"))
		Eventually(condition(ms, msv1.RouteAcceptedCondition), timeout, interval).Should(And(
			haveCondition(metav1.ConditionFalse, traffic.ReasonMirrorNotSupported),
			HaveField("Message", And(
				ContainSubstring("Gateway "+ns+"/whole (GatewayClass whole-"+ns+") does not list HTTPRouteRequestPercentageMirror"),
				ContainSubstring("Gateway "+ns+"/missing does not exist"),
				ContainSubstring("remove spec.rollout.canary.mirror")))))
		Expect(mirrorFilter(ms)()).To(BeNil(), "a Gateway that cannot mirror may fail the whole rule")
	})
})
