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
	"context"
	"fmt"
	"math"
	"net/http"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
	"github.com/msvc-dev/msvc-operator/test/dataplane/load"
)

// traffic is a steady stream of real requests through the local Gateway's
// listener (on the host's loopback), bounded in time and count.
type traffic struct {
	rec    *load.Recorder
	rate   int
	cancel context.CancelFunc
	done   chan struct{}
	sum    load.Summary
	err    error
}

func startTraffic(host string, rate int, limit time.Duration) *traffic {
	return startTrafficWith(host, rate, limit, nil)
}

// startTrafficWith is startTraffic with header on every request.
func startTrafficWith(host string, rate int, limit time.Duration, header http.Header) *traffic {
	c, cancel := context.WithCancel(context.Background())
	t := &traffic{rec: load.NewRecorder(), rate: rate, cancel: cancel, done: make(chan struct{})}
	cfg := load.Config{URL: gatewayURL + "/", Host: host, Rate: rate, Duration: limit,
		MaxRequests: rate * int(limit.Seconds()), Recorder: t.rec, Header: header}
	go func() {
		defer close(t.done)
		t.sum, t.err = load.Run(c, cfg, nil)
	}()
	return t
}

// stop ends the stream and returns the totals of the whole run.
func (t *traffic) stop() load.Totals {
	t.cancel()
	<-t.done
	ExpectWithOffset(1, t.err).NotTo(HaveOccurred())
	return t.rec.Window(time.Time{}, time.Now().Add(time.Hour))
}

// failures spells out the first failed requests of the run, for a failure
// message: when each came, its status or transport error, who answered
// and what they said.
func (t *traffic) failures() string {
	var out []string
	for _, r := range t.rec.Failures(time.Time{}, time.Now().Add(time.Hour), 10) {
		what := fmt.Sprintf("%d %q", r.Code, r.Detail)
		if r.Code == 0 {
			what = "transport error: " + r.Error
		}
		out = append(out, fmt.Sprintf("%s %s (version %q, chain %q)", r.At.Format("15:04:05.000"), what, r.Version, r.Chain))
	}
	if len(out) == 0 {
		return "no failed request"
	}
	return "first failed requests: " + strings.Join(out, "; ")
}

// weightChange is a canary weight the route carried from At on.
type weightChange struct {
	At     time.Time
	Weight int32
}

// weightSampler records the canary weight of a route every 100 ms, for at
// most 10 minutes.
type weightSampler struct {
	mu      sync.Mutex
	changes []weightChange
	stopCh  chan struct{}
	done    chan struct{}
}

