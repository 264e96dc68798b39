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
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
	"github.com/msvc-dev/msvc-operator/internal/builder"
)

// More faults in the middle of rollouts: the Microservice deleted, its
// metrics source down or talking nonsense, and a dependency deleted.

// holdTransport holds the first request of a manager that matches, once
// armed, until the test releases it: the request has left the operator's
// reconcile but has not reached the API server yet.
type holdTransport struct {
	next    http.RoundTripper
	mu      sync.Mutex
	match   func(*http.Request) bool
	held    chan struct{}
	release chan struct{}
}

func (h *holdTransport) wrap(rt http.RoundTripper) http.RoundTripper {
	h.next = rt
	return h
}

// arm holds the next request that match accepts; held is closed once it is held.
func (h *holdTransport) arm(match func(*http.Request) bool) (held, release chan struct{}) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.match, h.held, h.release = match, make(chan struct{}), make(chan struct{})
	return h.held, h.release
}

func (h *holdTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	h.mu.Lock()
	match, held, release := h.match, h.held, h.release
	hold := match != nil && match(req)
	if hold {
		h.match = nil
	}
	h.mu.Unlock()
	if hold {
		close(held)
		<-release
	}
	return h.next.RoundTrip(req)
}

// childRef names one child of a Microservice and the object it is.
type childRef struct {
	kind, name string
	uid        string
	owners     []metav1.OwnerReference
}

// children lists the Deployments, Services, HTTPRoutes and
// PodDisruptionBudgets of namespace ns.
func children(ns string) map[string]childRef {
	out := map[string]childRef{}
	add := func(kind string, obj client.Object) {
		out[kind+"/"+obj.GetName()] = childRef{kind: kind, name: obj.GetName(), uid: string(obj.GetUID()), owners: obj.GetOwnerReferences()}
	}
	deployments := &appsv1.DeploymentList{}
	Expect(k8sClient.List(ctx, deployments, client.InNamespace(ns))).To(Succeed())
	for i := range deployments.Items {
		add("Deployment", &deployments.Items[i])
	}
	services := &corev1.ServiceList{}
	Expect(k8sClient.List(ctx, services, client.InNamespace(ns))).To(Succeed())
	for i := range services.Items {
		add("Service", &services.Items[i])
	}
	routes := &gwv1.HTTPRouteList{}
	Expect(k8sClient.List(ctx, routes, client.InNamespace(ns))).To(Succeed())
	for i := range routes.Items {
		add("HTTPRoute", &routes.Items[i])
	}
	budgets := &policyv1.PodDisruptionBudgetList{}
	Expect(k8sClient.List(ctx, budgets, client.InNamespace(ns))).To(Succeed())
	for i := range budgets.Items {
		add("PodDisruptionBudget", &budgets.Items[i])
	}
	return out
}

// measurementLog watches a Microservice and keeps every analysis
// measurement it sees in the status, by measurement number, with the
// highest canary weight and every phase the rollout went through.
type measurementLog struct {
	mu        sync.Mutex
	metrics   map[int32]msv1.MetricResult
	maxWeight int32
	phases    map[msv1.RolloutPhase]bool
	stop      func()
}

func logMeasurements(ms *msv1.Microservice) *measurementLog {
	l := &measurementLog{metrics: map[int32]msv1.MetricResult{}, phases: map[msv1.RolloutPhase]bool{}}
	l.stop = watchVersions(ms, &msv1.MicroserviceList{}, func(live *msv1.Microservice) {
		st := live.Status.Rollout
		if st == nil {
			return
		}
		l.mu.Lock()
		defer l.mu.Unlock()
		l.maxWeight = max(l.maxWeight, st.CanaryWeight)
		l.phases[st.Phase] = true
		if a := st.Analysis; a != nil && a.Measurements > 0 && len(a.Metrics) > 0 {
			l.metrics[a.Measurements] = a.Metrics[0]
		}
	})
	return l
}

// Results are the measurements seen, in order.
func (l *measurementLog) Results() []msv1.MetricResult {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]msv1.MetricResult, 0, len(l.metrics))
	for i := int32(1); i <= int32(len(l.metrics)); i++ {
		out = append(out, l.metrics[i])
	}
	return out
}

