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
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
	"sigs.k8s.io/yaml"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
)

// The fault tests break the operator's world in the middle of rollouts and
// check two invariants throughout: the route never sends traffic to a track
// with no ready pods (trafficGuard), and no rollout state is lost
// (rolloutRecorder: a step never goes back, a gate passes only on its own
// promote).

// errKilled is what every request of a killed manager gets.
var errKilled = errors.New("operator process killed by the test")

// faultTransport sits in front of one manager's requests. It counts the
// manager's writes by resource, and kills the manager (every later request
// fails, as if its process had died) right after a number of writes that
// changed something in one namespace, or when the test says so.
type faultTransport struct {
	next      http.RoundTripper
	namespace string
	// allow is how many changing writes in namespace go through before
	// the kill; <0 never.
	allow int
	// versions is the last resourceVersion seen per object path, shared by
	// the lives of the operator: a write that returns the version already
	// seen (a server-side apply with nothing to change) is not a change.
	versions map[string]string

	mu      sync.Mutex
	changes int
	writes  map[string]int
	dead    bool
	killed  chan struct{}
}

func newFaultTransport(namespace string, allow int, versions map[string]string) *faultTransport {
	if versions == nil {
		versions = map[string]string{}
	}
	return &faultTransport{namespace: namespace, allow: allow, versions: versions, writes: map[string]int{}, killed: make(chan struct{})}
}

func (f *faultTransport) wrap(rt http.RoundTripper) http.RoundTripper {
	f.next = rt
	return f
}

func (f *faultTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	f.mu.Lock()
	dead := f.dead
	f.mu.Unlock()
	if dead {
		return nil, errKilled
	}
	write := req.Method != http.MethodGet && req.Method != http.MethodHead
	ns, resource := describePath(req.URL.Path)
	if write {
		f.mu.Lock()
		f.writes[resource]++
		f.mu.Unlock()
	}
	resp, err := f.next.RoundTrip(req)
	if err != nil || !write || ns != f.namespace || resource == "events" || resource == "leases" {
		return resp, err
	}
	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	var obj metav1.PartialObjectMetadata
	_ = json.Unmarshal(body, &obj)
	path := strings.TrimSuffix(req.URL.Path, "/status")

	f.mu.Lock()
	defer f.mu.Unlock()
	if rv := obj.ResourceVersion; rv == "" || f.versions[path] != rv {
		f.versions[path] = rv
		f.changes++
		if f.allow >= 0 && f.changes >= f.allow {
			// This change reached the API server; nothing after it does.
			f.killLocked()
		}
	}
	return resp, nil
}

// Kill makes every later request fail.
func (f *faultTransport) Kill() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.killLocked()
}

func (f *faultTransport) killLocked() {
	if !f.dead {
		f.dead = true
		close(f.killed)
	}
}

// Killed reports whether the manager was killed.
func (f *faultTransport) Killed() bool {
	select {
	case <-f.killed:
		return true
	default:
		return false
	}
}

// Writes is how many writes the manager made to resource (all namespaces).
func (f *faultTransport) Writes(resource string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.writes[resource]
}

// WritesExcept is how many writes the manager made to anything but the given resources.
func (f *faultTransport) WritesExcept(resources ...string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for r, c := range f.writes {
		if !slices.Contains(resources, r) {
			n += c
		}
	}
	return n
}

// rolloutRecorder watches a Microservice and checks every version of its
// rollout status against the last: within one revision the step never goes
// back, and a manual gate is passed only with the promote value the test
// wrote for that gate ("gate-<index>"), so no gate is passed twice by one
// promote.
type rolloutRecorder struct {
	mu         sync.Mutex
	states     []string
	gates      map[int32]bool
	last       *msv1.RolloutStatus
	versions   int
	violations []string
	stop       func()
}

