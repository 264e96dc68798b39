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

// This file has no build tag: the history and the two judges are pure, and
// their tests (at the end) run in make test as well as in the e2e suite,
// whose watchers (invariants_watch_test.go) feed them every version of every
// Microservice, Pod and ReplicaSet of the run.

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
)

// The label the operator puts on every pod template, and so on every
// ReplicaSet and Pod, of a Microservice; and the name of the service's own
// container. Spelled out here, not imported, so that the checks do not take
// the operator's word for what they check.
const (
	microserviceLabel = "apps.msvc.dev/microservice"
	appContainer      = "app"
)

type objKey struct{ Namespace, Name string }

func (k objKey) String() string { return k.Namespace + "/" + k.Name }

// requirement is one required dependency of a Microservice at one version of
// its spec, and the variable its pods must then carry: the dependency's
// env.name, else <NAME>_HOST (<NAME>_URL is not always set).
type requirement struct {
	Dep objKey
	Env string
}

// serviceVersion is one version of a Microservice as the watcher received it.
type serviceVersion struct {
	Seq             int // the order of receipt, across all the watches
	ResourceVersion string
	Requires        []requirement
	// Available is the Available condition's status ("" when the condition
	// is missing or the object is gone) and Since when that status began,
	// in Unix seconds: the condition's lastTransitionTime, the object's
	// creation without the condition, or its deletion.
	Available metav1.ConditionStatus
	Since     int64
	Deleted   bool
}

type podSighting struct {
	Seq             int
	Pod             objKey
	ResourceVersion string
	Service         objKey
	Created         int64 // creationTimestamp, Unix seconds
}

type replicaSetVersion struct {
	Seq             int
	ReplicaSet      objKey
	ResourceVersion string
	Service         objKey
	Replicas        int32
	AppEnv          map[string]bool // nil: the template has no container named app
}

// history is everything the watchers saw, in the order they received it.
// Watches of different kinds are not ordered with each other, so nothing is
// judged on receipt: the judges read the whole history at the end.
type history struct {
	mu          sync.Mutex
	seq         int
	services    map[objKey][]serviceVersion
	pods        []podSighting
	podSeen     map[types.UID]bool
	replicaSets []replicaSetVersion
	rsSeen      map[string]bool
	lastSeen    map[string]string // kind/namespace/name -> the last resourceVersion received
	notes       []string
}

func newHistory() *history {
	return &history{
		services: map[objKey][]serviceVersion{},
		podSeen:  map[types.UID]bool{},
		rsSeen:   map[string]bool{},
		lastSeen: map[string]string{},
	}
}

func envPrefix(name string) string { return strings.ToUpper(strings.ReplaceAll(name, "-", "_")) }

// requirements are the required dependencies of ms's spec.
func requirements(ms *msv1.Microservice) []requirement {
	var out []requirement
	for _, d := range ms.Spec.Dependencies {
		if d.Optional {
			continue
		}
		r := requirement{Dep: objKey{Namespace: d.Namespace, Name: d.Name}, Env: envPrefix(d.Name) + "_HOST"}
		if r.Dep.Namespace == "" {
			r.Dep.Namespace = ms.Namespace
		}
		if d.Env != nil {
			r.Env = d.Env.Name
		}
		out = append(out, r)
	}
	return out
}

func (h *history) seen(kind string, obj metav1.Object) {
	h.lastSeen[kind+"/"+obj.GetNamespace()+"/"+obj.GetName()] = obj.GetResourceVersion()
}

// recordService records one version of a Microservice; gone is when a
// deleted one was seen gone.
func (h *history) recordService(ms *msv1.Microservice, deleted bool, gone time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.seq++
	h.seen("Microservice", ms)
	v := serviceVersion{Seq: h.seq, ResourceVersion: ms.ResourceVersion, Requires: requirements(ms), Since: ms.CreationTimestamp.Unix()}
	switch c := apimeta.FindStatusCondition(ms.Status.Conditions, msv1.AvailableCondition); {
	case deleted:
		v.Deleted, v.Since = true, gone.Unix()
	case c != nil:
		v.Available, v.Since = c.Status, c.LastTransitionTime.Unix()
	}
	k := objKey{Namespace: ms.Namespace, Name: ms.Name}
	h.services[k] = append(h.services[k], v)
}

