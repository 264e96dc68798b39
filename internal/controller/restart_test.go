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
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
	"github.com/msvc-dev/msvc-operator/internal/builder"
)

// trafficGuard watches the HTTPRoute of ms and records every version in
// which a track gets traffic while its Deployment has no ready pods and the
// other track has some, or the canary gets traffic with pods of an older
// template.
type trafficGuard struct {
	mu         sync.Mutex
	versions   int
	violations []string
	stop       func()
}

func guardTraffic(ms *msv1.Microservice) *trafficGuard {
	g := &trafficGuard{}
	stopRoutes := watchVersions(ms, &gwv1.HTTPRouteList{}, func(route *gwv1.HTTPRoute) {
		if len(route.Spec.Rules) > 0 {
			g.check(ms, route)
		}
	})
	stopServices := watchServiceDeletions(ms, func() {
		route := &gwv1.HTTPRoute{}
		if err := k8sClient.Get(ctx, key(ms), route); err == nil && len(route.Spec.Rules) > 0 {
			g.check(ms, route)
		}
	})
	g.stop = func() { stopRoutes(); stopServices() }
	return g
}

// watchServiceDeletions calls deleted each time a Service in ms's namespace
// is deleted, until the returned stop is called: a route must never send
// traffic to a Service that is gone.
func watchServiceDeletions(ms *msv1.Microservice, deleted func()) (stop func()) {
	wc, err := client.NewWithWatch(env.cfg, client.Options{Scheme: scheme})
	Expect(err).NotTo(HaveOccurred())
	w, err := wc.Watch(ctx, &corev1.ServiceList{}, client.InNamespace(ms.Namespace))
	Expect(err).NotTo(HaveOccurred())
	go func() {
		defer GinkgoRecover()
		for ev := range w.ResultChan() {
			if ev.Type == watch.Deleted {
				deleted()
			}
		}
	}()
	return w.Stop
}

func (g *trafficGuard) check(ms *msv1.Microservice, route *gwv1.HTTPRoute) {
	ready := map[string]int32{}
	var problems []string
	for name, k := range map[string]client.ObjectKey{
		builder.TrackServiceName(ms, builder.TrackStable): key(ms),
		builder.TrackServiceName(ms, builder.TrackCanary): canaryKey(ms),
	} {
		d := &appsv1.Deployment{}
		if err := k8sClient.Get(ctx, k, d); err != nil {
			if !apierrors.IsNotFound(err) {
				problems = append(problems, err.Error())
			}
			continue
		}
		ready[name] = d.Status.ReadyReplicas
		if name == builder.TrackServiceName(ms, builder.TrackCanary) && d.Status.UpdatedReplicas != d.Status.Replicas {
			ready[name] = 0 // pods of an older template do not count
		}
	}
	anyReady := false
	for _, n := range ready {
		anyReady = anyReady || n > 0
	}
	// The Service of the Microservice's own name selects both tracks (a
	// route points at it once the canary strategy is switched off).
	ready[builder.ServiceName(ms)] = ready[builder.TrackServiceName(ms, builder.TrackStable)] + ready[builder.TrackServiceName(ms, builder.TrackCanary)]
	for _, b := range route.Spec.Rules[0].BackendRefs {
		w := ptr.Deref(b.Weight, 1)
		if w == 0 {
			continue
		}
		if err := k8sClient.Get(ctx, client.ObjectKey{Namespace: ms.Namespace, Name: string(b.Name)}, &corev1.Service{}); err != nil {
			problems = append(problems, fmt.Sprintf("route %s sends %d%% to Service %s: %v", route.ResourceVersion, w, b.Name, err))
		}
		if anyReady && ready[string(b.Name)] == 0 {
			problems = append(problems, fmt.Sprintf("route %s sends %d%% to %s, which has no ready pods (ready: %v)",
				route.ResourceVersion, w, b.Name, ready))
		}
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.versions++
	g.violations = append(g.violations, problems...)
}

func (g *trafficGuard) Check() {
	g.stop()
	g.mu.Lock()
	defer g.mu.Unlock()
	Expect(g.versions).To(BeNumerically(">", 0), "the guard saw the route")
	Expect(g.violations).To(BeEmpty())
}

var _ = Describe("Operator restart in the middle of a canary", func() {
	It("resumes at the same step and weight, and never routes to a canary without ready pods", func() {
		ms := withCanary(withRoute(checkout(newNamespace())), weightStep(30), manualGate(), weightStep(60), manualGate())
		ms.Spec.Replicas = ptr.To[int32](4)
		guard := guardTraffic(ms)
		startCanary(ms)
		playDeployment(canaryKey(ms))
		Eventually(rolloutStatus(ms), timeout, interval).Should(And(
			HaveField("Phase", msv1.RolloutPhasePaused), HaveField("CurrentStep", ptr.To[int32](1)), HaveField("CanaryWeight", int32(30))))
		before := rolloutStatus(ms)()

		By("restarting the operator at the manual gate")
		env.stopManager()
		env.startManager()
		nudge(ms, "after-restart")
		Consistently(rolloutStatus(ms), 2*time.Second, interval).Should(Equal(before))
		Expect(routeWeights(ms)()).To(Equal("checkout-stable=70/checkout-canary=30"))

		By("restarting it again right after a promote, while the canary scales up for 60%")
		annotate(ms, msv1.PromoteAnnotation, "p1")
		Eventually(replicas(canaryKey(ms)), timeout, interval).Should(Equal(int32(3)))
		env.stopManager()
		Expect(routeWeights(ms)()).To(Equal("checkout-stable=70/checkout-canary=30"))
		env.startManager()
		Consistently(routeWeights(ms), time.Second, interval).Should(Equal("checkout-stable=70/checkout-canary=30"),
			"60% waits for the canary's third pod")
		playDeployment(canaryKey(ms))
		Eventually(routeWeights(ms), timeout, interval).Should(Equal("checkout-stable=40/checkout-canary=60"))
		Eventually(rolloutStatus(ms), timeout, interval).Should(And(
			HaveField("Phase", msv1.RolloutPhasePaused), HaveField("CurrentStep", ptr.To[int32](3)), HaveField("HandledPromote", "p1")))

		guard.Check()
	})
})
