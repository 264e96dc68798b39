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
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
	"github.com/msvc-dev/msvc-operator/internal/kubectlmsvc"
)

// releaseTrio is storefront -> checkout -> ledger (each calls the next),
// canaries of two weight steps, created and settled in a new namespace,
// their Deployments played by a Deployment controller until the spec ends.
func releaseTrio(middleSteps ...msv1.CanaryStep) (ns string, members []*msv1.Microservice) {
	ns = newNamespace()
	return ns, releaseTrioIn(ns, middleSteps...)
}

// releaseTrioIn is releaseTrio in namespace ns.
func releaseTrioIn(ns string, middleSteps ...msv1.CanaryStep) (members []*msv1.Microservice) {
	steps := []msv1.CanaryStep{weightStep(20), pauseFor(time.Second), weightStep(50), pauseFor(time.Second)}
	for _, name := range []string{"ledger", "checkout", "storefront"} {
		ms := checkout(ns)
		ms.Name = name
		ms.Spec.Image = "ghcr.io/acme/" + name + ":1.0.0"
		s := steps
		if name == "checkout" && len(middleSteps) > 0 {
			s = middleSteps
		}
		withCanary(ms, s...)
		if n := len(members); n > 0 {
			ms.Spec.Dependencies = []msv1.Dependency{{Name: members[n-1].Name}}
		}
		members = append(members, ms)
	}
	play, stop := context.WithCancel(ctx)
	DeferCleanup(stop)
	for _, ms := range members {
		Expect(k8sClient.Create(ctx, ms)).To(Succeed())
		playDeploymentsUntil(play, ms, 100*time.Millisecond)
	}
	for _, ms := range members {
		Eventually(func(g Gomega) {
			got := &msv1.Microservice{}
			g.Expect(k8sClient.Get(ctx, key(ms), got)).To(Succeed())
			g.Expect(got.Status.Rollout).NotTo(BeNil())
			g.Expect(got.Status.Rollout.Phase).To(Equal(msv1.RolloutPhaseIdle))
			g.Expect(conditionStatus(got, msv1.AvailableCondition)).To(Equal("True"))
		}, timeout, interval).Should(Succeed(), ms.Name)
	}
	return members
}

// releaseWatch records, from a watch of the namespace, every change of a
// member's state in the release and every version of the canary
// Deployments, and judges each as it comes: no canary pod of a consumer
// before its dependency passed its steps, no promotion before every member
// passed and the dependencies are promoted, consumers rolled back before
// their dependencies, and a consumer's canary pods calling a dependency's
// canary while that one runs in the release.
type releaseWatch struct {
	mu         sync.Mutex
	state      map[string]msv1.ReleaseMemberState
	transition []string
	violations []string
	deps       map[string]string // consumer -> dependency
}

func watchRelease(ns string) *releaseWatch {
	rw := &releaseWatch{
		state: map[string]msv1.ReleaseMemberState{},
		deps:  map[string]string{"storefront": "checkout", "checkout": "ledger"},
	}
	wc, err := client.NewWithWatch(env.cfg, client.Options{Scheme: scheme})
	Expect(err).NotTo(HaveOccurred())
	mw, err := wc.Watch(ctx, &msv1.MicroserviceList{}, client.InNamespace(ns))
	Expect(err).NotTo(HaveOccurred())
	dw, err := wc.Watch(ctx, &appsv1.DeploymentList{}, client.InNamespace(ns))
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(mw.Stop)
	DeferCleanup(dw.Stop)
	go func() {
		defer GinkgoRecover()
		for ev := range mw.ResultChan() {
			if ms, ok := ev.Object.(*msv1.Microservice); ok && ev.Type != watch.Deleted {
				rw.microservice(ms)
			}
		}
	}()
	go func() {
		defer GinkgoRecover()
		for ev := range dw.ResultChan() {
			if d, ok := ev.Object.(*appsv1.Deployment); ok && ev.Type != watch.Deleted {
				rw.deployment(ns, d)
			}
		}
	}()
	return rw
}

func (rw *releaseWatch) passed(name string) bool {
	s := rw.state[name]
	return s == msv1.ReleasePassed || s == msv1.ReleasePromoting || s == msv1.ReleasePromoted
}