// garbageTurn is one bad answer of a broken Prometheus, and what the
// operator must say about it.
type garbageTurn struct {
	name  string
	serve func(http.ResponseWriter, *http.Request)
	// says is part of the measurement's message.
	says string
	// value is the value the status shows: none but for NaN and +Inf.
	value string
}

func answer(status int, contentType, body string) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", contentType)
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}
}

func vectorOf(value string) string {
	return `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1700000000,"` + value + `"]}]}}`
}

// garbageTurns are served in turn by brokenPrometheus. The hang outlasts the
// analysis timeout (10s by default) and no more.
var garbageTurns = []garbageTurn{
	{"an HTML page", answer(http.StatusOK, "text/html", "<html><body>Sign in</body></html>"), "decoding Prometheus response: invalid character '<'", ""},
	{"truncated JSON", answer(http.StatusOK, "application/json", vectorOf("0.999")[:70]), "decoding Prometheus response: unexpected end of JSON input", ""},
	{"a matrix", answer(http.StatusOK, "application/json",
		`{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1700000000,"0.999"]]}]}}`),
		`unsupported result type "matrix"`, ""},
	{"NaN", answer(http.StatusOK, "application/json", vectorOf("NaN")), "value is NaN", "NaN"},
	{"+Inf", answer(http.StatusOK, "application/json", vectorOf("+Inf")), "value is +Inf", "+Inf"},
	{"a value that is not a number", answer(http.StatusOK, "application/json", vectorOf("fast")), `sample value "fast" is not a number`, ""},
	{"HTTP 500", answer(http.StatusInternalServerError, "text/plain", "upstream exploded"), "prometheus returned HTTP 500: upstream exploded", ""},
	{"a hang", func(_ http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(15 * time.Second):
		}
	}, "no answer within 10s (spec.rollout.canary.analysis.timeout)", ""},
}

// brokenPrometheus answers the n-th query with garbageTurns[n % len].
type brokenPrometheus struct{ queries atomic.Int32 }

func (b *brokenPrometheus) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := b.queries.Add(1) - 1
	garbageTurns[int(n)%len(garbageTurns)].serve(w, r)
}

// closedPort is an address on which nothing listens.
func closedPort() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	Expect(err).NotTo(HaveOccurred())
	addr := l.Addr().String()
	Expect(l.Close()).To(Succeed())
	return "http://" + addr
}

// analysedAt is a canary with one analysis step at 25% against address.
func analysedAt(ns, address string, inconclusiveLimit int32) *msv1.Microservice {
	ms := withCanary(withRoute(checkout(ns)), weightStep(25), msv1.CanaryStep{Analysis: &msv1.AnalysisStep{}}, weightStep(50))
	ms.Spec.Rollout.Canary.Analysis = &msv1.Analysis{
		Interval:          &metav1.Duration{Duration: time.Second},
		Count:             ptr.To[int32](3),
		FailureLimit:      ptr.To[int32](0),
		InconclusiveLimit: ptr.To(inconclusiveLimit),
		Prometheus:        &msv1.PrometheusProvider{Address: address},
		Metrics: []msv1.Metric{{
			Name:             "success-rate",
			Query:            `request_success_ratio{namespace="{{ .Namespace }}",name="{{ .Name }}",track="{{ .Track }}"}`,
			SuccessCondition: msv1.SuccessCondition{Min: ptr.To("0.99")},
		}},
	}
	return ms
}