func recordRollout(ms *msv1.Microservice) *rolloutRecorder {
	rec := &rolloutRecorder{gates: map[int32]bool{}}
	for i, s := range ms.Spec.Rollout.Canary.Steps {
		if s.Pause != nil && s.Pause.Duration == nil {
			rec.gates[int32(i)] = true
		}
	}
	rec.stop = watchVersions(ms, &msv1.MicroserviceList{}, func(live *msv1.Microservice) {
		if live.Status.Rollout != nil {
			rec.observe(live.Status.Rollout.DeepCopy())
		}
	})
	return rec
}

func (r *rolloutRecorder) observe(st *msv1.RolloutStatus) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.versions++
	if at := stepOf(*st); len(r.states) == 0 || r.states[len(r.states)-1] != at {
		r.states = append(r.states, at)
	}
	prev := r.last
	r.last = st
	if prev == nil || prev.CanaryRevision != st.CanaryRevision || prev.CurrentStep == nil || st.CurrentStep == nil {
		return
	}
	from, to := *prev.CurrentStep, *st.CurrentStep
	if to < from {
		r.violations = append(r.violations, fmt.Sprintf("step went back from %d to %d (phase %s)", from, to, st.Phase))
	}
	for g := from; g < to; g++ {
		if r.gates[g] && st.HandledPromote != fmt.Sprintf("gate-%d", g) && st.HandledPromoteFull == prev.HandledPromoteFull {
			r.violations = append(r.violations, fmt.Sprintf("gate %d passed with promote %q", g, st.HandledPromote))
		}
	}
}

// States are the states (phase@step) the rollout went through, in order.
func (r *rolloutRecorder) States() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.states...)
}

func (r *rolloutRecorder) Check() {
	r.stop()
	r.mu.Lock()
	defer r.mu.Unlock()
	Expect(r.versions).To(BeNumerically(">", 0), "the recorder saw the rollout")
	Expect(r.violations).To(BeEmpty())
}

// playWorld plays, once, the parts of the cluster envtest lacks and the
// user: Deployments whose pods are not all ready become ready, and a
// rollout paused at a manual gate is promoted with that gate's own value.
func playWorld(ms *msv1.Microservice) {
	playPods(ms)
	live := &msv1.Microservice{}
	if err := k8sClient.Get(ctx, key(ms), live); err != nil || live.Status.Rollout == nil {
		return
	}
	st := live.Status.Rollout
	if st.Phase == msv1.RolloutPhasePaused && st.CurrentStep != nil && strings.Contains(st.Message, "waiting for a promote") {
		if v := fmt.Sprintf("gate-%d", *st.CurrentStep); live.Annotations[msv1.PromoteAnnotation] != v {
			annotate(ms, msv1.PromoteAnnotation, v)
		}
	}
}

// playPods plays, once, the Deployment controller and the kubelet: the pods
// of both tracks that are not all ready become ready.
func playPods(ms *msv1.Microservice) {
	for _, k := range []client.ObjectKey{key(ms), canaryKey(ms)} {
		d := &appsv1.Deployment{}
		if err := k8sClient.Get(ctx, k, d); err != nil {
			continue
		}
		n := ptr.Deref(d.Spec.Replicas, 1)
		if d.Status.ObservedGeneration == d.Generation && d.Status.ReadyReplicas == n && d.Status.UpdatedReplicas == n && d.Status.Replicas == n {
			continue
		}
		playDeployment(k)
	}
}

// canaryAtFirstGate creates ms with a guard and a recorder watching it (both
// stopped when the spec ends), delivers 2.0.0 with ready canary pods and
// waits at the manual gate that follows the first step's weight.
func canaryAtFirstGate(ms *msv1.Microservice, weight int32) (*trafficGuard, *rolloutRecorder) {
	guard := guardTraffic(ms)
	DeferCleanup(guard.stop)
	rec := recordRollout(ms)
	DeferCleanup(rec.stop)
	startCanary(ms)
	playDeployment(canaryKey(ms))
	Eventually(rolloutStatus(ms), timeout, interval).Should(And(
		HaveField("Phase", msv1.RolloutPhasePaused), HaveField("CurrentStep", ptr.To[int32](1)), HaveField("CanaryWeight", weight)))
	return guard, rec
}