func (rw *releaseWatch) microservice(ms *msv1.Microservice) {
	rw.mu.Lock()
	defer rw.mu.Unlock()
	st := ms.Status.Rollout
	if st == nil || st.Release == nil {
		return
	}
	was, now := rw.state[ms.Name], st.Release.State
	if was == now {
		return
	}
	rw.state[ms.Name] = now
	rw.transition = append(rw.transition, fmt.Sprintf("%s %s", ms.Name, now))
	fail := func(format string, args ...any) {
		rw.violations = append(rw.violations, fmt.Sprintf("%s %s: %s", ms.Name, now, fmt.Sprintf(format, args...)))
	}
	switch now {
	case msv1.ReleasePromoting, msv1.ReleasePromoted:
		for _, other := range []string{"ledger", "checkout", "storefront"} {
			if other != ms.Name && !rw.passed(other) {
				fail("promoted while %s is %q", other, rw.state[other])
			}
		}
		if d := rw.deps[ms.Name]; d != "" && rw.state[d] != msv1.ReleasePromoted && now == msv1.ReleasePromoting {
			fail("promoting before its dependency %s is promoted (%q)", d, rw.state[d])
		}
	case msv1.ReleaseRolledBack:
		if st.Release.FailedMember == "" {
			fail("rolled back without naming the member that failed")
		}
		for c, d := range rw.deps {
			if d == ms.Name && st.Release.FailedMember != ms.Namespace+"/"+ms.Name {
				if s := rw.state[c]; s != msv1.ReleaseRolledBack && s != "" {
					fail("rolled back before its consumer %s (%q)", c, s)
				}
			}
		}
	}
}

func (rw *releaseWatch) deployment(ns string, d *appsv1.Deployment) {
	name, ok := strings.CutSuffix(d.Name, "-canary")
	dep := rw.deps[name]
	if !ok || dep == "" || ptr.Deref(d.Spec.Replicas, 0) == 0 || len(d.Spec.Template.Spec.Containers) == 0 {
		return
	}
	rw.mu.Lock()
	defer rw.mu.Unlock()
	if !strings.HasSuffix(d.Spec.Template.Spec.Containers[0].Image, ":2.0.0") {
		return
	}
	if s := rw.state[dep]; !rw.passed(dep) && s != msv1.ReleaseRolledBack {
		rw.violations = append(rw.violations, fmt.Sprintf("%s has canary pods of the new version while %s is %q", d.Name, dep, s))
	}
	url := ""
	for _, e := range d.Spec.Template.Spec.Containers[0].Env {
		if e.Name == strings.ToUpper(dep)+"_URL" {
			url = e.Value
		}
	}
	canaryURL := fmt.Sprintf("http://%s-canary.%s.svc.cluster.local:80", dep, ns)
	s := rw.state[dep]
	if (s == msv1.ReleasePassed || s == msv1.ReleaseProgressing) && url != canaryURL {
		rw.violations = append(rw.violations, fmt.Sprintf("%s calls %s at %q while its canary runs (%s), want %s", d.Name, dep, url, s, canaryURL))
	}
}

func (rw *releaseWatch) report() (transitions, violations []string) {
	rw.mu.Lock()
	defer rw.mu.Unlock()
	return slices.Clone(rw.transition), slices.Clone(rw.violations)
}

// frames are the drawings so far, split at each head (the first is what
// came before the first head).
func (d *drawings) frames(head string) []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return strings.Split(d.buf.String(), head)
}

// deliverRelease labels every member with release and gives it a new image,
// one update each, as a kubectl apply of the three files does.
func deliverRelease(members []*msv1.Microservice, release string, mutate ...func(*msv1.Microservice)) {
	for _, ms := range members {
		Eventually(func() error {
			live := &msv1.Microservice{}
			if err := k8sClient.Get(ctx, key(ms), live); err != nil {
				return err
			}
			if live.Labels == nil {
				live.Labels = map[string]string{}
			}
			live.Labels[msv1.ReleaseLabel] = release
			live.Spec.Image = "ghcr.io/acme/" + ms.Name + ":2.0.0"
			for _, m := range mutate {
				m(live)
			}
			return k8sClient.Update(ctx, live)
		}, timeout, interval).Should(Succeed())
	}
}

func envOf(d *appsv1.Deployment, name string) string {
	for _, e := range d.Spec.Template.Spec.Containers[0].Env {
		if e.Name == name {
			return e.Value
		}
	}
	return ""
}

