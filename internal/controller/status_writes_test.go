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
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
)

// rolloutStepOf names the step a rollout status is at: its phase, step and
// weight. Unlike stepOf (faults_test.go) it tells the promotion's two
// steps apart, the weight still on the canary and the weight back on stable.
func rolloutStepOf(st *msv1.RolloutStatus) string {
	if st == nil {
		return "none"
	}
	return fmt.Sprintf("%s step=%d weight=%d", st.Phase, ptr.Deref(st.CurrentStep, -1), st.CanaryWeight)
}

// playDeploymentsUntil makes both Deployments of ms ready at their replica
// count for their generation whenever they are not, as the Deployment
// controller would, until ctx ends (each loop sleeps, so it is bounded by
// ctx). Each loop waits lag first: a Deployment controller under load lets
// the operator see a new generation before its pods are ready.
func playDeploymentsUntil(ctx context.Context, ms *msv1.Microservice, lag time.Duration) {
	go func() {
		defer GinkgoRecover()
		for ctx.Err() == nil {
			time.Sleep(lag)
			for _, k := range []client.ObjectKey{key(ms), canaryKey(ms)} {
				d := &appsv1.Deployment{}
				if err := k8sClient.Get(ctx, k, d); err != nil {
					continue
				}
				if rolledOut(d) {
					continue
				}
				d.Status = rolledOutStatus(d)
				_ = k8sClient.Status().Update(ctx, d) // a conflict: the next loop sees the newer version
			}
		}
	}()
}

var _ = Describe("Status writes of a rollout", func() {
	It("write the status once per step change of a canary, and not again in between", func() {
		ms := withCanary(withRoute(checkout(newNamespace())), weightStep(20), pauseFor(2*time.Second), weightStep(50), pauseFor(2*time.Second))
		ms.Spec.Replicas = ptr.To[int32](2)
		Expect(k8sClient.Create(ctx, ms)).To(Succeed())
		play, stopPlaying := context.WithCancel(ctx)
		defer stopPlaying()
		playDeploymentsUntil(play, ms, 300*time.Millisecond)

		Eventually(func(g Gomega) {
			got := &msv1.Microservice{}
			g.Expect(k8sClient.Get(ctx, key(ms), got)).To(Succeed())
			g.Expect(got.Status.ObservedGeneration).To(Equal(got.Generation))
			g.Expect(got.Status.Rollout).NotTo(BeNil())
			g.Expect(got.Status.Rollout.Phase).To(Equal(msv1.RolloutPhaseIdle))
			g.Expect(got.Status.ReadyReplicas).To(Equal(int32(2)))
		}, timeout, interval).Should(Succeed())
		time.Sleep(time.Second) // the create's last writes settle

		// Every status version from here on, with the step it is at.
		var mu sync.Mutex
		var last *msv1.MicroserviceStatus
		type version struct {
			step   string
			status msv1.MicroserviceStatus
		}
		var versions []version
		stop := watchVersions(ms, &msv1.MicroserviceList{}, func(got *msv1.Microservice) {
			mu.Lock()
			defer mu.Unlock()
			if last != nil && equality.Semantic.DeepEqual(*last, got.Status) {
				return // the spec change, or a version seen twice
			}
			s := got.Status.DeepCopy()
			if last != nil {
				versions = append(versions, version{rolloutStepOf(got.Status.Rollout), *s})
			}
			last = s
		})
		defer stop()
		time.Sleep(500 * time.Millisecond) // the watch's first event is the version before the change
		writes := env.writes.Snapshot()
		updateSpec(ms, func(s *msv1.MicroserviceSpec) { s.Image = "ghcr.io/acme/checkout:2.0.0" })

		Eventually(func(g Gomega) {
			got := &msv1.Microservice{}
			g.Expect(k8sClient.Get(ctx, key(ms), got)).To(Succeed())
			g.Expect(got.Status.ObservedGeneration).To(Equal(got.Generation))
			g.Expect(got.Status.Rollout.Phase).To(Equal(msv1.RolloutPhaseSucceeded))
		}, 2*timeout, interval).Should(Succeed())
		time.Sleep(2 * time.Second) // the canary's scale-down and any late write

		mu.Lock()
		defer mu.Unlock()
		steps := map[string]bool{}
		var trace []string
		for i, v := range versions {
			steps[v.step] = true
			line := fmt.Sprintf("%d: %s ready=%d/%d updated=%d", i+1, v.step, v.status.ReadyReplicas, v.status.Replicas, v.status.UpdatedReplicas)
			for _, c := range v.status.Conditions {
				line += fmt.Sprintf(" %s=%s(%s)", c.Type, c.Status, c.Reason)
			}
			trace = append(trace, line)
		}
		GinkgoWriter.Printf("status versions of the rollout:\n%s\n", strings.Join(trace, "\n"))
		Expect(len(versions)).To(BeNumerically(">=", 4), "a rollout of two weight steps goes through at least start, 20, 50 and Succeeded:\n%s", strings.Join(trace, "\n"))
		Expect(len(versions)).To(BeNumerically("<=", len(steps)),
			"%d status writes for %d step changes; each status version should be at a step of its own:\n%s", len(versions), len(steps), strings.Join(trace, "\n"))
		// A patch that changes nothing makes no version: only the
		// manager's requests show it (a condition given a new transition
		// time within the second was one, once per rollout).
		Expect(env.writes.Since(writes, ms.Namespace)["PATCH microservices/status"]).To(Equal(len(versions)),
			"the manager sent status patches that made no new version:\n%s", strings.Join(trace, "\n"))
	})
})