func sampleWeights(name string) *weightSampler {
	w := &weightSampler{stopCh: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer GinkgoRecover()
		defer close(w.done)
		last := int32(-1)
		for deadline := time.Now().Add(10 * time.Minute); time.Now().Before(deadline); {
			r := &gwv1.HTTPRoute{}
			if tkey := (client.ObjectKey{Namespace: trafficNS, Name: name}); k8s.Get(ctx, tkey, r) == nil && len(r.Spec.Rules) > 0 {
				weight := int32(0)
				for _, b := range r.Spec.Rules[len(r.Spec.Rules)-1].BackendRefs {
					if strings.HasSuffix(string(b.Name), "-canary") {
						weight = ptr.Deref(b.Weight, 1)
					}
				}
				if weight != last {
					w.mu.Lock()
					w.changes = append(w.changes, weightChange{At: time.Now(), Weight: weight})
					w.mu.Unlock()
					last = weight
				}
			}
			select {
			case <-w.stopCh:
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	return w
}

func (w *weightSampler) stop() []weightChange {
	close(w.stopCh)
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]weightChange(nil), w.changes...)
}

// failed counts the responses a user would call failed: no answer, or an
// answer other than 200.
func failed(t load.Totals) int {
	n := 0
	for code, c := range t.ByCode {
		if code != 200 {
			n += c
		}
	}
	return n
}

const trafficNS = "e2e-traffic"

// The traffic claims, proven on the real data plane: Traefik obeys the
// route's weights, a healthy canary costs no request, and a bad one is
// rolled back on the error rate that Traefik measured, within a bound.
var _ = Describe("Real traffic through a real Gateway", Ordered, func() {
	const host = "web.e2e.test"
	const rate = 100
	const errorRate = 0.5 // the test app's default for a tag ending in -bad
	interval := 4 * time.Second
	tkey := func(name string) client.ObjectKey { return client.ObjectKey{Namespace: trafficNS, Name: name} }
	getWeb := func() *msv1.Microservice {
		ms := &msv1.Microservice{}
		ExpectWithOffset(1, k8s.Get(ctx, tkey("web"), ms)).To(Succeed())
		return ms
	}
	// webPhaseAtStep is web's rollout phase once it is at step (from 0),
	// "" before; at any step when step is -1.
	webPhaseAtStep := func(step int32) func() msv1.RolloutPhase {
		return func() msv1.RolloutPhase {
			ms := getWeb()
			if ms.Status.Rollout == nil || step >= 0 && ptr.Deref(ms.Status.Rollout.CurrentStep, 0) != step {
				return ""
			}
			return ms.Status.Rollout.Phase
		}
	}
	setWebImage := func(image string) {
		Eventually(func() error {
			ms := getWeb()
			ms.Spec.Image = image
			return k8s.Update(ctx, ms)
		}, 10*time.Second, 100*time.Millisecond).Should(Succeed())
	}
	canaryGone := func() {
		Eventually(func() int32 {
			d := &appsv1.Deployment{}
			if err := k8s.Get(ctx, tkey("web-canary"), d); err != nil {
				return -1
			}
			return d.Status.Replicas
		}, time.Minute, 250*time.Millisecond).Should(BeZero())
	}

	// refusedCanaryServes delivers web's version through a canary of one 20%
	// step and a gate, with a routing feature (set) that the local data plane
	// cannot give: RouteAccepted must be False with reason and a message that
	// contains message, the route must carry nothing of the feature, and every
	// user request through Traefik must be answered, the canary's share by it.
	refusedCanaryServes := func(version string, set func(*msv1.Canary), reason, message string) {
		Eventually(func() error {
			ms := getWeb()
			ms.Spec.Image = "example.com/web:" + version
			ms.Spec.Rollout.Canary.Matches = nil
			ms.Spec.Rollout.Canary.Mirror = nil
			ms.Spec.Rollout.Canary.SessionAffinity = nil
			set(ms.Spec.Rollout.Canary)
			ms.Spec.Rollout.Canary.Steps = []msv1.CanaryStep{{SetWeight: ptr.To[int32](20)}, {Pause: &msv1.PauseStep{}}}
			return k8s.Update(ctx, ms)
		}, 10*time.Second, 100*time.Millisecond).Should(Succeed())
		users := startTraffic(host, rate, 3*time.Minute)
		Eventually(webPhaseAtStep(1), 2*time.Minute, 250*time.Millisecond).Should(Equal(msv1.RolloutPhasePaused), "the canary runs at its gate at 20%")
		routeAccepted := apimeta.FindStatusCondition(getWeb().Status.Conditions, msv1.RouteAcceptedCondition)
		Expect(routeAccepted).NotTo(BeNil())
		AddReportEntry("RouteAccepted through Traefik, "+reason, routeAccepted.Reason+": "+routeAccepted.Message)
		Expect(routeAccepted.Status).To(Equal(metav1.ConditionFalse))
		Expect(routeAccepted.Reason).To(Equal(reason))
		Expect(routeAccepted.Message).To(ContainSubstring(message))
		r := &gwv1.HTTPRoute{}
		Expect(k8s.Get(ctx, tkey("web"), r)).To(Succeed())
		for _, rule := range r.Spec.Rules {
			Expect(rule.Filters).To(BeEmpty(), "no filter Traefik would answer 500 for")
			Expect(rule.SessionPersistence).To(BeNil())
		}

		kubectl("annotate", "ms", "web", "-n", trafficNS, "--overwrite", fmt.Sprintf("%s=%d", msv1.PromoteAnnotation, time.Now().UnixNano()))
		Eventually(webPhaseAtStep(-1), 2*time.Minute, 250*time.Millisecond).Should(Equal(msv1.RolloutPhaseSucceeded))
		canaryGone()
		time.Sleep(6 * time.Second) // the canary's pods drain for 5 s
		all := users.stop()
		AddReportEntry("users through a canary whose "+reason, fmt.Sprintf("%+v", all))
		Expect(all.Answered()).To(BeNumerically(">=", 100))
		Expect(failed(all)).To(BeZero(), "%+v; %s", all, users.failures())
		Expect(all.Share(version)).To(BeNumerically(">", 0), "the canary served its weight: %+v", all)
	}

	// deliver sets the image under steady traffic, waits for the rollout to
	// end in the phase and the canary's pods to be gone, keeps the traffic
	// on for a while after, and returns the traffic, the route's weights and
	// when the image was set.
	// measured is the last analysis measurement seen during deliver, by metric.
	var measured map[string]string
	deliver := func(image string, want msv1.RolloutPhase, after time.Duration) (*traffic, []weightChange, time.Time) {
		measured = map[string]string{}
		t := startTraffic(host, rate, 4*time.Minute)
		// The route is on the stable track before the change.
		time.Sleep(2 * time.Second)
		weights := sampleWeights("web")
		endpoints := sampleEndpoints(trafficNS, "web")
		begin := time.Now()
		setWebImage(image)
		EventuallyWithOffset(1, func() msv1.RolloutPhase {
			ms := &msv1.Microservice{}
			if k8s.Get(ctx, tkey("web"), ms) != nil || ms.Status.Rollout == nil {
				return ""
			}
			if a := ms.Status.Rollout.Analysis; a != nil {
				for _, m := range a.Metrics {
					measured[m.Name] = m.Phase + " " + m.Value
				}
			}
			return ms.Status.Rollout.Phase
		}, 3*time.Minute, 250*time.Millisecond).Should(Equal(want))
		canaryGone()
		time.Sleep(after)
		changes := weights.stop()
		t.stop()
		samples, wrong := endpoints.stop()
		AddReportEntry("EndpointSlices of the Service dependents call, sampled while the canary had ready pods", fmt.Sprintf("%d samples, %d canary endpoints", samples, len(wrong)))
		ExpectWithOffset(1, samples).To(BeNumerically(">", 0), "the canary had ready pods while the EndpointSlices were sampled")
		ExpectWithOffset(1, wrong).To(BeEmpty(), "in-cluster callers never reach the canary")
		return t, changes, begin
	}

	BeforeAll(func() {
		kubectl("create", "namespace", trafficNS)
		web := &msv1.Microservice{ObjectMeta: metav1.ObjectMeta{Namespace: trafficNS, Name: "web"}}
		web.Spec.Image = "example.com/web:v1"
		web.Spec.Replicas = ptr.To[int32](2)
		web.Spec.Ports = []msv1.ServicePort{{Name: "http", Port: 80, TargetPort: ptr.To[int32](8080)}}
		web.Spec.Route = &msv1.Route{ParentRefs: []msv1.ParentReference{{Name: "public", Namespace: "gateway-system"}}, Hostnames: []string{host}}
		web.Spec.Rollout = &msv1.Rollout{Strategy: msv1.CanaryStrategy, Canary: &msv1.Canary{
			Steps: []msv1.CanaryStep{
				{SetWeight: ptr.To[int32](20)},
				{Analysis: &msv1.AnalysisStep{}},
				{SetWeight: ptr.To[int32](50)},
				{Pause: &msv1.PauseStep{Duration: &metav1.Duration{Duration: 12 * time.Second}}},
			},
			Analysis: &msv1.Analysis{
				Interval:          &metav1.Duration{Duration: interval},
				Count:             ptr.To[int32](2),
				InconclusiveLimit: ptr.To[int32](5),
				Metrics: []msv1.Metric{{
					Name:             "success-rate",
					Template:         msv1.MetricTemplate("request-success-rate"),
					SuccessCondition: msv1.SuccessCondition{Min: ptr.To("0.95")},
					NoData:           msv1.NoDataPolicy("Inconclusive"),
				}, {
					// From Traefik's request duration histogram, in ms.
					Name:             "latency",
					Template:         msv1.MetricTemplate("request-duration-p99"),
					SuccessCondition: msv1.SuccessCondition{Max: ptr.To("500")},
					NoData:           msv1.NoDataPolicy("Inconclusive"),
				}},
			},
		}}
		Expect(k8s.Create(ctx, web)).To(Succeed())
		Eventually(func() bool {
			ms := &msv1.Microservice{}
			return k8s.Get(ctx, tkey("web"), ms) == nil && apimeta.IsStatusConditionTrue(ms.Status.Conditions, msv1.AvailableCondition) &&
				apimeta.IsStatusConditionTrue(ms.Status.Conditions, msv1.RouteAcceptedCondition)
		}, 2*time.Minute, 250*time.Millisecond).Should(BeTrue())
	})

	It("serves the stable version through the Gateway", func() {
		t := startTraffic(host, rate, 30*time.Second)
		begin := time.Now()
		Eventually(func() int {
			return t.rec.Window(begin, time.Now()).ByVersion["v1"]
		}, 20*time.Second, 100*time.Millisecond).Should(BeNumerically(">=", 200))
		from := time.Now()
		time.Sleep(3 * time.Second)
		settled := t.rec.Window(from, time.Now())
		all := t.stop()
		AddReportEntry("stable only", fmt.Sprintf("%+v", all))
		Expect(settled.Answered()).To(BeNumerically(">=", 200))
		Expect(failed(settled)).To(BeZero(), "%+v", settled)
		Expect(settled.Versions()).To(Equal([]string{"v1"}))
	})

	It("shifts real requests with each weight and promotes without a failed request", func() {
		// The canary's pods drain for 5 s after their deletion: keep
		// counting past it.
		t, changes, begin := deliver("example.com/web:v2", msv1.RolloutPhaseSucceeded, 7*time.Second)
		all := t.rec.Window(time.Time{}, time.Now())
		run := t.rec.Window(begin.Add(-2*time.Second), time.Now())
		AddReportEntry("healthy canary, all requests", fmt.Sprintf("%+v", run))
		Expect(failed(run)).To(BeZero(), "a healthy canary, from first step to promotion and scale-down, fails no request: %+v; %s", run, t.failures())
		// Both templates were measured on Traefik's own series.
		AddReportEntry("last measurement of the healthy canary", fmt.Sprintf("%v", measured))
		Expect(measured).To(HaveKeyWithValue("success-rate", HavePrefix("Successful ")))
		Expect(measured).To(HaveKeyWithValue("latency", HavePrefix("Successful ")))
		Expect(all.ByVersion["v2"]).To(BeNumerically(">", 0))

		// Every weight the route carried for long enough: the share of
		// responses from the canary, over at least 500 of them, is within
		// 5 points of the weight.
		var table []string
		checked := map[int32]bool{}
		for i, c := range changes {
			if c.Weight <= 0 || c.Weight >= 100 || i+1 == len(changes) {
				continue
			}
			from, to := c.At.Add(1500*time.Millisecond), changes[i+1].At.Add(-250*time.Millisecond)
			w := t.rec.Window(from, to)
			if w.Answered() < 500 {
				table = append(table, fmt.Sprintf("weight %d: only %d responses in %s, not judged", c.Weight, w.Answered(), to.Sub(from)))
				continue
			}
			// During the promotion the stable track rolls to v2 as well:
			// judge only windows before it.
			if w.ByVersion["v1"]+w.ByVersion["v2"] != w.Answered() {
				continue
			}
			share := w.Share("v2")
			table = append(table, fmt.Sprintf("weight %d: canary share %.1f%% of %d responses", c.Weight, 100*share, w.Answered()))
			if checked[c.Weight] {
				continue
			}
			checked[c.Weight] = true
			Expect(math.Abs(100*share-float64(c.Weight))).To(BeNumerically("<=", 5),
				"weight %d: the canary answered %.1f%% of %d requests", c.Weight, 100*share, w.Answered())
		}
		AddReportEntry("weights and measured shares", strings.Join(table, "\n"))
		GinkgoWriter.Println(strings.Join(table, "\n"))
		Expect(checked).To(HaveKey(int32(20)), "weights seen: %v", changes)
		Expect(checked).To(HaveKey(int32(50)), "weights seen: %v", changes)
	})

	It("rolls a bad canary back on Traefik's own error rate, within the bound", func() {
		// Right after the healthy canary: the analysis must not count that
		// canary's requests, which Traefik filed under the same Service.
		t, changes, begin := deliver("example.com/web:v3-bad", msv1.RolloutPhaseRolledBack, 3*time.Second)
		run := t.rec.Window(begin, time.Now())

		var firstBad, lastCanary time.Time
		t.rec.Each(begin, time.Now(), func(r load.Result) {
			if r.Code >= 500 && firstBad.IsZero() {
				firstBad = r.At
			}
			if r.Version == "v3-bad" {
				lastCanary = r.At
			}
		})
		var off time.Time
		weight := int32(0)
		for _, c := range changes {
			if c.Weight > weight {
				weight = c.Weight
			}
			if c.Weight == 0 && weight > 0 {
				off = c.At
				break
			}
		}
		Expect(off).NotTo(BeZero(), "the route went back to the stable track: %v", changes)
		// The bound: the canary's share of one analysis interval of requests,
		// failing at the test app's error rate, plus a slack of 3 s of such
		// traffic for what lies between a measurement and the route's
		// change (Prometheus' 1 s scrape, the reconcile, Traefik's reload).
		perSecond := float64(weight) / 100 * errorRate * rate
		bound := perSecond*interval.Seconds() + perSecond*3
		report := fmt.Sprintf("failed %d (bound %.0f: weight %d%%, error rate %.0f%%, %d req/s, interval %s, slack 3s); first failed response to the last canary response: %s; all: %+v",
			failed(run), bound, weight, 100*errorRate, rate, interval, lastCanary.Sub(firstBad).Round(time.Millisecond), run)
		AddReportEntry("bad canary", report)
		GinkgoWriter.Println(report)
		Expect(float64(failed(run))).To(BeNumerically("<=", bound), report)
		Expect(failed(run)).To(BeNumerically(">", 0), "the bad canary did fail requests: it was judged on real ones")
		after := t.rec.Window(off.Add(1500*time.Millisecond), time.Now())
		Expect(after.Answered()).To(BeNumerically(">", 100))
		Expect(after.ByVersion["v3-bad"]).To(BeZero(), "after the rollback no request reaches the canary: %+v", after)
		Expect(failed(after)).To(BeZero(), "%+v", after)
		degraded := apimeta.FindStatusCondition(getWeb().Status.Conditions, msv1.DegradedCondition)
		Expect(degraded).NotTo(BeNil())
		Expect(degraded.Message).To(ContainSubstring("success-rate="))
	})

	It("says that a route to a Gateway that does not exist is not accepted", func() {
		lost := &msv1.Microservice{ObjectMeta: metav1.ObjectMeta{Namespace: trafficNS, Name: "lost"}}
		lost.Spec.Image = "example.com/lost:v1"
		lost.Spec.Ports = []msv1.ServicePort{{Name: "http", Port: 80}}
		lost.Spec.Route = &msv1.Route{ParentRefs: []msv1.ParentReference{{Name: "nowhere", Namespace: "gateway-system"}}}
		Expect(k8s.Create(ctx, lost)).To(Succeed())
		routeAccepted := func() *metav1.Condition {
			ms := &msv1.Microservice{}
			if k8s.Get(ctx, tkey("lost"), ms) != nil {
				return nil
			}
			return apimeta.FindStatusCondition(ms.Status.Conditions, msv1.RouteAcceptedCondition)
		}
		Eventually(routeAccepted, time.Minute, 250*time.Millisecond).ShouldNot(BeNil())
		Consistently(func() metav1.ConditionStatus { return routeAccepted().Status }, 5*time.Second, 250*time.Millisecond).
			ShouldNot(Equal(metav1.ConditionTrue))
		Expect(routeAccepted().Message).To(ContainSubstring("gateway-system/nowhere"))
		route := &gwv1.HTTPRoute{}
		Expect(k8s.Get(ctx, tkey("lost"), route)).To(Succeed())
		Expect(route.Status.Parents).To(BeEmpty(), "no controller reports on a parent it does not own")
	})

	It("reports the Gateway's refusal of a gRPC backend, and routes it as kubernetes.io/h2c", func() {
		rpc := &msv1.Microservice{ObjectMeta: metav1.ObjectMeta{Namespace: trafficNS, Name: "rpc"}}
		rpc.Spec.Image = "example.com/rpc:v1"
		rpc.Spec.Ports = []msv1.ServicePort{{Name: "grpc", Port: 9090, AppProtocol: ptr.To("grpc")}}
		rpc.Spec.Route = &msv1.Route{ParentRefs: []msv1.ParentReference{{Name: "public", Namespace: "gateway-system"}}, Hostnames: []string{"rpc.e2e.test"}}
		Expect(k8s.Create(ctx, rpc)).To(Succeed())
		status := func() string {
			ms := &msv1.Microservice{}
			if k8s.Get(ctx, tkey("rpc"), ms) != nil {
				return ""
			}
			c := apimeta.FindStatusCondition(ms.Status.Conditions, msv1.RouteAcceptedCondition)
			if c == nil {
				return ""
			}
			return string(c.Status) + ": " + c.Message
		}
		Eventually(status, time.Minute, 250*time.Millisecond).Should(And(HavePrefix("False: "), ContainSubstring("unsupported application protocol grpc")))
		Eventually(func() error {
			ms := &msv1.Microservice{}
			if err := k8s.Get(ctx, tkey("rpc"), ms); err != nil {
				return err
			}
			ms.Spec.Ports[0].AppProtocol = ptr.To("kubernetes.io/h2c")
			return k8s.Update(ctx, ms)
		}, 10*time.Second, 100*time.Millisecond).Should(Succeed())
		Eventually(status, time.Minute, 250*time.Millisecond).Should(HavePrefix("True: "))
	})

	It("sends the requests of a canary match to the canary whatever the weight, through Traefik (A/B)", func() {
		Eventually(func() error {
			ms := getWeb()
			ms.Spec.Image = "example.com/web:v4"
			ms.Spec.Rollout.Canary.Matches = []msv1.CanaryMatch{
				{Headers: []msv1.HeaderMatch{{Name: "X-Canary", Value: "always"}}},
				{Cookie: &msv1.CookieMatch{Name: "canary", Value: "yes"}},
			}
			ms.Spec.Rollout.Canary.Steps = []msv1.CanaryStep{{SetWeight: ptr.To[int32](20)}, {Pause: &msv1.PauseStep{}}}
			return k8s.Update(ctx, ms)
		}, 10*time.Second, 100*time.Millisecond).Should(Succeed())
		users := startTraffic(host, rate, 3*time.Minute)
		testers := startTrafficWith(host, 20, 3*time.Minute, http.Header{"X-Canary": {"always"}})
		// The cookie among others: the route matches it with a regular expression on Cookie.
		cookies := startTrafficWith(host, 20, 3*time.Minute, http.Header{"Cookie": {"session=42; canary=yes; theme=dark"}})
		// A cookie whose name only ends like it must not match.
		lookalikes := startTrafficWith(host, 20, 3*time.Minute, http.Header{"Cookie": {"mycanary=yes"}})
		Eventually(webPhaseAtStep(1), 2*time.Minute, 250*time.Millisecond).Should(Equal(msv1.RolloutPhasePaused), "the canary waits at its gate at 20%")

		By("at the gate: testers all on the canary, users at the weight")
		time.Sleep(1500 * time.Millisecond) // Traefik applies the route
		from := time.Now()
		time.Sleep(6 * time.Second)
		now := time.Now()
		tested, used := testers.rec.Window(from, now), users.rec.Window(from, now)
		cookied, alike := cookies.rec.Window(from, now), lookalikes.rec.Window(from, now)
		AddReportEntry("canary match at weight 20", fmt.Sprintf("header testers: %d answered, %.1f%% from v4; cookie testers: %d, %.1f%%; look-alike cookie: %d, %.1f%%; users: %d answered, %.1f%% from v4",
			tested.Answered(), 100*tested.Share("v4"), cookied.Answered(), 100*cookied.Share("v4"), alike.Answered(), 100*alike.Share("v4"), used.Answered(), 100*used.Share("v4")))
		Expect(tested.Answered()).To(BeNumerically(">=", 80))
		Expect(tested.Share("v4")).To(Equal(1.0), "every tester request reached the canary: %+v", tested)
		Expect(cookied.Answered()).To(BeNumerically(">=", 80))
		Expect(cookied.Share("v4")).To(Equal(1.0), "every request with the cookie reached the canary: %+v", cookied)
		Expect(alike.Share("v4")).To(BeNumerically("<", 0.5), "a look-alike cookie gets the weight, not the canary: %+v", alike)
		Expect(math.Abs(100*used.Share("v4")-20)).To(BeNumerically("<=", 6), "users get the weight: %+v", used)

		By("promoted: the match rule goes, and no request fails on the way")
		kubectl("annotate", "ms", "web", "-n", trafficNS, "--overwrite", fmt.Sprintf("%s=%d", msv1.PromoteAnnotation, time.Now().UnixNano()))
		Eventually(webPhaseAtStep(-1), 2*time.Minute, 250*time.Millisecond).Should(Equal(msv1.RolloutPhaseSucceeded))
		canaryGone()
		time.Sleep(6 * time.Second) // the canary's pods drain for 5 s
		r := &gwv1.HTTPRoute{}
		Expect(k8s.Get(ctx, tkey("web"), r)).To(Succeed())
		Expect(r.Spec.Rules).To(HaveLen(1), "only the weighted rule is left")
		testersAll, usersAll := testers.stop(), users.stop()
		cookies.stop()
		lookalikes.stop()
		AddReportEntry("canary match, whole run", fmt.Sprintf("testers %+v; users %+v", testersAll, usersAll))
		Expect(failed(testersAll)).To(BeZero(), "%+v; %s", testersAll, testers.failures())
		Expect(failed(usersAll)).To(BeZero(), "%+v; %s", usersAll, users.failures())
	})

	It("does not mirror through Traefik, whose GatewayClass does not list RequestMirror, says so, and serves every request", func() {
		gc := &gwv1.GatewayClass{}
		Expect(k8s.Get(ctx, client.ObjectKey{Name: "traefik"}, gc)).To(Succeed())
		var listed []string
		for _, f := range gc.Status.SupportedFeatures {
			listed = append(listed, string(f.Name))
		}
		Expect(listed).To(ContainElement("HTTPRouteQueryParamMatching"), "Traefik publishes what it implements")
		Expect(listed).NotTo(ContainElement("HTTPRouteRequestMirror"))

		refusedCanaryServes("v5", func(c *msv1.Canary) { c.Mirror = &msv1.Mirror{Percent: ptr.To[int32](50)} }, "MirrorNotSupported",
			"Gateway gateway-system/public (GatewayClass traefik) does not list HTTPRouteRequestMirror and HTTPRouteRequestPercentageMirror")
	})

	It("keeps no sessions through the standard channel's HTTPRoute, says so, and serves every request at the weights", func() {
		refusedCanaryServes("v6", func(c *msv1.Canary) {
			c.SessionAffinity = &msv1.SessionAffinity{CookieName: "web-track", MaxAge: &metav1.Duration{Duration: 10 * time.Minute}}
		}, "SessionAffinityNotSupported", "HTTPRoute CRD has no spec.rules[].sessionPersistence")
	})
})