var _ = Describe("Releases", func() {
	It("roll three services out in dependency order, the consumer's canary calling its dependency's canary", func() {
		ns, members := releaseTrio()
		rw := watchRelease(ns)
		wc, err := client.NewWithWatch(env.cfg, client.Options{Scheme: scheme})
		Expect(err).NotTo(HaveOccurred())
		drawn := &drawings{}
		watchCtx, stopWatch := context.WithCancel(ctx)
		watched := make(chan error, 1)
		go func() {
			watched <- kubectlmsvc.WatchRelease(watchCtx, wc, ns, "checkout-v2", kubectlmsvc.Printer{Out: drawn})
		}()
		time.Sleep(300 * time.Millisecond) // the watches' first events are the versions before the change
		deliverRelease(members, "checkout-v2")

		By("the new storefront canary calls the checkout canary; its stable pods keep calling checkout")
		storefront := members[2]
		Eventually(func(g Gomega) {
			d := &appsv1.Deployment{}
			g.Expect(k8sClient.Get(ctx, canaryKey(storefront), d)).To(Succeed())
			g.Expect(ptr.Deref(d.Spec.Replicas, 0)).To(BeNumerically(">", 0))
			g.Expect(envOf(d, "CHECKOUT_URL")).To(Equal("http://checkout-canary." + ns + ".svc.cluster.local:80"))
			stable := &appsv1.Deployment{}
			g.Expect(k8sClient.Get(ctx, key(storefront), stable)).To(Succeed())
			g.Expect(envOf(stable, "CHECKOUT_URL")).To(Equal("http://checkout." + ns + ".svc.cluster.local:80"))
		}, 2*timeout, 50*time.Millisecond).Should(Succeed())

		for _, ms := range members {
			Eventually(func(g Gomega) {
				got := &msv1.Microservice{}
				g.Expect(k8sClient.Get(ctx, key(ms), got)).To(Succeed())
				g.Expect(got.Status.Rollout.Phase).To(Equal(msv1.RolloutPhaseSucceeded))
				g.Expect(got.Status.Rollout.Release).NotTo(BeNil())
				g.Expect(got.Status.Rollout.Release.State).To(Equal(msv1.ReleasePromoted))
			}, 3*timeout, interval).Should(Succeed(), ms.Name)
		}
		transitions, violations := rw.report()
		GinkgoWriter.Printf("release transitions:\n%s\n", strings.Join(transitions, "\n"))
		Expect(violations).To(BeEmpty(), "transitions:\n%s", strings.Join(transitions, "\n"))
		idx := func(t string) int { return slices.Index(transitions, t) }
		Expect(idx("ledger Passed")).To(BeNumerically("<", idx("checkout Progressing")), "%v", transitions)
		Expect(idx("checkout Passed")).To(BeNumerically("<", idx("storefront Progressing")), "%v", transitions)
		Expect(idx("ledger Promoted")).To(BeNumerically("<", idx("checkout Promoting")), "%v", transitions)
		Expect(idx("checkout Promoted")).To(BeNumerically("<", idx("storefront Promoting")), "%v", transitions)

		By("kubectl msvc release get --watch drew the release as it went, and ends on the promoted release")
		Eventually(func() string {
			frames := drawn.frames("release checkout-v2")
			return frames[len(frames)-1]
		}, timeout, interval).Should(HavePrefix(": 3 members, 3 changed, Promoted"))
		frames := drawn.frames("release checkout-v2")
		Expect(strings.Join(frames, "")).To(ContainSubstring("(its canary, from this canary)"), "a frame shows a canary calling its dependency's canary")
		stopWatch()
		Eventually(watched, 5*time.Second).Should(Receive(BeNil()))
		GinkgoWriter.Printf("kubectl msvc release get --watch drew %d frames\n", len(frames)-1)

		By("kubectl msvc release get draws the promoted release, dependencies first")
		var out bytes.Buffer
		Expect(kubectlmsvc.ReleaseGet(ctx, k8sClient, ns, "checkout-v2", kubectlmsvc.Printer{Out: &out})).To(Succeed())
		GinkgoWriter.Printf("kubectl msvc release get checkout-v2:\n%s", out.String())
		Expect(out.String()).To(HavePrefix("release checkout-v2: 3 members, 3 changed, Promoted\n"))
		Expect(strings.Index(out.String(), ns+"/ledger")).To(BeNumerically("<", strings.Index(out.String(), ns+"/storefront")))
	})

	It("roll the whole release back, consumers first, when its middle member fails", func() {
		ns, members := releaseTrio(weightStep(20), manualGate(), weightStep(50))
		rw := watchRelease(ns)
		time.Sleep(300 * time.Millisecond)
		deliverRelease(members, "checkout-v3")
		checkoutMs := members[1]
		Eventually(func(g Gomega) {
			got := &msv1.Microservice{}
			g.Expect(k8sClient.Get(ctx, key(checkoutMs), got)).To(Succeed())
			g.Expect(got.Status.Rollout.Phase).To(Equal(msv1.RolloutPhasePaused))
			g.Expect(got.Status.Rollout.Release.State).To(Equal(msv1.ReleaseProgressing))
		}, 2*timeout, interval).Should(Succeed())
		annotate(checkoutMs, msv1.AbortAnnotation, "checkout-is-broken")

		want := map[string]msv1.RolloutPhase{"ledger": msv1.RolloutPhaseRolledBack, "checkout": msv1.RolloutPhaseAborted, "storefront": msv1.RolloutPhaseAborted}
		for _, ms := range members {
			Eventually(func(g Gomega) {
				got := &msv1.Microservice{}
				g.Expect(k8sClient.Get(ctx, key(ms), got)).To(Succeed())
				g.Expect(got.Status.Rollout.Phase).To(Equal(want[ms.Name]))
				g.Expect(got.Status.Rollout.Release.State).To(Equal(msv1.ReleaseRolledBack))
				g.Expect(got.Status.Rollout.Release.FailedMember).To(Equal(ns + "/checkout"))
				stable := &appsv1.Deployment{}
				g.Expect(k8sClient.Get(ctx, key(ms), stable)).To(Succeed())
				g.Expect(stable.Spec.Template.Spec.Containers[0].Image).To(HaveSuffix(":1.0.0"), "the stable track never ran the release")
				canary := &appsv1.Deployment{}
				g.Expect(k8sClient.Get(ctx, canaryKey(ms), canary)).To(Succeed())
				g.Expect(ptr.Deref(canary.Spec.Replicas, -1)).To(BeZero())
			}, 2*timeout, interval).Should(Succeed(), ms.Name)
		}
		transitions, violations := rw.report()
		GinkgoWriter.Printf("release transitions:\n%s\n", strings.Join(transitions, "\n"))
		Expect(violations).To(BeEmpty(), "transitions:\n%s", strings.Join(transitions, "\n"))
		Expect(transitions).NotTo(ContainElement("storefront Progressing"), "the consumer never started")

		By("each member's event names the release and the member that failed")
		Eventually(func(g Gomega) {
			events := &eventsv1.EventList{}
			g.Expect(k8sClient.List(ctx, events, client.InNamespace(ns))).To(Succeed())
			told := map[string]string{}
			for _, e := range events.Items {
				if e.Reason == "RolloutRolledBack" || e.Reason == "RolloutAborted" {
					told[e.Regarding.Name] = e.Note
				}
			}
			g.Expect(told["ledger"]).To(ContainSubstring("release checkout-v3 went back after " + ns + "/checkout failed"))
			g.Expect(told["storefront"]).To(ContainSubstring("not delivered: release checkout-v3 went back after " + ns + "/checkout failed"))
			g.Expect(told["checkout"]).To(ContainSubstring("aborted by request"))
		}, timeout, interval).Should(Succeed())
	})
})

