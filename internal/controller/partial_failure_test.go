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
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
	"github.com/msvc-dev/msvc-operator/internal/builder"
)

// The partial-failure tests fail single requests of the operator, not whole
// processes: one read in an early step, one write of each kind at every
// step, and a random share of every request through whole rollouts.

// errInjected is what a request failed by a test gets before it is sent.
var errInjected = apierrors.NewServiceUnavailable("request failed by the test")

// errReplyLost is what a request gets whose reply the test dropped: the API
// server did what it asked, the operator does not know.
var errReplyLost = apierrors.NewTimeoutError("reply dropped by the test after the request was served", 1)

// withWatch lets interceptor.NewClient wrap a client without a Watch.
type withWatch struct{ client.Client }

func (withWatch) Watch(context.Context, client.ObjectList, ...client.ListOption) (watch.Interface, error) {
	return nil, errors.New("the reconciler does not watch through its client")
}

// failingReads fails every Get of a Deployment by the reconciler while on
// is set: the cache read of an early step (planRollout) errs.
type failingReads struct {
	mu sync.Mutex
	on bool
	n  int
}

func (f *failingReads) set(on bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.on = on
}

func (f *failingReads) failed() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.n
}

func (f *failingReads) wrap(c client.Client) client.Client {
	return interceptor.NewClient(withWatch{c}, interceptor.Funcs{
		Get: func(ctx context.Context, c client.WithWatch, k client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
			if _, ok := obj.(*appsv1.Deployment); ok {
				f.mu.Lock()
				on := f.on
				if on {
					f.n++
				}
				f.mu.Unlock()
				if on {
					return errInjected
				}
			}
			return c.Get(ctx, k, obj, opts...)
		},
	})
}

// requestFaults sits in front of one manager's API requests in one
// namespace (watches, events and leases pass). It fails a random share of
// them, from a seed, and the next request of each armed kind; half of the
// failures are served first and only lose their reply.
type requestFaults struct {
	next      http.RoundTripper
	namespace string

	mu       sync.Mutex
	rng      *rand.Rand
	rate     float64
	armed    map[string]int
	lost     map[string]bool
	then     map[string]string
	requests int
	failed   map[string]int
}

func newRequestFaults(namespace string, seed uint64, rate float64) *requestFaults {
	return &requestFaults{namespace: namespace, rng: rand.New(rand.NewPCG(seed, seed)), rate: rate, armed: map[string]int{}, lost: map[string]bool{}, then: map[string]string{}, failed: map[string]int{}}
}

func (f *requestFaults) wrap(rt http.RoundTripper) http.RoundTripper {
	f.next = rt
	return f
}

// requestKind names a request as "VERB resource", with "apply" for a
// server-side apply and the subresource after a slash, for example
// "apply httproutes", "PATCH microservices/status", "DELETE services".
func requestKind(req *http.Request) (namespace, kind string) {
	ns, resource := describePath(req.URL.Path)
	verb := req.Method
	if verb == http.MethodPatch && strings.HasPrefix(req.Header.Get("Content-Type"), "application/apply-patch") {
		verb = "apply"
	}
	return ns, verb + " " + resource
}

// arm fails the next request of kind (once, however often it is armed
// before that request comes).
func (f *requestFaults) arm(kind string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.armed[kind] = 1
}

// armLostThen makes the next request of kind be served and lose its reply,
// and then fails the next request of then.
func (f *requestFaults) armLostThen(kind, then string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.armed[kind] = 1
	f.lost[kind] = true
	f.then[kind] = then
}

// armedLeft is how many armed failures have not happened yet.
func (f *requestFaults) armedLeft() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.armed {
		n += c
	}
	return n
}

