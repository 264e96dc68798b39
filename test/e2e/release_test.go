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
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
	"github.com/msvc-dev/msvc-operator/test/dataplane/load"
)

const releaseNS = "e2e-release"

// releaseStates watches the namespace's Microservices and keeps each change
// of a member's state in its release, with the time it arrived: one watch
// delivers the versions in the order the API server wrote them, so the
// order of the release is the order of the statuses.
type releaseStates struct {
	mu      sync.Mutex
	changes []releaseChange
	last    map[string]msv1.ReleaseMemberState
	stopCh  chan struct{}
	done    chan struct{}
}

type releaseChange struct {
	At     time.Time
	Member string
	State  msv1.ReleaseMemberState
}

func (c releaseChange) String() string { return c.Member + " " + string(c.State) }

func sampleReleaseStates(release string, members ...string) *releaseStates {
	s := &releaseStates{last: map[string]msv1.ReleaseMemberState{}, stopCh: make(chan struct{}), done: make(chan struct{})}
	w, err := invariants.c.Watch(ctx, &msv1.MicroserviceList{}, client.InNamespace(releaseNS))
	Expect(err).NotTo(HaveOccurred())
	go func() {
		defer GinkgoRecover()
		defer close(s.done)
		defer w.Stop()
		limit := time.After(10 * time.Minute)
		for {
			select {
			case <-s.stopCh:
				return
			case <-limit:
				return
			case ev, ok := <-w.ResultChan():
				if !ok {
					return
				}
				ms, isMs := ev.Object.(*msv1.Microservice)
				if !isMs || !slices.Contains(members, ms.Name) || ms.Status.Rollout == nil ||
					ms.Status.Rollout.Release == nil || ms.Status.Rollout.Release.Name != release {
					continue
				}
				if st := ms.Status.Rollout.Release.State; st != s.last[ms.Name] {
					s.mu.Lock()
					s.last[ms.Name] = st
					s.changes = append(s.changes, releaseChange{At: time.Now(), Member: ms.Name, State: st})
					s.mu.Unlock()
				}
			}
		}
	}()
	return s
}

func (s *releaseStates) stop() []releaseChange {
	close(s.stopCh)
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.changes)
}

// at is when member first reached state, the zero time if it never did.
func at(changes []releaseChange, member string, state msv1.ReleaseMemberState) time.Time {
	for _, c := range changes {
		if c.Member == member && c.State == state {
			return c.At
		}
	}
	return time.Time{}
}

// chains counts the results between from and to by version and X-Chain.
func chains(rec *load.Recorder, from, to time.Time) map[string]int {
	out := map[string]int{}
	rec.Each(from, to, func(r load.Result) {
		if r.Code == 200 {
			out[r.Chain]++
		}
	})
	return out
}