var _ = Describe("Releases under faults", func() {
	replaceSuiteManager()

	It("keep their order and complete once when 5% of the operator's requests fail or lose their reply (fixed seed)", func() {
		const seed = 20261205
		By(fmt.Sprintf("chaos seed %d", seed))
		ns := newNamespace()
		f := newRequestFaults(ns, seed, 0.05)
		runOwnManager(managerOptions{namespaces: []string{ns}, wrap: f.wrap})
		members := releaseTrioIn(ns)
		rw := watchRelease(ns)
		time.Sleep(300 * time.Millisecond)
		deliverRelease(members, "checkout-v2")
		for _, ms := range members {
			Eventually(func(g Gomega) {
				got := &msv1.Microservice{}
				g.Expect(k8sClient.Get(ctx, key(ms), got)).To(Succeed())
				g.Expect(got.Status.Rollout.Phase).To(Equal(msv1.RolloutPhaseSucceeded))
				g.Expect(got.Status.Rollout.Release.State).To(Equal(msv1.ReleasePromoted))
			}, 4*timeout, interval).Should(Succeed(), ms.Name)
		}
		requests, failed := f.report()
		transitions, violations := rw.report()
		GinkgoWriter.Printf("chaos seed %d: %d requests, failed or lost %v\nrelease transitions:\n%s\n", seed, requests, failed, strings.Join(transitions, "\n"))
		Expect(failed).NotTo(BeEmpty(), "the faults were injected")
		Expect(violations).To(BeEmpty(), "transitions:\n%s", strings.Join(transitions, "\n"))
		for _, m := range []string{"ledger", "checkout", "storefront"} {
			for _, s := range []msv1.ReleaseMemberState{msv1.ReleasePassed, msv1.ReleasePromoted} {
				Expect(slices.Index(transitions, m+" "+string(s))).To(BeNumerically(">=", 0), "%s went through %s: %v", m, s, transitions)
			}
		}
		idx := func(t string) int { return slices.Index(transitions, t) }
		Expect(idx("ledger Passed")).To(BeNumerically("<", idx("checkout Progressing")), "%v", transitions)
		Expect(idx("checkout Passed")).To(BeNumerically("<", idx("storefront Progressing")), "%v", transitions)
		Expect(idx("ledger Promoted")).To(BeNumerically("<", idx("checkout Promoting")), "%v", transitions)
		Expect(idx("checkout Promoted")).To(BeNumerically("<", idx("storefront Promoting")), "%v", transitions)
	})
})