func (f *requestFaults) RoundTrip(req *http.Request) (*http.Response, error) {
	ns, kind := requestKind(req)
	_, resource, _ := strings.Cut(kind, " ")
	if ns != f.namespace || req.URL.Query().Get("watch") == "true" || resource == "events" || resource == "leases" {
		return f.next.RoundTrip(req)
	}
	f.mu.Lock()
	f.requests++
	armed := f.armed[kind] > 0
	fail := armed || f.rng.Float64() < f.rate
	if armed {
		f.armed[kind]--
	}
	lose := fail && f.rng.IntN(2) == 1
	if armed && f.lost[kind] {
		lose = true
		delete(f.lost, kind)
		if next, ok := f.then[kind]; ok {
			f.armed[next] = 1
			delete(f.then, kind)
		}
	}
	if fail {
		f.failed[kind]++
	}
	f.mu.Unlock()
	if !fail {
		return f.next.RoundTrip(req)
	}
	if !lose {
		return nil, errInjected
	}
	resp, err := f.next.RoundTrip(req)
	if err == nil {
		_ = resp.Body.Close()
	}
	return nil, errReplyLost
}

// report is the number of requests, and of failures by kind.
func (f *requestFaults) report() (int, map[string]int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	failed := map[string]int{}
	for k, v := range f.failed {
		failed[k] = v
	}
	return f.requests, failed
}

// anyGenerationCondition reads a condition of the live Microservice, even
// when the status is of an older generation than the spec.
func anyGenerationCondition(ms *msv1.Microservice, t string) func() *metav1.Condition {
	return func() *metav1.Condition {
		live := &msv1.Microservice{}
		if err := k8sClient.Get(ctx, key(ms), live); err != nil {
			return nil
		}
		return apimeta.FindStatusCondition(live.Status.Conditions, t)
	}
}

// eventCount is how many times the operator reported reason for ms,
// counting the repeats an event series folds in.
func eventCount(ms *msv1.Microservice, reason string) int {
	events := &eventsv1.EventList{}
	Expect(k8sClient.List(ctx, events, client.InNamespace(ms.Namespace))).To(Succeed())
	n := 0
	for _, e := range events.Items {
		if e.Regarding.Name != ms.Name || e.Reason != reason {
			continue
		}
		n++
		if e.Series != nil {
			n += int(e.Series.Count) - 1
		}
	}
	return n
}

// deliver plays the world (pods become ready, gates are promoted with their
// own value) until ms's rollout reaches phase, calling before each round.
func deliver(ms *msv1.Microservice, phase msv1.RolloutPhase, before func()) {
	deadline := time.Now().Add(2 * timeout)
	for rolloutStatus(ms)().Phase != phase {
		Expect(time.Now().Before(deadline)).To(BeTrue(), "the rollout reaches %s; it is at %+v, route %s",
			phase, rolloutStatus(ms)(), routeWeights(ms)())
		before()
		playWorld(ms)
		time.Sleep(200 * time.Millisecond)
	}
}

// chaosSeed is the seed of the second chaos run: MSVC_CHAOS_SEED, or one
// from the clock, printed so that a failure can be replayed.
func chaosSeed() uint64 {
	if s, err := strconv.ParseUint(os.Getenv("MSVC_CHAOS_SEED"), 10, 64); err == nil {
		return s
	}
	return uint64(time.Now().UnixNano())
}