// stepOf names where a rollout is, for counting crashes per step.
func stepOf(st msv1.RolloutStatus) string {
	if st.CurrentStep == nil {
		return string(st.Phase)
	}
	return fmt.Sprintf("%s@%d", st.Phase, *st.CurrentStep)
}

// grantLeaderElection binds the operator's user to the leader election Role
// of config/rbac in namespace, as the kustomize and Helm installs do.
func grantLeaderElection(namespace string) {
	data, err := os.ReadFile(filepath.Join("..", "..", "config", "rbac", "leader_election_role.yaml"))
	Expect(err).NotTo(HaveOccurred())
	role := &rbacv1.Role{}
	Expect(yaml.Unmarshal(data, role)).To(Succeed())
	role.Namespace = namespace
	Expect(k8sClient.Create(ctx, role)).To(Succeed())
	Expect(k8sClient.Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: role.Name, Namespace: namespace},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: role.Name},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: "msvc-operator"}},
	})).To(Succeed())
}

func elected(m *runningManager) bool {
	select {
	case <-m.mgr.Elected():
		return true
	default:
		return false
	}
}

var _ = Describe("Faults in the middle of a canary", func() {
	replaceSuiteManager()

	It("resumes at the same step after the operator is killed right after every change it makes, at every step", func() {
		ns := newNamespace()
		ms := withCanary(withRoute(checkout(ns)), weightStep(20), manualGate(), weightStep(50), pauseFor(2*time.Second), weightStep(75), manualGate())
		ms.Spec.Replicas = ptr.To[int32](4)
		guard := guardTraffic(ms)
		DeferCleanup(guard.stop)
		rec := recordRollout(ms)
		DeferCleanup(rec.stop)

		By("creating the first version with an operator that is not killed")
		versions := map[string]string{}
		first := env.runManager(managerOptions{namespaces: []string{ns}, wrap: newFaultTransport(ns, -1, versions).wrap})
		Expect(k8sClient.Create(ctx, ms)).To(Succeed())
		getChild(Default, ms, &appsv1.Deployment{})
		playDeploymentController(ms)
		Eventually(rolloutStatus(ms), timeout, interval).Should(HaveField("Phase", msv1.RolloutPhaseIdle))
		Expect(first.Stop()).To(Succeed())

		By("delivering 2.0.0 with operators that each die right after the first change they make")
		// Pods become ready and gates are promoted only between two lives
		// of the operator, so that every state lasts several lives.
		updateSpec(ms, func(s *msv1.MicroserviceSpec) { s.Image = "ghcr.io/acme/checkout:2.0.0" })
		crashesAt := map[string]int{}
		lives := 0
		idle := 0
		for attempt := 0; rolloutStatus(ms)().Phase != msv1.RolloutPhaseSucceeded; attempt++ {
			Expect(idle).To(BeNumerically("<", 8), "the rollout goes on; crashes so far: %v; rollout %+v; route %s; replicas %d/%d",
				crashesAt, rolloutStatus(ms)(), routeWeights(ms)(), replicas(key(ms))(), replicas(canaryKey(ms))())
			f := newFaultTransport(ns, 1, versions)
			m := env.runManager(managerOptions{namespaces: []string{ns}, wrap: f.wrap})
			select {
			case <-f.killed:
			case <-time.After(3 * time.Second):
				// An operator that lived: it waits for the world (a timer,
				// pods, a promote) and stops gracefully.
			}
			_ = m.Stop()
			lives++
			if f.Killed() {
				crashesAt[stepOf(rolloutStatus(ms)())]++
				idle = 0
			} else {
				idle++
			}
			playWorld(ms)
		}
		GinkgoWriter.Printf("Crashes by the step the rollout was at: %v, in %d operator lives\n", crashesAt, lives)
		AddReportEntry("operator crashes mid-canary", fmt.Sprintf("%v in %d lives", crashesAt, lives))

		By("checking that the operator died at every state the rollout went through, and the rollout completed once")
		states := rec.States()
		Expect(states).To(ContainElements("Paused@1", "Paused@3", "Paused@5", "Promoting@6", "Succeeded"))
		for _, at := range states {
			if at != "Idle" && at != "Succeeded" {
				Expect(crashesAt).To(HaveKey(at), "a crash while the rollout was at %s", at)
			}
		}
		Expect(routeWeights(ms)()).To(Equal("checkout-stable=100/checkout-canary=0"))
		Expect(image(key(ms))()).To(Equal("ghcr.io/acme/checkout:2.0.0"))
		Eventually(replicas(canaryKey(ms)), timeout, interval).Should(Equal(int32(0)))
		st := rolloutStatus(ms)()
		Expect(st.HandledPromote).To(Equal("gate-5"))
		guard.Check()
		rec.Check()
	})

	It("lets only the leader write, fails over within the lease duration, and takes no step twice", func() {
		ns := newNamespace()
		grantLeaderElection(ns)
		le := &leaderElection{namespace: ns, leaseDuration: 4 * time.Second, renewDeadline: 3 * time.Second, period: 500 * time.Millisecond}
		fa, fb := newFaultTransport(ns, -1, nil), newFaultTransport(ns, -1, nil)
		a := env.runManager(managerOptions{namespaces: []string{ns}, wrap: fa.wrap, leaderElection: le})
		b := env.runManager(managerOptions{namespaces: []string{ns}, wrap: fb.wrap, leaderElection: le})
		defer func() { _ = a.Stop(); _ = b.Stop() }()
		Eventually(func() bool { return elected(a) || elected(b) }, timeout, interval).Should(BeTrue())
		leader, follower, fLeader, fFollower := a, b, fa, fb
		if elected(b) {
			leader, follower, fLeader, fFollower = b, a, fb, fa
		}

		ms := withCanary(withRoute(checkout(ns)), weightStep(20), manualGate(), weightStep(50), manualGate())
		ms.Spec.Replicas = ptr.To[int32](4)
		guard, rec := canaryAtFirstGate(ms, 20)

		By("checking that the follower never wrote")
		Expect(elected(follower)).To(BeFalse())
		Expect(fFollower.WritesExcept("leases")).To(Equal(0), "writes of the follower: %v", fFollower.writes)
		Expect(fLeader.Writes("microservices/status")).To(BeNumerically(">", 0))

		By("killing the leader without releasing its lease")
		killedAt := time.Now()
		fLeader.Kill()
		Eventually(func() bool { return elected(follower) }, 2*le.leaseDuration, 50*time.Millisecond).Should(BeTrue())
		failover := time.Since(killedAt)
		GinkgoWriter.Printf("Failover after the leader died: %v (lease %v, retry %v)\n", failover, le.leaseDuration, le.period)
		AddReportEntry("leader failover", failover.String())
		Expect(failover).To(BeNumerically("<=", le.leaseDuration+2*le.period+time.Second))

		By("promoting once through the new leader: exactly one step")
		Consistently(rolloutStatus(ms), time.Second, interval).Should(And(
			HaveField("Phase", msv1.RolloutPhasePaused), HaveField("CurrentStep", ptr.To[int32](1))), "the new leader resumes at the gate")
		annotate(ms, msv1.PromoteAnnotation, "gate-1")
		Eventually(replicas(canaryKey(ms)), timeout, interval).Should(Equal(int32(2)))
		playDeployment(canaryKey(ms))
		Eventually(rolloutStatus(ms), timeout, interval).Should(And(
			HaveField("Phase", msv1.RolloutPhasePaused), HaveField("CurrentStep", ptr.To[int32](3)), HaveField("CanaryWeight", int32(50))))
		Consistently(rolloutStatus(ms), time.Second, interval).Should(HaveField("CurrentStep", ptr.To[int32](3)))
		Expect(routeWeights(ms)()).To(Equal("checkout-stable=50/checkout-canary=50"))
		Expect(fFollower.Writes("microservices/status")).To(BeNumerically(">", 0), "the new leader writes")
		Expect(leader.Stop()).To(MatchError(ContainSubstring("leader election lost")))
		guard.Check()
		rec.Check()
	})

	It("puts back what a conflicting writer changes in its children, keeps the rollout state, and does not fight a loop", func() {
		ns := newNamespace()
		runOwnManager(managerOptions{namespaces: []string{ns}})
		ms := withCanary(withRoute(checkout(ns)), weightStep(30), manualGate(), weightStep(60))
		ms.Spec.Replicas = ptr.To[int32](4)
		guard, rec := canaryAtFirstGate(ms, 30)
		before := rolloutStatus(ms)()

		By("editing the children in a loop for 3 seconds, as another controller or a person with kubectl would")
		intruder := client.WithFieldOwner(k8sClient, "intruder")
		edits := 0
		edit := func(obj client.Object, k client.ObjectKey, mutate func()) {
			if err := intruder.Get(ctx, k, obj); err != nil {
				return
			}
			patch := client.MergeFrom(obj.DeepCopyObject().(client.Object))
			mutate()
			if intruder.Patch(ctx, obj, patch) == nil {
				edits++
			}
		}
		writesBefore := env.writes.Snapshot()
		for end := time.Now().Add(3 * time.Second); time.Now().Before(end); {
			route := &gwv1.HTTPRoute{}
			edit(route, key(ms), func() {
				for i := range route.Spec.Rules[0].BackendRefs {
					route.Spec.Rules[0].BackendRefs[i].Weight = ptr.To[int32](50)
				}
			})
			canary := &appsv1.Deployment{}
			edit(canary, canaryKey(ms), func() { canary.Spec.Template.Spec.Containers[0].Image = "ghcr.io/acme/checkout:evil" })
			stable := &appsv1.Deployment{}
			edit(stable, key(ms), func() { stable.Spec.Replicas = ptr.To[int32](1) })
			svc := &corev1.Service{}
			edit(svc, key(ms), func() { svc.Spec.Ports[0].TargetPort = intstr.FromInt32(9999) })
			time.Sleep(50 * time.Millisecond)
		}
		operatorWrites := 0
		for _, n := range env.writes.Since(writesBefore, ms.Namespace) {
			operatorWrites += n
		}
		GinkgoWriter.Printf("Edits by the intruder: %d; writes by the operator meanwhile: %d\n", edits, operatorWrites)
		AddReportEntry("conflicting writer", fmt.Sprintf("%d edits, %d operator writes", edits, operatorWrites))
		Expect(edits).To(BeNumerically(">=", 20))

		By("checking that every child is back as the operator wants it, and the rollout where it was")
		Eventually(routeWeights(ms), timeout, interval).Should(Equal("checkout-stable=70/checkout-canary=30"))
		Eventually(image(canaryKey(ms)), timeout, interval).Should(Equal("ghcr.io/acme/checkout:2.0.0"))
		Eventually(replicas(key(ms)), timeout, interval).Should(Equal(int32(4)))
		Expect(image(key(ms))()).To(Equal("ghcr.io/acme/checkout:1.4.2"), "the stable track keeps its template during the canary")
		Eventually(func() int32 {
			svc := &corev1.Service{}
			Expect(k8sClient.Get(ctx, key(ms), svc)).To(Succeed())
			return svc.Spec.Ports[0].TargetPort.IntVal
		}, timeout, interval).ShouldNot(Equal(int32(9999)))
		Expect(rolloutStatus(ms)()).To(Equal(before))
		Expect(operatorWrites).To(BeNumerically("<=", 2*edits+10), "the operator answers each edit at most about once")

		By("checking that the operator then comes to rest: a whole second without writes of its own")
		Eventually(func() map[string]int {
			settled := env.writes.Snapshot()
			time.Sleep(time.Second)
			return env.writes.Since(settled, ms.Namespace)
		}, timeout, interval).Should(BeEmpty())

		By("promoting: the rollout goes on from the same step")
		annotate(ms, msv1.PromoteAnnotation, "gate-1")
		Eventually(replicas(canaryKey(ms)), timeout, interval).Should(Equal(int32(3)))
		playDeployment(canaryKey(ms))
		Eventually(rolloutStatus(ms), timeout, interval).Should(HaveField("Phase", msv1.RolloutPhasePromoting))
		guard.Check()
		rec.Check()
	})
})