var _ = Describe("Releases judged by a real Prometheus", Ordered, func() {
	var ratios *successRatios
	var promURL string
	BeforeAll(func() {
		r, prom := startRatiosPrometheus()
		ratios, promURL = r, prom.URL
	})

	It("roll the whole release back, consumers first, when its middle member's analysis fails", func() {
		ns := newNamespace()
		ratios.set(ns, "checkout", 0.5)
		members := releaseTrioIn(ns)
		rw := watchRelease(ns)
		time.Sleep(300 * time.Millisecond)
		deliverRelease(members, "checkout-v4", func(ms *msv1.Microservice) {
			if ms.Name != "checkout" {
				return
			}
			ms.Spec.Rollout.Canary.Steps = []msv1.CanaryStep{weightStep(20), {Analysis: &msv1.AnalysisStep{}}, weightStep(50)}
			ms.Spec.Rollout.Canary.Analysis = &msv1.Analysis{
				Interval: &metav1.Duration{Duration: time.Second},
				Count:    ptr.To[int32](2),
				// Prometheus takes about 5 s to scrape a new target first:
				// no data is inconclusive until then.
				InconclusiveLimit: ptr.To[int32](30),
				Prometheus:        &msv1.PrometheusProvider{Address: promURL},
				Metrics: []msv1.Metric{{
					Name:             "success-rate",
					Query:            `request_success_ratio{namespace="{{ .Namespace }}",name="{{ .Name }}",track="{{ .Track }}"}`,
					SuccessCondition: msv1.SuccessCondition{Min: ptr.To("0.99")},
				}},
			}
		})
		want := map[string]msv1.RolloutPhase{"ledger": msv1.RolloutPhaseRolledBack, "checkout": msv1.RolloutPhaseRolledBack, "storefront": msv1.RolloutPhaseAborted}
		for _, ms := range members {
			Eventually(func(g Gomega) {
				got := &msv1.Microservice{}
				g.Expect(k8sClient.Get(ctx, key(ms), got)).To(Succeed())
				g.Expect(got.Status.Rollout.Phase).To(Equal(want[ms.Name]))
				g.Expect(got.Status.Rollout.Release.FailedMember).To(Equal(ns + "/checkout"))
				stable := &appsv1.Deployment{}
				g.Expect(k8sClient.Get(ctx, key(ms), stable)).To(Succeed())
				g.Expect(stable.Spec.Template.Spec.Containers[0].Image).To(HaveSuffix(":1.0.0"))
			}, 3*timeout, interval).Should(Succeed(), ms.Name)
		}
		got := &msv1.Microservice{}
		Expect(k8sClient.Get(ctx, key(members[1]), got)).To(Succeed())
		Expect(got.Status.Rollout.Message).To(ContainSubstring("success-rate=0.5"), "checkout failed its own analysis")
		Expect(got.Status.Rollout.Release.FailedMember).To(Equal(ns + "/checkout"))
		transitions, violations := rw.report()
		GinkgoWriter.Printf("release transitions:\n%s\n", strings.Join(transitions, "\n"))
		Expect(violations).To(BeEmpty(), "transitions:\n%s", strings.Join(transitions, "\n"))
		Expect(transitions).NotTo(ContainElement("storefront Progressing"), "the consumer never started")
	})
})