// recordPod records the first version of each pod of a Microservice.
func (h *history) recordPod(pod *corev1.Pod) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.seq++
	h.seen("Pod", pod)
	service, ok := pod.Labels[microserviceLabel]
	if !ok || h.podSeen[pod.UID] {
		return
	}
	h.podSeen[pod.UID] = true
	h.pods = append(h.pods, podSighting{
		Seq: h.seq, Pod: objKey{Namespace: pod.Namespace, Name: pod.Name}, ResourceVersion: pod.ResourceVersion,
		Service: objKey{Namespace: pod.Namespace, Name: service}, Created: pod.CreationTimestamp.Unix(),
	})
}

// recordReplicaSet records every version of each ReplicaSet that a
// Deployment of a Microservice owns.
func (h *history) recordReplicaSet(rs *appsv1.ReplicaSet) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.seq++
	h.seen("ReplicaSet", rs)
	service, ok := rs.Spec.Template.Labels[microserviceLabel]
	owner := metav1.GetControllerOf(rs)
	id := string(rs.UID) + "/" + rs.ResourceVersion
	if !ok || owner == nil || owner.Kind != "Deployment" || h.rsSeen[id] {
		return
	}
	h.rsSeen[id] = true
	v := replicaSetVersion{
		Seq: h.seq, ReplicaSet: objKey{Namespace: rs.Namespace, Name: rs.Name}, ResourceVersion: rs.ResourceVersion,
		Service: objKey{Namespace: rs.Namespace, Name: service}, Replicas: ptr.Deref(rs.Spec.Replicas, 1),
	}
	for _, c := range rs.Spec.Template.Spec.Containers {
		if c.Name != appContainer {
			continue
		}
		v.AppEnv = map[string]bool{}
		for _, e := range c.Env {
			v.AppEnv[e.Name] = true
		}
	}
	h.replicaSets = append(h.replicaSets, v)
}

func (h *history) note(format string, args ...any) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.notes = append(h.notes, fmt.Sprintf(format, args...))
}

// specAt is the version of a Microservice's spec in force when the event
// with sequence number seq was received: the last version received before
// it, or, when the event came first, the first one received after.
func (h *history) specAt(k objKey, seq int) (serviceVersion, bool) {
	versions := h.services[k]
	if len(versions) == 0 {
		return serviceVersion{}, false
	}
	at := versions[0]
	for _, v := range versions {
		if v.Seq > seq {
			break
		}
		if !v.Deleted {
			at = v
		}
	}
	return at, true
}

// availableAt says whether the Microservice k was Available at the instant
// t (Unix seconds), and why not. Its state at t is the one of the last
// version received whose Since is not after t: a dependency seen
// Available=False (or without the condition, or deleted) from a second
// at or before t, and not seen True again from a second at or before t, was
// not available at t. At second resolution, a status that began in the
// same second as t counts as in force at t.
func (h *history) availableAt(k objKey, t int64) (bool, string) {
	versions := h.services[k]
	if len(versions) == 0 {
		return false, "it was never seen"
	}
	var state *serviceVersion
	for i := range versions {
		if versions[i].Since <= t {
			state = &versions[i]
		}
	}
	stamp := func(s int64) string { return time.Unix(s, 0).UTC().Format(time.RFC3339) }
	switch {
	case state == nil:
		return false, fmt.Sprintf("its first version seen (resourceVersion %s) dates from %s, after that instant", versions[0].ResourceVersion, stamp(versions[0].Since))
	case state.Deleted:
		return false, fmt.Sprintf("it was deleted at %s (seen at resourceVersion %s)", stamp(state.Since), state.ResourceVersion)
	case state.Available == "":
		return false, fmt.Sprintf("it had no Available condition at resourceVersion %s", state.ResourceVersion)
	case state.Available != metav1.ConditionTrue:
		return false, fmt.Sprintf("it was Available=%s since %s (resourceVersion %s)", state.Available, stamp(state.Since), state.ResourceVersion)
	}
	return true, ""
}

