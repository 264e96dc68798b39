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
	"strconv"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/utils/ptr"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
	"github.com/msvc-dev/msvc-operator/internal/builder"
)

// matchRuleOf is the rule of a route that sends the canary matches to the
// canary, or nil.
func matchRuleOf(r *gwv1.HTTPRoute) *gwv1.HTTPRouteRule {
	for i := range r.Spec.Rules {
		rule := &r.Spec.Rules[i]
		if len(rule.BackendRefs) == 1 && len(rule.Matches) > 0 && len(rule.Matches[0].Headers) > 0 {
			return rule
		}
	}
	return nil
}

var _ = Describe("Canary matches (A/B testing)", func() {
	It("send the matching requests to the canary only while it runs with ready pods, and take them off before it scales down", func() {
		ms := withCanary(withRoute(checkout(newNamespace())), weightStep(20), manualGate(), weightStep(50))
		ms.Spec.Rollout.Canary.Matches = []msv1.CanaryMatch{
			{Headers: []msv1.HeaderMatch{{Name: "X-Canary", Value: "always"}}},
			{Cookie: &msv1.CookieMatch{Name: "canary", Value: "yes"}},
		}
		// Every version of the route and of the canary Deployment, in the
		// order of the one etcd's revisions.
		type version struct {
			rv        int64
			matchRule bool
			replicas  *int32
		}
		var mu sync.Mutex
		var versions []version
		rv := func(s string) int64 { n, _ := strconv.ParseInt(s, 10, 64); return n }
		DeferCleanup(watchNamedVersions(ms, ms.Name, &gwv1.HTTPRouteList{}, func(r *gwv1.HTTPRoute) {
			mu.Lock()
			defer mu.Unlock()
			versions = append(versions, version{rv: rv(r.ResourceVersion), matchRule: matchRuleOf(r) != nil})
		}))
		DeferCleanup(watchNamedVersions(ms, builder.CanaryDeploymentName(ms), &appsv1.DeploymentList{}, func(d *appsv1.Deployment) {
			mu.Lock()
			defer mu.Unlock()
			versions = append(versions, version{rv: rv(d.ResourceVersion), replicas: d.Spec.Replicas})
		}))
		route := func() *gwv1.HTTPRoute {
			r := &gwv1.HTTPRoute{}
			Expect(k8sClient.Get(ctx, key(ms), r)).To(Succeed())
			return r
		}

		startCanary(ms)
		By("no match rule while the canary has no ready pod")
		Consistently(func() *gwv1.HTTPRouteRule { return matchRuleOf(route()) }, time.Second, interval).Should(BeNil())

		playDeployment(canaryKey(ms))
		Eventually(func() *gwv1.HTTPRouteRule { return matchRuleOf(route()) }, timeout, interval).ShouldNot(BeNil())
		rule := matchRuleOf(route())
		Expect(rule.BackendRefs[0].Name).To(Equal(gwv1.ObjectName("checkout-canary")))
		Expect(rule.Matches).To(HaveLen(2), "one match per entry: the entries are ORed")
		exact := gwv1.HeaderMatchExact
		regex := gwv1.HeaderMatchRegularExpression
		Expect(rule.Matches[0].Path).To(HaveValue(HaveField("Value", HaveValue(Equal("/checkout")))), "on the route's own path")
		Expect(rule.Matches[0].Headers).To(ConsistOf(gwv1.HTTPHeaderMatch{Type: &exact, Name: "X-Canary", Value: "always"}))
		Expect(rule.Matches[1].Headers).To(ConsistOf(gwv1.HTTPHeaderMatch{Type: &regex, Name: "Cookie", Value: `(^|;\s*)canary=yes(;|$)`}))
		Eventually(func() map[gwv1.ObjectName]int32 {
			r := route()
			weights := map[gwv1.ObjectName]int32{}
			for _, b := range r.Spec.Rules[len(r.Spec.Rules)-1].BackendRefs {
				weights[b.Name] = ptr.Deref(b.Weight, 1)
			}
			return weights
		}, timeout, interval).Should(Equal(map[gwv1.ObjectName]int32{"checkout-stable": 80, "checkout-canary": 20}), "the weighted rule is unchanged")

		By("an abort takes the match rule off before the canary scales down")
		annotate(ms, msv1.AbortAnnotation, "ab-1")
		Eventually(replicas(canaryKey(ms)), timeout, interval).Should(Equal(int32(0)))
		Expect(matchRuleOf(route())).To(BeNil())
		mu.Lock()
		defer mu.Unlock()
		var lastRule, firstDown int64 = 0, -1
		for _, v := range versions {
			if v.matchRule && v.rv > lastRule {
				lastRule = v.rv
			}
			if v.replicas != nil && ptr.Deref(v.replicas, 1) == 0 && v.rv > 0 && (firstDown < 0 || v.rv < firstDown) && lastRule > 0 {
				firstDown = v.rv
			}
		}
		Expect(lastRule).To(BeNumerically(">", 0), "the route had the match rule")
		Expect(firstDown).To(BeNumerically(">", lastRule), "the canary was scaled to zero only after the last route version with the match rule")
	})
})