var _ = Describe("Partial failures", func() {
	replaceSuiteManager()

	It("keep every field of the status that a failed reconcile did not observe, and advance observedGeneration only when one completes", func() {
		ns := newNamespace()
		reads := &failingReads{}
		runOwnManager(managerOptions{namespaces: []string{ns}, wrapClient: reads.wrap})
		ms := withCanary(withRoute(checkout(ns)), weightStep(20), manualGate(), weightStep(50))
		ms.Spec.Replicas = ptr.To[int32](4)
		guard, rec := canaryAtFirstGate(ms, 20)
		playGatewayController(ms, true, "Accepted", "")
		Eventually(condition(ms, msv1.ReadyCondition), timeout, interval).Should(HaveField("Status", metav1.ConditionTrue))
		before := &msv1.Microservice{}
		Expect(k8sClient.Get(ctx, key(ms), before)).To(Succeed())
		startedBefore := eventCount(ms, "RolloutStarted")

		By("failing every read of a Deployment, then changing the spec")
		reads.set(true)
		updateSpec(ms, func(s *msv1.MicroserviceSpec) { s.Route.Hostnames = []string{"www.example.com"} })
		Eventually(anyGenerationCondition(ms, msv1.ReconcilingCondition), timeout, interval).Should(And(
			haveCondition(metav1.ConditionTrue, msv1.ReasonRetrying), HaveField("Message", ContainSubstring("request failed by the test"))))
		Consistently(func(g Gomega) {
			live := &msv1.Microservice{}
			g.Expect(k8sClient.Get(ctx, key(ms), live)).To(Succeed())
			g.Expect(live.Status.ObservedGeneration).To(Equal(before.Status.ObservedGeneration), "observedGeneration of a reconcile that failed")
			g.Expect(live.Status.Rollout).To(Equal(before.Status.Rollout))
			g.Expect(live.Status.Replicas).To(Equal(before.Status.Replicas))
			g.Expect(live.Status.ReadyReplicas).To(Equal(before.Status.ReadyReplicas))
			for _, t := range []string{msv1.ReadyCondition, msv1.AvailableCondition, msv1.RouteAcceptedCondition} {
				c := anyGenerationCondition(ms, t)()
				g.Expect(c).NotTo(BeNil())
				g.Expect(c.Status).To(Equal(metav1.ConditionTrue), "%s while the reconcile fails", t)
			}
		}, 2*time.Second, interval).Should(Succeed())
		Expect(reads.failed()).To(BeNumerically(">=", 2), "the reconcile was retried")
		Expect(routeWeights(ms)()).To(Equal("checkout-stable=80/checkout-canary=20"))
		Expect(replicas(canaryKey(ms))()).To(Equal(int32(1)))

		By("letting reads through again: the reconcile completes at the same step")
		reads.set(false)
		Eventually(func() int64 {
			live := &msv1.Microservice{}
			Expect(k8sClient.Get(ctx, key(ms), live)).To(Succeed())
			return live.Status.ObservedGeneration
		}, timeout, interval).Should(Equal(before.Generation + 1))
		Eventually(condition(ms, msv1.ReconcilingCondition), timeout, interval).Should(HaveField("Reason", msv1.ReasonRolloutInProgress))
		Expect(rolloutStatus(ms)()).To(Equal(*before.Status.Rollout))
		Expect(eventCount(ms, "RolloutStarted")).To(Equal(startedBefore), "the canary did not start again")
		guard.Check()
		rec.Check()
	})

	It("keep traffic on ready pods and take every step once when one request of each kind fails at every step", func() {
		ns := newNamespace()
		kinds := []string{"apply httproutes", "apply deployments", "PATCH microservices/status"}
		f := newRequestFaults(ns, 1, 0)
		runOwnManager(managerOptions{namespaces: []string{ns}, wrap: f.wrap})
		ms := withCanary(withRoute(checkout(ns)), weightStep(20), manualGate(), weightStep(50), pauseFor(time.Second))
		ms.Spec.Replicas = ptr.To[int32](4)
		guard, rec := canaryAtFirstGate(ms, 20)

		By("failing, at every state the rollout reaches, the next request of each kind")
		last := ""
		deliver(ms, msv1.RolloutPhaseSucceeded, func() {
			if at := stepOf(rolloutStatus(ms)()); at != last {
				last = at
				for _, k := range kinds {
					f.arm(k)
				}
			}
		})
		requests, failed := f.report()
		GinkgoWriter.Printf("Requests: %d; failed by kind: %v\n", requests, failed)
		AddReportEntry("one failure of each kind at every step", fmt.Sprintf("%d requests, failed %v", requests, failed))
		for _, k := range kinds {
			Expect(failed[k]).To(BeNumerically(">=", 2), "%s failed at several steps", k)
		}
		Expect(routeWeights(ms)()).To(Equal("checkout-stable=100/checkout-canary=0"))
		Expect(image(key(ms))()).To(Equal("ghcr.io/acme/checkout:2.0.0"))
		Eventually(func() int { return eventCount(ms, "RolloutSucceeded") }, timeout, interval).Should(Equal(1))
		Consistently(func() int { return eventCount(ms, "RolloutSucceeded") }, time.Second, interval).Should(Equal(1))
		guard.Check()
		rec.Check()
	})

	It("tell a transition once when its status write lost the reply and the read that checks it failed too", func() {
		ns := newNamespace()
		f := newRequestFaults(ns, 1, 0)
		runOwnManager(managerOptions{namespaces: []string{ns}, wrap: f.wrap})
		ms := withCanary(withRoute(checkout(ns)), weightStep(20), manualGate(), weightStep(50), pauseFor(time.Second))
		ms.Spec.Replicas = ptr.To[int32](4)
		guard, rec := canaryAtFirstGate(ms, 20)
		Expect(eventCount(ms, "RolloutPromoted")).To(Equal(0))

		By("losing the reply of the status write that records the promotion, and failing the read after it")
		f.armLostThen("PATCH microservices/status", "GET microservices")
		// The rollout recorder wants each gate promoted with "gate-<step>".
		annotate(ms, msv1.PromoteAnnotation, "gate-1")
		Eventually(rolloutStatus(ms), timeout, interval).Should(HaveField("HandledPromote", "gate-1"))
		Eventually(f.armedLeft, timeout, interval).Should(BeZero(), "both armed failures happened")
		_, failed := f.report()
		Expect(failed).To(HaveKeyWithValue("PATCH microservices/status", 1))
		Expect(failed).To(HaveKeyWithValue("GET microservices", 1))
		Eventually(func() int { return eventCount(ms, "RolloutPromoted") }, timeout, interval).Should(Equal(1))
		Consistently(func() int { return eventCount(ms, "RolloutPromoted") }, time.Second, interval).Should(Equal(1))
		guard.Check()
		rec.Check()
	})

	It("keep traffic on ready pods when the strategy is switched in the middle of a canary, both ways, with a Service delete failing", func() {
		ns := newNamespace()
		f := newRequestFaults(ns, 2, 0)
		runOwnManager(managerOptions{namespaces: []string{ns}, wrap: f.wrap})
		ms := withCanary(withRoute(checkout(ns)), weightStep(50), manualGate(), weightStep(80))
		ms.Spec.Replicas = ptr.To[int32](4)
		guard, rec := canaryAtFirstGate(ms, 50)

		By("switching to RollingUpdate at 50%, with the first Service delete failing")
		f.arm("DELETE services")
		updateSpec(ms, func(s *msv1.MicroserviceSpec) { s.Rollout = &msv1.Rollout{Strategy: msv1.RollingUpdateStrategy} })
		Eventually(routeWeights(ms), timeout, interval).Should(Equal("checkout=1"))
		Eventually(func() bool {
			return apierrors.IsNotFound(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: builder.TrackServiceName(ms, builder.TrackCanary)}, &corev1.Service{}))
		}, timeout, interval).Should(BeTrue(), "the track Services go, after the route")
		Eventually(func() bool { return apierrors.IsNotFound(k8sClient.Get(ctx, canaryKey(ms), &appsv1.Deployment{})) }, timeout, interval).Should(BeTrue())
		Expect(f.armedLeft()).To(Equal(0), "the Service delete failed once")
		playDeployment(key(ms))
		Eventually(image(key(ms)), timeout, interval).Should(Equal("ghcr.io/acme/checkout:2.0.0"))

		By("switching back to Canary with a new version: the canary starts with no traffic")
		updateSpec(ms, func(s *msv1.MicroserviceSpec) {
			s.Image = "ghcr.io/acme/checkout:3.0.0"
			s.Rollout = &msv1.Rollout{Strategy: msv1.CanaryStrategy, Canary: &msv1.Canary{Steps: []msv1.CanaryStep{weightStep(50), manualGate()}}}
		})
		Eventually(routeWeights(ms), timeout, interval).Should(Equal("checkout-stable=100/checkout-canary=0"))
		Eventually(image(canaryKey(ms)), timeout, interval).Should(Equal("ghcr.io/acme/checkout:3.0.0"))
		playDeployment(canaryKey(ms))
		Eventually(routeWeights(ms), timeout, interval).Should(Equal("checkout-stable=50/checkout-canary=50"))
		guard.Check()
		rec.Check()
	})

	chaos := func(seed uint64) {
		// Said first, so that a failure anywhere below can be replayed.
		By(fmt.Sprintf("chaos seed %d (replay with MSVC_CHAOS_SEED=%d)", seed, seed))
		ns := newNamespace()
		f := newRequestFaults(ns, seed, 0.05)
		runOwnManager(managerOptions{namespaces: []string{ns}, wrap: f.wrap})
		ms := withCanary(withRoute(checkout(ns)), weightStep(20), manualGate(), weightStep(50), pauseFor(time.Second))
		ms.Spec.Replicas = ptr.To[int32](4)
		guard := guardTraffic(ms)
		DeferCleanup(guard.stop)
		rec := recordRollout(ms)
		DeferCleanup(rec.stop)
		startCanary(ms)

		By("delivering 2.0.0, 4.0.0 and 6.0.0 through a gate and a promotion, and rolling 3.0.0 and 5.0.0 back from the gate")
		stable := "ghcr.io/acme/checkout:2.0.0"
		deliver(ms, msv1.RolloutPhaseSucceeded, func() {})
		for v := 3; v <= 6; v++ {
			Eventually(routeWeights(ms), timeout, interval).Should(Equal("checkout-stable=100/checkout-canary=0"))
			Expect(image(key(ms))()).To(Equal(stable))
			// The gates of every rollout are promoted with the values
			// "gate-<step>": the last ones are handled while nothing is
			// delivered, so that the next rollout's gates wait for theirs.
			annotate(ms, msv1.PromoteAnnotation, fmt.Sprintf("idle-%d", v))
			Eventually(rolloutStatus(ms), timeout, interval).Should(HaveField("HandledPromote", fmt.Sprintf("idle-%d", v)))
			next := fmt.Sprintf("ghcr.io/acme/checkout:%d.0.0", v)
			updateSpec(ms, func(s *msv1.MicroserviceSpec) { s.Image = next })
			if v%2 == 0 {
				deliver(ms, msv1.RolloutPhaseSucceeded, func() {})
				stable = next
				continue
			}
			// Only pods become ready: nothing promotes this rollout's gate.
			Eventually(func() msv1.RolloutPhase {
				playPods(ms)
				return rolloutStatus(ms)().Phase
			}, 2*timeout, 200*time.Millisecond).Should(Equal(msv1.RolloutPhasePaused))
			annotate(ms, msv1.AbortAnnotation, next)
			Eventually(rolloutStatus(ms), 2*timeout, interval).Should(HaveField("Phase", msv1.RolloutPhaseAborted))
			Eventually(replicas(canaryKey(ms)), timeout, interval).Should(Equal(int32(0)))
		}
		Eventually(routeWeights(ms), timeout, interval).Should(Equal("checkout-stable=100/checkout-canary=0"))
		Expect(image(key(ms))()).To(Equal("ghcr.io/acme/checkout:6.0.0"))

		for reason, want := range map[string]int{"RolloutStarted": 5, "RolloutSucceeded": 3, "RolloutAborted": 2} {
			Eventually(func() int { return eventCount(ms, reason) }, timeout, interval).Should(Equal(want), reason)
		}
		Consistently(func() int { return eventCount(ms, "RolloutSucceeded") }, time.Second, interval).Should(Equal(3))
		guard.Check()
		rec.Check()

		requests, failed := f.report()
		injected := 0
		for _, n := range failed {
			injected += n
		}
		guard.mu.Lock()
		routeVersions := guard.versions
		guard.mu.Unlock()
		rec.mu.Lock()
		rolloutVersions := rec.versions
		rec.mu.Unlock()
		GinkgoWriter.Printf("Chaos seed %d: %d requests, %d failed or lost (%v); guard checked %d route versions, recorder %d rollout versions\n",
			seed, requests, injected, failed, routeVersions, rolloutVersions)
		AddReportEntry(fmt.Sprintf("chaos seed %d", seed), fmt.Sprintf("%d requests, %d failed or lost, %d route and %d rollout versions checked",
			requests, injected, routeVersions, rolloutVersions))
		Expect(injected).To(BeNumerically(">", 0), "the chaos injected failures")
	}

	It("keep traffic on ready pods and complete each rollout once when 5% of requests fail or lose their reply (fixed seed)", func() {
		chaos(20261202)
	})

	It("keep traffic on ready pods and complete each rollout once when 5% of requests fail or lose their reply (seed of this run)", func() {
		chaos(chaosSeed())
	})
})