// judgePods checks that no pod of a Microservice was created before every
// required dependency of that Microservice was Available. checked counts the
// pods that had at least one required dependency.
func (h *history) judgePods() (checked int, violations []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, p := range h.pods {
		spec, ok := h.specAt(p.Service, p.Seq)
		if !ok || len(spec.Requires) == 0 {
			continue
		}
		checked++
		for _, r := range spec.Requires {
			if ok, why := h.availableAt(r.Dep, p.Created); !ok {
				violations = append(violations, fmt.Sprintf(
					"pod %s (resourceVersion %s, created %s) of Microservice %s started before its required dependency %s was Available: %s",
					p.Pod, p.ResourceVersion, time.Unix(p.Created, 0).UTC().Format(time.RFC3339), p.Service, r.Dep, why))
			}
		}
	}
	return checked, violations
}

// versionsOf describes, for a report, every version of the Microservices
// named in violations: what a judge read, in the order it was received.
func (h *history) versionsOf(violations []string) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	keys := make([]objKey, 0, len(h.services))
	for k := range h.services {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b objKey) int { return strings.Compare(a.Namespace+"/"+a.Name, b.Namespace+"/"+b.Name) })
	var b strings.Builder
	for _, k := range keys {
		name := k.Namespace + "/" + k.Name
		if !slices.ContainsFunc(violations, func(v string) bool { return strings.Contains(v, " "+name+" ") }) {
			continue
		}
		fmt.Fprintf(&b, "versions of %s (receipt order, resourceVersion, Available, since):", name)
		for _, v := range h.services[k] {
			state := string(v.Available)
			if v.Deleted {
				state = "deleted"
			}
			fmt.Fprintf(&b, " #%d rv %s %s %s;", v.Seq, v.ResourceVersion, state, time.Unix(v.Since, 0).UTC().Format(time.TimeOnly))
		}
		b.WriteString("\n")
	}
	for _, p := range h.pods {
		if slices.ContainsFunc(violations, func(v string) bool { return strings.Contains(v, "pod "+p.Pod.Namespace+"/"+p.Pod.Name+" ") }) {
			fmt.Fprintf(&b, "pod %s/%s received as #%d\n", p.Pod.Namespace, p.Pod.Name, p.Seq)
		}
	}
	return b.String()
}

// judgeReplicaSets checks that no ReplicaSet version asking for pods has a
// template whose app container lacks the variable of a required dependency
// of the Microservice's spec as it was when that version was received.
// checked counts the versions that asked for pods and had at least one
// required dependency.
func (h *history) judgeReplicaSets() (checked int, violations []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, rs := range h.replicaSets {
		if rs.Replicas == 0 {
			continue
		}
		spec, ok := h.specAt(rs.Service, rs.Seq)
		if !ok || len(spec.Requires) == 0 {
			continue
		}
		checked++
		if rs.AppEnv == nil {
			violations = append(violations, fmt.Sprintf("ReplicaSet %s (resourceVersion %s, replicas %d) of Microservice %s has no container named %s",
				rs.ReplicaSet, rs.ResourceVersion, rs.Replicas, rs.Service, appContainer))
			continue
		}
		var missing []string
		for _, r := range spec.Requires {
			if !rs.AppEnv[r.Env] {
				missing = append(missing, fmt.Sprintf("%s (dependency %s)", r.Env, r.Dep))
			}
		}
		if len(missing) > 0 {
			violations = append(violations, fmt.Sprintf("ReplicaSet %s (resourceVersion %s, replicas %d) of Microservice %s (spec at resourceVersion %s) asks for pods without %s",
				rs.ReplicaSet, rs.ResourceVersion, rs.Replicas, rs.Service, spec.ResourceVersion, strings.Join(missing, ", ")))
		}
	}
	return checked, violations
}

// missedVersions lists the objects whose current version (in a fresh list)
// the watchers have not received yet; an empty list means they caught up.
func (h *history) missedVersions(kind string, objs []metav1.Object) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, o := range objs {
		if got := h.lastSeen[kind+"/"+o.GetNamespace()+"/"+o.GetName()]; got != o.GetResourceVersion() {
			out = append(out, fmt.Sprintf("%s %s/%s at %s (last received %q)", kind, o.GetNamespace(), o.GetName(), o.GetResourceVersion(), got))
		}
	}
	sort.Strings(out)
	return out
}

// The tests below feed the history by hand and check that each judge
// reports what it must, and passes what it must.

type fixture struct {
	h   *history
	rv  int
	now time.Time
}

