//go:build e2e

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

package e2e

import (
	"fmt"
	"net/http"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
	"github.com/msvc-dev/msvc-operator/test/dataplane/load"
)

const blueGreenNS = "e2e-bluegreen"

// Blue-green on the real data plane: users stay on the old version while
// testers reach the preview through the Gateway; a promote moves every user
// at once, and no request fails on the way.
var _ = Describe("A blue-green switch through a real Gateway", func() {
	const host = "bg.e2e.test"
	tkey := func(name string) client.ObjectKey { return client.ObjectKey{Namespace: blueGreenNS, Name: name} }
	phase := func() msv1.RolloutPhase {
		ms := &msv1.Microservice{}
		if k8s.Get(ctx, tkey("bg"), ms) != nil || ms.Status.Rollout == nil {
			return ""
		}
		return ms.Status.Rollout.Phase
	}

	It("keeps users on the old version while testers reach the full-size preview, then switches them all at once without a failed request", func() {
		kubectl("create", "namespace", blueGreenNS)
		ms := &msv1.Microservice{ObjectMeta: metav1.ObjectMeta{Namespace: blueGreenNS, Name: "bg"}}
		ms.Spec.Image = "example.com/bg:v1"
		ms.Spec.Replicas = ptr.To[int32](2)
		ms.Spec.Ports = []msv1.ServicePort{{Name: "http", Port: 80, TargetPort: ptr.To[int32](8080)}}
		ms.Spec.Route = &msv1.Route{ParentRefs: []msv1.ParentReference{{Name: "public", Namespace: "gateway-system"}}, Hostnames: []string{host}}
		ms.Spec.Rollout = &msv1.Rollout{Strategy: msv1.BlueGreenStrategy, BlueGreen: &msv1.BlueGreen{
			AutoPromotion:  ptr.To(false),
			ScaleDownDelay: &metav1.Duration{Duration: 5 * time.Second},
			Matches:        []msv1.CanaryMatch{{Headers: []msv1.HeaderMatch{{Name: "X-Preview", Value: "yes"}}}},
		}}
		Expect(k8s.Create(ctx, ms)).To(Succeed())
		Eventually(func() bool {
			live := &msv1.Microservice{}
			return k8s.Get(ctx, tkey("bg"), live) == nil && apimeta.IsStatusConditionTrue(live.Status.Conditions, msv1.AvailableCondition) &&
				apimeta.IsStatusConditionTrue(live.Status.Conditions, msv1.RouteAcceptedCondition)
		}, 2*time.Minute, 250*time.Millisecond).Should(BeTrue())

		users := startTraffic(host, 50, 3*time.Minute)
		testers := startTrafficWith(host, 10, 3*time.Minute, http.Header{"X-Preview": {"yes"}})
		// Failures are counted from the moment Traefik serves the new
		// route steadily: a whole second of answers from v1 and none
		// failed (while it programs a new route it answers 404, in CI
		// for a while mixed with 200s).
		served := time.Now()
		Eventually(func() bool {
			served = time.Now()
			w := users.rec.Window(served.Add(-time.Second), served)
			return w.ByVersion["v1"] >= 40 && failed(w) == 0
		}, time.Minute, 100*time.Millisecond).Should(BeTrue())
		time.Sleep(time.Second)
		changed := time.Now()
		Eventually(func() error {
			live := &msv1.Microservice{}
			if err := k8s.Get(ctx, tkey("bg"), live); err != nil {
				return err
			}
			live.Spec.Image = "example.com/bg:v2"
			return k8s.Update(ctx, live)
		}, 10*time.Second, 100*time.Millisecond).Should(Succeed())

		By("the preview: as many pods as the stable track, the testers on it, the users not")
		// The gate comes first; the preview's pods start meanwhile.
		Eventually(phase, 2*time.Minute, 250*time.Millisecond).Should(Equal(msv1.RolloutPhasePaused))
		Eventually(func() int32 {
			d := &appsv1.Deployment{}
			if k8s.Get(ctx, tkey("bg-canary"), d) != nil {
				return -1
			}
			return d.Status.ReadyReplicas
		}, time.Minute, 250*time.Millisecond).Should(Equal(int32(2)), "the preview runs at full size")
		time.Sleep(1500 * time.Millisecond) // Traefik applies the match rule
		from := time.Now()
		time.Sleep(5 * time.Second)
		before := users.rec.Window(from, time.Now())
		tested := testers.rec.Window(from, time.Now())
		AddReportEntry("before the switch", fmt.Sprintf("users %d answered, %.1f%% from v2; testers %d, %.1f%% from v2",
			before.Answered(), 100*before.Share("v2"), tested.Answered(), 100*tested.Share("v2")))
		Expect(before.Answered()).To(BeNumerically(">=", 200))
		Expect(before.Share("v2")).To(BeZero(), "no user reaches the preview before the switch: %+v", before)
		Expect(tested.Share("v2")).To(Equal(1.0), "every tester reaches the preview: %+v", tested)

		By("a promote: every user on the new version at once")
		kubectl("annotate", "ms", "bg", "-n", blueGreenNS, "--overwrite", fmt.Sprintf("%s=%d", msv1.PromoteAnnotation, time.Now().UnixNano()))
		promoted := time.Now()
		// The first v2 answer a user gets, and the last v1 one after it.
		var firstNew, lastOld time.Time
		Eventually(func() bool {
			firstNew, lastOld = time.Time{}, time.Time{}
			users.rec.Each(promoted, time.Now(), func(r load.Result) {
				if r.Version == "v2" && firstNew.IsZero() {
					firstNew = r.At
				}
				if r.Version == "v1" && !firstNew.IsZero() {
					lastOld = r.At
				}
			})
			return !firstNew.IsZero() && time.Since(firstNew) > 3*time.Second
		}, time.Minute, 250*time.Millisecond).Should(BeTrue())
		mixed := time.Duration(0)
		if !lastOld.IsZero() {
			mixed = lastOld.Sub(firstNew)
		}
		AddReportEntry("the switch", fmt.Sprintf("promote to first v2 answer %s; v1 answers after the first v2 one for %s", firstNew.Sub(promoted).Round(time.Millisecond), mixed.Round(time.Millisecond)))
		Expect(mixed).To(BeNumerically("<", 2*time.Second), "the switch moves every user within one Traefik reload")

		Eventually(phase, 2*time.Minute, 250*time.Millisecond).Should(Equal(msv1.RolloutPhaseSucceeded))
		Eventually(func() int32 {
			d := &appsv1.Deployment{}
			if k8s.Get(ctx, tkey("bg-canary"), d) != nil {
				return -1
			}
			return d.Status.Replicas
		}, time.Minute, 250*time.Millisecond).Should(BeZero())
		time.Sleep(6 * time.Second) // the preview's pods drain for 5 s
		users.stop()
		testers.stop()
		all, allTesters := users.rec.Window(served, time.Now()), testers.rec.Window(served, time.Now())
		// When each failure came, from the image change.
		var failures []string
		for _, t := range []*traffic{users, testers} {
			t.rec.Each(served, time.Now(), func(r load.Result) {
				if r.Code != 200 {
					failures = append(failures, fmt.Sprintf("%d at %s", r.Code, r.At.Sub(changed).Round(10*time.Millisecond)))
				}
			})
		}
		AddReportEntry("blue-green, from the first answer on", fmt.Sprintf("users %+v; testers %+v; failures %v", all, allTesters, failures))
		Expect(failed(all)).To(BeZero(), "%+v; failures %v", all, failures)
		Expect(failed(allTesters)).To(BeZero(), "%+v; failures %v", allTesters, failures)
		after := users.rec.Window(time.Now().Add(-3*time.Second), time.Now())
		Expect(after.Share("v2")).To(Equal(1.0), "after the promotion every user is on v2: %+v", after)
	})
})