func describeCounts(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s: %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

// The release's claims on the real data plane: storefront (routed through
// Traefik) calls checkout, which calls ledger, each a real testapp process
// that calls its dependency at the address the operator put in its env,
// resolved by the pod runner's service table. Delivered as one release, the
// canaries start in dependency order, and the requests that Traefik sends
// to the new storefront's canary reach the new checkout's canary and from
// there the new ledger's; when checkout fails (an abort: checkout has no
// route of its own, so no analysis of Traefik's metrics judges it here; the
// golden traces and envtest cover a failed analysis), the whole release
// goes back and every request is answered by the old versions again.
var _ = Describe("A release of three services on the real data plane", Ordered, func() {
	const host = "release.e2e.test"
	const rate = 50
	members := []string{"ledger", "checkout", "storefront"}
	rkey := func(name string) client.ObjectKey { return client.ObjectKey{Namespace: releaseNS, Name: name} }
	short := map[string]string{"ledger": "lg", "checkout": "co", "storefront": "sf"}
	image := func(name string, v int) string { return fmt.Sprintf("example.com/%s:%s-%d", name, short[name], v) }
	chainOf := func(v ...int) string {
		return fmt.Sprintf("sf-%d>co-%d>lg-%d", v[0], v[1], v[2])
	}
	deliver := func(release string, v int, mutate func(name string, ms *msv1.Microservice)) {
		for _, name := range members {
			Eventually(func() error {
				ms := &msv1.Microservice{}
				if err := k8s.Get(ctx, rkey(name), ms); err != nil {
					return err
				}
				if ms.Labels == nil {
					ms.Labels = map[string]string{}
				}
				ms.Labels[msv1.ReleaseLabel] = release
				ms.Spec.Image = image(name, v)
				if mutate != nil {
					mutate(name, ms)
				}
				return k8s.Update(ctx, ms)
			}, 10*time.Second, 100*time.Millisecond).Should(Succeed())
		}
	}
	phase := func(name string) msv1.RolloutPhase {
		ms := &msv1.Microservice{}
		if k8s.Get(ctx, rkey(name), ms) != nil || ms.Status.Rollout == nil {
			return ""
		}
		return ms.Status.Rollout.Phase
	}
	stableImage := func(name string) string {
		d := &appsv1.Deployment{}
		if k8s.Get(ctx, rkey(name), d) != nil || len(d.Spec.Template.Spec.Containers) == 0 {
			return ""
		}
		return d.Spec.Template.Spec.Containers[0].Image
	}
	canaryPods := func(name string) int32 {
		d := &appsv1.Deployment{}
		if k8s.Get(ctx, rkey(name+"-canary"), d) != nil {
			return -1
		}
		return d.Status.Replicas
	}

	BeforeAll(func() {
		kubectl("create", "namespace", releaseNS)
		var prev string
		for _, name := range members {
			ms := &msv1.Microservice{ObjectMeta: metav1.ObjectMeta{Namespace: releaseNS, Name: name}}
			ms.Spec.Image = image(name, 1)
			ms.Spec.Replicas = ptr.To[int32](2)
			ms.Spec.Ports = []msv1.ServicePort{{Name: "http", Port: 80, TargetPort: ptr.To[int32](8080)}}
			ms.Spec.Rollout = &msv1.Rollout{Strategy: msv1.CanaryStrategy, Canary: &msv1.Canary{Steps: []msv1.CanaryStep{
				{SetWeight: ptr.To[int32](50)},
				{Pause: &msv1.PauseStep{Duration: &metav1.Duration{Duration: 3 * time.Second}}},
			}}}
			if prev != "" {
				ms.Spec.Dependencies = []msv1.Dependency{{Name: prev}}
				ms.Spec.Env = []corev1.EnvVar{{Name: "TESTAPP_CALL", Value: strings.ToUpper(prev) + "_URL"}}
			}
			if name == "storefront" {
				ms.Spec.Route = &msv1.Route{ParentRefs: []msv1.ParentReference{{Name: "public", Namespace: "gateway-system"}}, Hostnames: []string{host}}
				// Long enough at 50% for the canary to serve real requests
				// while the whole release is held.
				ms.Spec.Rollout.Canary.Steps[1].Pause.Duration.Duration = 6 * time.Second
			}
			Expect(k8s.Create(ctx, ms)).To(Succeed())
			prev = name
		}
		for _, name := range members {
			Eventually(func() bool {
				ms := &msv1.Microservice{}
				return k8s.Get(ctx, rkey(name), ms) == nil && ms.Status.ObservedGeneration == ms.Generation &&
					ms.Status.ReadyReplicas == 2 && ms.Status.Rollout != nil && ms.Status.Rollout.Phase == msv1.RolloutPhaseIdle
			}, 2*time.Minute, 250*time.Millisecond).Should(BeTrue(), name)
		}
		By("the first versions answer through Traefik, each calling the next by its Service name")
		Eventually(func() map[string]int {
			t := startTraffic(host, 20, 2*time.Second)
			time.Sleep(2 * time.Second)
			t.stop()
			return chains(t.rec, time.Time{}, time.Now().Add(time.Hour))
		}, time.Minute, time.Second).Should(And(HaveKey(chainOf(1, 1, 1)), HaveLen(1)))
	})

	It("rolls out in dependency order, the new storefront's canary calling the new checkout's and ledger's canaries", func() {
		users := startTraffic(host, rate, 3*time.Minute)
		time.Sleep(2 * time.Second)
		states := sampleReleaseStates("shop-v2", members...)
		begin := time.Now()
		deliver("shop-v2", 2, nil)
		for _, name := range members {
			Eventually(func() msv1.RolloutPhase { return phase(name) }, 3*time.Minute, 250*time.Millisecond).Should(Equal(msv1.RolloutPhaseSucceeded), name)
		}
		for _, name := range members {
			Eventually(func() int32 { return canaryPods(name) }, time.Minute, 250*time.Millisecond).Should(BeZero(), name)
		}
		time.Sleep(6 * time.Second) // the canaries' pods drain for 5 s; the stable chain answers alone
		changes := states.stop()
		all := users.stop()
		end := time.Now()
		took := end.Sub(begin)

		// The window in which every canary ran: from the storefront's
		// canary start until ledger's promotion began.
		from, to := at(changes, "storefront", msv1.ReleaseProgressing), at(changes, "ledger", msv1.ReleasePromoting)
		during := chains(users.rec, from, to)
		after := chains(users.rec, end.Add(-3*time.Second), end)
		report := fmt.Sprintf("release shop-v2 in %s; transitions: %v\nusers: %+v\nchains while every canary ran (%s): %s\nchains in the last 3 s: %s",
			took.Round(time.Second), changes, all, to.Sub(from).Round(100*time.Millisecond), describeCounts(during), describeCounts(after))
		GinkgoWriter.Println(report)
		AddReportEntry("release on the real data plane", report)

		order := func(a, b string, as, bs msv1.ReleaseMemberState) {
			ta, tb := at(changes, a, as), at(changes, b, bs)
			ExpectWithOffset(1, ta.IsZero() || tb.IsZero()).To(BeFalse(), "%s %s and %s %s both seen: %v", a, as, b, bs, changes)
			ExpectWithOffset(1, ta.Before(tb)).To(BeTrue(), "%s %s before %s %s: %v", a, as, b, bs, changes)
		}
		order("ledger", "checkout", msv1.ReleasePassed, msv1.ReleaseProgressing)
		order("checkout", "storefront", msv1.ReleasePassed, msv1.ReleaseProgressing)
		order("storefront", "ledger", msv1.ReleasePassed, msv1.ReleasePromoting)
		order("ledger", "checkout", msv1.ReleasePromoted, msv1.ReleasePromoting)
		order("checkout", "storefront", msv1.ReleasePromoted, msv1.ReleasePromoting)

		Expect(failed(all)).To(BeZero(), "every request answered 200 through the whole release: %+v; %s", all, users.failures())
		Expect(during[chainOf(2, 2, 2)]).To(BeNumerically(">", 0), "the new storefront's canary reached the new checkout and ledger: %s", describeCounts(during))
		for chain := range during {
			if strings.HasPrefix(chain, "sf-2>") {
				Expect(chain).To(Equal(chainOf(2, 2, 2)), "every answer of the new storefront, while the canaries ran, came through the new checkout and ledger: %s", describeCounts(during))
			}
		}
		// Stable storefront pods keep their address: the checkout Service,
		// which without a route of its own spreads requests over both of
		// checkout's tracks by pod count, so they may reach co-2 too.
		Expect(during).To(HaveKey(HavePrefix("sf-1>")), "the stable storefront served beside its canary: %s", describeCounts(during))
		Expect(after).To(Equal(map[string]int{chainOf(2, 2, 2): after[chainOf(2, 2, 2)]}), "after the release only the new versions answer")
	})

	It("goes back as a whole, consumers first, when its middle member fails", func() {
		users := startTraffic(host, rate, 3*time.Minute)
		time.Sleep(2 * time.Second)
		states := sampleReleaseStates("shop-v3", members...)
		// checkout waits at a gate, so that the test fails it there.
		deliver("shop-v3", 3, func(name string, ms *msv1.Microservice) {
			if name == "checkout" {
				ms.Spec.Rollout.Canary.Steps[1].Pause.Duration = nil
			}
		})
		Eventually(func() msv1.RolloutPhase { return phase("checkout") }, 2*time.Minute, 250*time.Millisecond).Should(Equal(msv1.RolloutPhasePaused))
		Consistently(func() msv1.RolloutPhase { return phase("storefront") }, 2*time.Second, 250*time.Millisecond).
			ShouldNot(Equal(msv1.RolloutPhaseProgressing), "storefront waits for checkout")
		kubectl("annotate", "ms", "checkout", "-n", releaseNS, "--overwrite", fmt.Sprintf("%s=%d", msv1.AbortAnnotation, time.Now().UnixNano()))

		want := map[string]msv1.RolloutPhase{"ledger": msv1.RolloutPhaseRolledBack, "checkout": msv1.RolloutPhaseAborted, "storefront": msv1.RolloutPhaseAborted}
		for _, name := range members {
			Eventually(func() msv1.RolloutPhase { return phase(name) }, 2*time.Minute, 250*time.Millisecond).Should(Equal(want[name]), name)
			Eventually(func() int32 { return canaryPods(name) }, time.Minute, 250*time.Millisecond).Should(BeZero(), name)
			Expect(stableImage(name)).To(Equal(image(name, 2)), "%s's stable track never ran the failed release", name)
			ms := &msv1.Microservice{}
			Expect(k8s.Get(ctx, rkey(name), ms)).To(Succeed())
			Expect(ms.Status.Rollout.Release.FailedMember).To(Equal(releaseNS+"/checkout"), name)
		}
		time.Sleep(6 * time.Second)
		changes := states.stop()
		all := users.stop()
		end := time.Now()
		after := chains(users.rec, end.Add(-3*time.Second), end)
		report := fmt.Sprintf("release shop-v3, checkout aborted at its gate; transitions: %v\nusers: %+v\nchains in the last 3 s: %s", changes, all, describeCounts(after))
		GinkgoWriter.Println(report)
		AddReportEntry("failed release on the real data plane", report)

		Expect(at(changes, "storefront", msv1.ReleaseProgressing).IsZero()).To(BeTrue(), "storefront never started: %v", changes)
		back := func(m string) time.Time { return at(changes, m, msv1.ReleaseRolledBack) }
		Expect(back("checkout").After(back("ledger"))).To(BeFalse(), "ledger goes back after its consumer: %v", changes)
		Expect(failed(all)).To(BeZero(), "every request answered through the failed release: %+v; %s", all, users.failures())
		Expect(after).To(Equal(map[string]int{chainOf(2, 2, 2): after[chainOf(2, 2, 2)]}), "only the promoted versions answer after the release went back")
		Expect(after[chainOf(2, 2, 2)]).To(BeNumerically(">", 50))
	})
})