func newFixture() *fixture {
	return &fixture{h: newHistory(), now: time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)}
}

func (f *fixture) nextRV() string { f.rv++; return fmt.Sprint(f.rv) }

func (f *fixture) at(sec int) metav1.Time {
	return metav1.NewTime(f.now.Add(time.Duration(sec) * time.Second))
}

// service records a version of a Microservice created at second 0, with the
// Available condition given as status and lastTransitionTime ("" for none).
func (f *fixture) service(name string, status metav1.ConditionStatus, since int, deps ...msv1.Dependency) {
	ms := &msv1.Microservice{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: name, ResourceVersion: f.nextRV(), CreationTimestamp: f.at(0)}}
	ms.Spec.Dependencies = deps
	if status != "" {
		ms.Status.Conditions = []metav1.Condition{{Type: msv1.AvailableCondition, Status: status, LastTransitionTime: f.at(since)}}
	}
	f.h.recordService(ms, false, time.Time{})
}

func (f *fixture) pod(service string, created int) {
	f.h.recordPod(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{
		Namespace: "shop", Name: fmt.Sprintf("%s-%d", service, created), UID: types.UID(f.nextRV()),
		ResourceVersion: fmt.Sprint(f.rv), CreationTimestamp: f.at(created), Labels: map[string]string{microserviceLabel: service},
	}})
}

// replicaSet records a new version of the service's one ReplicaSet, with
// these variables in its app container.
func (f *fixture) replicaSet(service string, replicas int32, env ...string) *appsv1.ReplicaSet {
	rs := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{
		Namespace: "shop", Name: service + "-5d8f", UID: types.UID(service + "-rs"), ResourceVersion: f.nextRV(),
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: service, Controller: ptr.To(true)}},
	}}
	rs.Spec.Replicas = ptr.To(replicas)
	rs.Spec.Template.Labels = map[string]string{microserviceLabel: service}
	c := corev1.Container{Name: appContainer}
	for _, e := range env {
		c.Env = append(c.Env, corev1.EnvVar{Name: e, Value: "x"})
	}
	rs.Spec.Template.Spec.Containers = []corev1.Container{c}
	f.h.recordReplicaSet(rs)
	return rs
}

// expectJudged checks a judge's count and that its violations mention, in
// order, what each one must.
func expectJudged(t *testing.T, checked, wantChecked int, violations []string, want ...string) {
	t.Helper()
	if checked != wantChecked {
		t.Errorf("checked %d, want %d", checked, wantChecked)
	}
	if len(violations) != len(want) {
		t.Fatalf("%d violations, want %d:\n%s", len(violations), len(want), strings.Join(violations, "\n"))
	}
	for i, w := range want {
		if !strings.Contains(violations[i], w) {
			t.Errorf("violation %d is %q, want it to mention %q", i, violations[i], w)
		}
	}
}

var (
	cartDep  = msv1.Dependency{Name: "cartservice", Env: &msv1.DependencyEnv{Name: "CART_SERVICE_ADDR"}}
	redisDep = msv1.Dependency{Name: "redis-cart"}
	adDep    = msv1.Dependency{Name: "adservice", Optional: true}
)

func TestPodsJudgedAgainstTheDependenciesHistory(t *testing.T) {
	f := newFixture()
	f.service("redis-cart", "", 0)
	f.service("cartservice", "", 0, redisDep)
	f.service("frontend", "", 0, cartDep, adDep)
	// A pod of cartservice at second 3, received before the redis-cart
	// version that says redis-cart was Available from second 2: watches of
	// different kinds are not ordered.
	f.pod("cartservice", 3)
	f.service("redis-cart", metav1.ConditionTrue, 2)
	// The frontend's pod at second 5, before cartservice became Available at
	// second 6: a violation, however late cartservice's version arrives.
	f.pod("frontend", 5)
	f.service("cartservice", metav1.ConditionTrue, 6)
	// A pod in the same second as the transition is given the benefit of
	// the doubt; one while cartservice was down (Available=False from 20 to
	// 30) is not.
	f.pod("frontend", 6)
	f.service("cartservice", metav1.ConditionFalse, 20)
	f.pod("frontend", 25)
	f.service("cartservice", metav1.ConditionTrue, 30)
	f.pod("frontend", 31)
	// A pod of a service without required dependencies is not counted.
	f.pod("redis-cart", 1)
	// A pod whose dependency never existed.
	f.service("checkoutservice", "", 0, msv1.Dependency{Name: "paymentservice"})
	f.pod("checkoutservice", 40)

	checked, violations := f.h.judgePods()
	expectJudged(t, checked, 6, violations,
		"pod shop/frontend-5 (resourceVersion 6, created 2026-01-01T12:00:05Z) of Microservice shop/frontend started before its required dependency shop/cartservice was Available: it had no Available condition",
		"pod shop/frontend-25 (resourceVersion 10, created 2026-01-01T12:00:25Z) of Microservice shop/frontend started before its required dependency shop/cartservice was Available: it was Available=False since 2026-01-01T12:00:20Z",
		"pod shop/checkoutservice-40 (resourceVersion 15, created 2026-01-01T12:00:40Z) of Microservice shop/checkoutservice started before its required dependency shop/paymentservice was Available: it was never seen")
}