var _ = Describe("More faults in the middle of rollouts", func() {
	It("stops cleanly when the Microservice is deleted mid-rollout, even with a reconcile in flight", func() {
		// This spec's manager is the only one, so that the controller's
		// error and queue metrics are its own.
		env.stopManager()
		DeferCleanup(env.startManager)
		ns := newNamespace()
		hold := &holdTransport{}
		m := env.runManager(managerOptions{namespaces: []string{ns}, wrap: hold.wrap})
		DeferCleanup(func() { Expect(m.Stop()).To(Succeed()) })

		ms := withCanary(withRoute(checkout(ns)), weightStep(20), manualGate(), weightStep(50), manualGate())
		ms.Spec.Replicas = ptr.To[int32](4)
		guard, rec := canaryAtFirstGate(ms, 20)
		Expect(routeWeights(ms)()).To(Equal("checkout-stable=80/checkout-canary=20"))
		Expect(metricValue("msvc_canary_weight_percent", map[string]string{"namespace": ns})).To(Equal(20.0))

		live := &msv1.Microservice{}
		Expect(k8sClient.Get(ctx, key(ms), live)).To(Succeed())
		Expect(live.Finalizers).To(BeEmpty(), "the operator has no finalizer: its children go with the garbage collector")
		before := children(ns)
		Expect(before).To(HaveKey("Deployment/checkout"))
		Expect(before).To(HaveKey("Deployment/checkout-canary"))
		Expect(before).To(HaveKey("Service/checkout"))
		Expect(before).To(HaveKey("Service/checkout-stable"))
		Expect(before).To(HaveKey("Service/checkout-canary"))
		Expect(before).To(HaveKey("HTTPRoute/checkout"))
		Expect(before).To(HaveKey("PodDisruptionBudget/checkout"))
		for name, c := range before {
			Expect(c.owners).To(ConsistOf(And(
				HaveField("Kind", "Microservice"), HaveField("Name", "checkout"), HaveField("UID", live.UID),
				HaveField("Controller", ptr.To(true)), HaveField("BlockOwnerDeletion", ptr.To(true)))),
				"the owner reference of %s lets the garbage collector remove it, after its owner", name)
		}

		By("promoting the gate and deleting the Microservice while the reconcile that scales the canary is in flight")
		errorsBefore := reconcileErrors()
		held, release := hold.arm(func(req *http.Request) bool {
			rns, resource := describePath(req.URL.Path)
			return req.Method == http.MethodPatch && rns == ns && resource == "deployments"
		})
		annotate(ms, msv1.PromoteAnnotation, "gate-1")
		Eventually(held, timeout).Should(BeClosed())
		Expect(k8sClient.Delete(ctx, live)).To(Succeed())
		Eventually(func() bool { return apierrors.IsNotFound(k8sClient.Get(ctx, key(ms), &msv1.Microservice{})) }, timeout, interval).
			Should(BeTrue(), "without a finalizer the Microservice goes at once")
		close(release)

		By("waiting for the operator to see the deletion")
		Eventually(func() float64 { return metricValue("msvc_canary_weight_percent", map[string]string{"namespace": ns}) }, timeout, interval).
			Should(Equal(0.0), "the operator forgets the rollout of a deleted Microservice")
		// (The queue depth gauge is shared with the stopped managers'
		// queues of the same name, so it cannot tell.)
		idle := func() float64 {
			return metricValue("controller_runtime_active_workers", map[string]string{"controller": "microservice"})
		}
		Eventually(idle, timeout, interval).Should(Equal(0.0))
		writes := env.writes.Snapshot()
		Consistently(func() map[string]int { return env.writes.Since(writes, ns) }, 2*time.Second, interval).Should(BeEmpty(),
			"no writes once the deletion is observed")
		Expect(reconcileErrors()).To(Equal(errorsBefore), "no reconcile errors after the deletion")
		Expect(idle()).To(Equal(0.0), "no reconcile running")

		By("checking that no child was re-created or lost its owner")
		after := children(ns)
		Expect(after).To(HaveLen(len(before)))
		for name, c := range before {
			Expect(after).To(HaveKey(name))
			Expect(after[name].uid).To(Equal(c.uid), "%s is the same object", name)
			Expect(after[name].owners).To(Equal(c.owners))
		}
		Expect(routeWeights(ms)()).To(Equal("checkout-stable=80/checkout-canary=20"), "traffic stays where it was until the garbage collector")
		guard.Check()
		rec.Check()
	})

	It("never promotes on a Prometheus that is down or returns garbage, and pauses once inconclusiveLimit is exceeded", func() {
		broken := &brokenPrometheus{}
		server := httptest.NewServer(broken)
		DeferCleanup(server.Close)
		limit := int32(len(garbageTurns))
		garbage := analysedAt(newNamespace(), server.URL, limit)
		down := analysedAt(newNamespace(), closedPort(), 2)

		type watched struct {
			ms    *msv1.Microservice
			guard *trafficGuard
			rec   *rolloutRecorder
			log   *measurementLog
		}
		var all []watched
		for _, ms := range []*msv1.Microservice{garbage, down} {
			w := watched{ms: ms, guard: guardTraffic(ms), rec: recordRollout(ms), log: logMeasurements(ms)}
			DeferCleanup(w.guard.stop)
			DeferCleanup(w.rec.stop)
			DeferCleanup(w.log.stop)
			all = append(all, w)
			startCanaryWithReadyPods(ms)
		}

		By("waiting for each analysis to exceed its inconclusiveLimit")
		for _, w := range all {
			want := ptr.Deref(w.ms.Spec.Rollout.Canary.Analysis.InconclusiveLimit, 0) + 1
			Eventually(rolloutStatus(w.ms), 30*time.Second, interval).Should(And(
				HaveField("Phase", msv1.RolloutPhasePaused),
				HaveField("CurrentStep", ptr.To[int32](1)),
				HaveField("Message", HavePrefix(fmt.Sprintf("Analysis inconclusive %d times (success-rate=none (query failed: ", want))),
				HaveField("Message", HaveSuffix("); promote to go on or abort")),
				HaveField("Analysis", And(Not(BeNil()),
					HaveField("Measurements", want), HaveField("Inconclusives", want), HaveField("Failures", int32(0)))),
			))
		}
		queries := broken.queries.Load()
		Expect(queries).To(Equal(limit+1), "one query per measurement")

		By("holding the canary at the analysis step's weight, measuring no more, promoting never")
		for _, w := range all {
			Consistently(rolloutStatus(w.ms), 2*time.Second, interval).Should(And(
				HaveField("Phase", msv1.RolloutPhasePaused), HaveField("CanaryWeight", int32(25))))
			Expect(routeWeights(w.ms)()).To(Equal("checkout-stable=75/checkout-canary=25"))
			Expect(image(key(w.ms))()).To(Equal("ghcr.io/acme/checkout:1.4.2"), "the stable track never gets the new version")
			Expect(condition(w.ms, msv1.DegradedCondition)()).To(BeNil(), "an inconclusive analysis is no failure")
		}
		Expect(broken.queries.Load()).To(Equal(queries))

		By("checking what every measurement said")
		results := all[0].log.Results()
		Expect(results).To(HaveLen(int(limit) + 1))
		for i, r := range results {
			turn := garbageTurns[i%len(garbageTurns)]
			Expect(r).To(And(HaveField("Phase", "Inconclusive"), HaveField("Value", turn.value),
				HaveField("Message", ContainSubstring(turn.says))),
				"measurement %d, on %s", i+1, turn.name)
		}
		for _, r := range all[1].log.Results() {
			Expect(r).To(And(HaveField("Phase", "Inconclusive"), HaveField("Message", ContainSubstring("connection refused"))))
		}
		for _, w := range all {
			w.log.mu.Lock()
			Expect(w.log.maxWeight).To(Equal(int32(25)), "the weight never goes past the analysis step's")
			Expect(w.log.phases).NotTo(Or(HaveKey(msv1.RolloutPhasePromoting), HaveKey(msv1.RolloutPhaseSucceeded), HaveKey(msv1.RolloutPhaseRolledBack)))
			w.log.mu.Unlock()
			w.guard.Check()
			w.rec.Check()
		}
	})

	It("keeps a running dependent as it is when its dependency is deleted, and holds its next version until the dependency is back", func() {
		ns := newNamespace()
		b := service(ns, "b", 8080)
		a := service(ns, "a", 80, dep("b"))
		a.Spec.NetworkPolicy = &msv1.NetworkPolicySpec{Enabled: ptr.To(true), RestrictEgress: true}
		for _, ms := range []*msv1.Microservice{b, a} {
			Expect(k8sClient.Create(ctx, ms)).To(Succeed())
		}
		makeAvailable(b)
		makeAvailable(a)
		Eventually(dependencyStates(a), timeout, interval).Should(ConsistOf("b=Ready"))
		Eventually(condition(a, msv1.DependenciesReadyCondition), timeout, interval).Should(haveCondition(metav1.ConditionTrue, msv1.ReasonSucceeded))
		Expect(containerEnv(a)()).To(HaveKeyWithValue("B_URL", fmt.Sprintf("http://b.%s.svc.cluster.local:8080", ns)))
		egressTo := func() []string {
			np := &networkingv1.NetworkPolicy{}
			if err := k8sClient.Get(ctx, key(a), np); err != nil {
				return []string{err.Error()}
			}
			out := []string{}
			for _, rule := range np.Spec.Egress {
				for _, to := range rule.To {
					out = append(out, to.NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"]+"/"+to.PodSelector.MatchLabels[builder.LabelMicroservice])
				}
			}
			return out
		}
		Eventually(egressTo, timeout, interval).Should(ConsistOf(ns + "/b"))
		running := &appsv1.Deployment{}
		Expect(k8sClient.Get(ctx, key(a), running)).To(Succeed())

		By("deleting b, and its children as the garbage collector would")
		Expect(k8sClient.Delete(ctx, b)).To(Succeed())
		Expect(k8sClient.Delete(ctx, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "b", Namespace: ns}})).To(Succeed())
		Expect(k8sClient.Delete(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "b", Namespace: ns}})).To(Succeed())
		Eventually(condition(a, msv1.DependenciesReadyCondition), timeout, interval).Should(And(
			haveCondition(metav1.ConditionFalse, msv1.ReasonDependenciesNotReady), HaveField("Message", Equal("Required dependencies not ready: b (Missing)"))))
		Expect(dependencyStates(a)()).To(ConsistOf("b=Missing"))
		Eventually(egressTo, timeout, interval).Should(BeEmpty(), "no egress to the pods of a Microservice that is gone")
		unchanged := func() *appsv1.Deployment {
			d := &appsv1.Deployment{}
			Expect(k8sClient.Get(ctx, key(a), d)).To(Succeed())
			return d
		}
		Consistently(unchanged, 2*time.Second, interval).Should(And(
			HaveField("Generation", running.Generation),
			HaveField("Spec.Replicas", ptr.To[int32](2)),
			HaveField("Spec.Template", Equal(running.Spec.Template))),
			"the running pods are neither scaled down nor restarted, and keep b's address")
		Expect(condition(a, msv1.AvailableCondition)()).To(haveCondition(metav1.ConditionTrue, msv1.ReasonSucceeded), "a is still available")

		By("holding a new version of a while b is missing")
		updateSpec(a, func(s *msv1.MicroserviceSpec) { s.Image = "ghcr.io/acme/a:2.0.0" })
		Eventually(condition(a, msv1.ReconcilingCondition), timeout, interval).Should(And(
			haveCondition(metav1.ConditionTrue, msv1.ReasonDependenciesNotReady),
			HaveField("Message", Equal("The new version waits for dependencies: b (Missing)"))))
		Consistently(image(key(a)), time.Second, interval).Should(Equal("ghcr.io/acme/a:1.0.0"))
		Expect(replicas(key(a))()).To(Equal(int32(2)))

		By("re-creating b: the new version of a goes out once b is available")
		b = service(ns, "b", 8080)
		Expect(k8sClient.Create(ctx, b)).To(Succeed())
		Eventually(dependencyStates(a), timeout, interval).Should(ConsistOf("b=Unavailable"))
		Consistently(image(key(a)), time.Second, interval).Should(Equal("ghcr.io/acme/a:1.0.0"))
		makeAvailable(b)
		Eventually(image(key(a)), timeout, interval).Should(Equal("ghcr.io/acme/a:2.0.0"))
		Expect(containerEnv(a)()).To(HaveKeyWithValue("B_URL", fmt.Sprintf("http://b.%s.svc.cluster.local:8080", ns)))
		Expect(replicas(key(a))()).To(Equal(int32(2)))
		Eventually(egressTo, timeout, interval).Should(ConsistOf(ns + "/b"))
		playDeploymentController(a)
		Eventually(condition(a, msv1.DependenciesReadyCondition), timeout, interval).Should(haveCondition(metav1.ConditionTrue, msv1.ReasonSucceeded))
		Eventually(condition(a, msv1.ReconcilingCondition), timeout, interval).Should(BeNil())
		Expect(strings.Join(dependencyStates(a)(), ",")).To(Equal("b=Ready"))
	})
})