func TestPodsJudgedAgainstADeletedDependency(t *testing.T) {
	f := newFixture()
	f.service("redis-cart", metav1.ConditionTrue, 1)
	f.service("cartservice", "", 0, redisDep)
	f.pod("cartservice", 2)
	gone := &msv1.Microservice{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "redis-cart", ResourceVersion: f.nextRV()}}
	f.h.recordService(gone, true, f.at(10).Time)
	f.pod("cartservice", 12)
	checked, violations := f.h.judgePods()
	expectJudged(t, checked, 2, violations,
		"pod shop/cartservice-12 (resourceVersion 5, created 2026-01-01T12:00:12Z) of Microservice shop/cartservice started before its required dependency shop/redis-cart was Available: it was deleted at 2026-01-01T12:00:10Z")
}

func TestReplicaSetsJudgedAgainstTheSpecOfTheirTime(t *testing.T) {
	f := newFixture()
	f.service("frontend", "", 0, adDep)
	// Only an optional dependency: nothing is required of this version.
	f.replicaSet("frontend", 2)
	// Then two required ones. A version at zero replicas may lack their
	// variables; one that asks for pods may not: the bug of the two pods
	// started without the dependencies' environment.
	f.service("frontend", "", 0, cartDep, redisDep, adDep)
	f.replicaSet("frontend", 0)
	f.replicaSet("frontend", 2)
	f.replicaSet("frontend", 2, "CART_SERVICE_ADDR")
	good := f.replicaSet("frontend", 2, "CART_SERVICE_ADDR", "REDIS_CART_HOST", "REDIS_CART_PORT")
	// A version received twice (a relist) counts once.
	f.h.recordReplicaSet(good)

	checked, violations := f.h.judgeReplicaSets()
	expectJudged(t, checked, 3, violations,
		"ReplicaSet shop/frontend-5d8f (resourceVersion 5, replicas 2) of Microservice shop/frontend (spec at resourceVersion 3) asks for pods without CART_SERVICE_ADDR (dependency shop/cartservice), REDIS_CART_HOST (dependency shop/redis-cart)",
		"ReplicaSet shop/frontend-5d8f (resourceVersion 6, replicas 2) of Microservice shop/frontend (spec at resourceVersion 3) asks for pods without REDIS_CART_HOST (dependency shop/redis-cart)")
}

func TestReplicaSetWithoutTheAppContainerIsAViolation(t *testing.T) {
	f := newFixture()
	f.service("cartservice", "", 0, redisDep)
	f.replicaSet("cartservice", 1, "REDIS_CART_HOST")
	f.h.replicaSets[0].AppEnv = nil
	checked, violations := f.h.judgeReplicaSets()
	expectJudged(t, checked, 1, violations, "ReplicaSet shop/cartservice-5d8f (resourceVersion 2, replicas 1) of Microservice shop/cartservice has no container named app")
}

func TestNothingSeenChecksNothing(t *testing.T) {
	h := newHistory()
	if n, v := h.judgePods(); n != 0 || v != nil {
		t.Errorf("pods: %d checked, %v", n, v)
	}
	if n, v := h.judgeReplicaSets(); n != 0 || v != nil {
		t.Errorf("replicasets: %d checked, %v", n, v)
	}
}
