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

// This file has no build tag: the chaos spec's history and its two judges
// are pure, and their tests (at the end) run in make test as well as in the
// e2e suite, whose chaos spec (chaos_test.go) feeds them every version of
// the Microservice, HTTPRoutes and Pods of its namespace.

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
)

// The label of a pod's track (stable or canary), spelled out like
// microserviceLabel.
const trackLabel = "apps.msvc.dev/track"

type weightedBackend struct {
	Name   string
	Weight int32
}

// chaosVersion is one version of an object, as a watch received it.
type chaosVersion struct {
	RV      int64
	Kind    string // Microservice, HTTPRoute or Pod
	Name    string
	Deleted bool

	Backends []weightedBackend // of an HTTPRoute, every rule's
	Track    string            // of a Pod
	Serving  bool              // of a Pod: Ready and not terminating, so an endpoint that takes requests
	Rollout  *msv1.RolloutStatus
	// Seen is when the watch delivered the version, to set failed requests
	// beside the versions in a trace.
	Seen time.Time
}

// chaosHistory is every version of the objects of one namespace that the
// watches received. Watches of different kinds are not ordered with each
// other; the judges order every version by resourceVersion, which on one
// kube-apiserver over one etcd (the local cluster's) is etcd's revision,
// one counter across all kinds, so the order in which the versions were
// written.
type chaosHistory struct {
	mu        sync.Mutex
	versions  []chaosVersion
	lastSeen  map[string]string // kind/name -> the last resourceVersion received
	unordered []string          // versions whose resourceVersion is not a number
}

func newChaosHistory() *chaosHistory { return &chaosHistory{lastSeen: map[string]string{}} }

func (h *chaosHistory) add(obj metav1.Object, v chaosVersion) {
	h.mu.Lock()
	defer h.mu.Unlock()
	v.Name = obj.GetName()
	if v.Seen.IsZero() {
		v.Seen = time.Now()
	}
	h.lastSeen[v.Kind+"/"+v.Name] = obj.GetResourceVersion()
	rv, err := strconv.ParseInt(obj.GetResourceVersion(), 10, 64)
	if err != nil {
		h.unordered = append(h.unordered, fmt.Sprintf("%s %s at %q", v.Kind, v.Name, obj.GetResourceVersion()))
		return
	}
	v.RV = rv
	h.versions = append(h.versions, v)
}

func (h *chaosHistory) recordRoute(r *gwv1.HTTPRoute, deleted bool) {
	v := chaosVersion{Kind: "HTTPRoute", Deleted: deleted}
	for _, rule := range r.Spec.Rules {
		for _, b := range rule.BackendRefs {
			v.Backends = append(v.Backends, weightedBackend{Name: string(b.Name), Weight: ptr.Deref(b.Weight, 1)})
		}
	}
	h.add(r, v)
}

func (h *chaosHistory) recordPod(p *corev1.Pod, deleted bool) {
	v := chaosVersion{Kind: "Pod", Deleted: deleted, Track: p.Labels[trackLabel]}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
			v.Serving = !deleted && p.DeletionTimestamp == nil
		}
	}
	h.add(p, v)
}

func (h *chaosHistory) recordService(ms *msv1.Microservice, deleted bool) {
	v := chaosVersion{Kind: "Microservice", Deleted: deleted}
	if ms.Status.Rollout != nil {
		v.Rollout = ms.Status.Rollout.DeepCopy()
	}
	h.add(ms, v)
}

// ordered is the history in resourceVersion order.
func (h *chaosHistory) ordered() []chaosVersion {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := append([]chaosVersion(nil), h.versions...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].RV < out[j].RV })
	return out
}

// missedVersions lists the objects whose current version (in a fresh list)
// the watches have not received yet.
func (h *chaosHistory) missedVersions(kind string, objs []metav1.Object) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, o := range objs {
		if got := h.lastSeen[kind+"/"+o.GetName()]; got != o.GetResourceVersion() {
			out = append(out, fmt.Sprintf("%s %s at %s (last received %q)", kind, o.GetName(), o.GetResourceVersion(), got))
		}
	}
	return out
}

// trackOf is the track whose pods the backend Service selects: the
// Service named after the Microservice selects both ("").
func trackOf(service, backend string) (string, bool) {
	switch backend {
	case service + "-stable":
		return "stable", true
	case service + "-canary":
		return "canary", true
	case service:
		return "", true
	}
	return "", false
}

// judgeTraffic replays the routes and pods of Microservice service in the
// order they were written and checks, after every version, that no route
// gives weight to a track without a serving pod while another track has
// one. A violation is reported once, when it begins. checked counts the
// route and pod versions replayed.
func judgeTraffic(service string, history []chaosVersion) (checked int, violations []string) {
	pods := map[string]chaosVersion{}
	routes := map[string][]weightedBackend{}
	broken := map[string]bool{}
	for _, v := range history {
		switch v.Kind {
		case "Pod":
			pods[v.Name] = v
		case "HTTPRoute":
			routes[v.Name] = v.Backends
			if v.Deleted {
				delete(routes, v.Name)
			}
		default:
			continue
		}
		checked++
		serving := map[string]int{}
		for _, p := range pods {
			if p.Serving {
				serving[p.Track]++
				serving[""]++
			}
		}
		names := make([]string, 0, len(routes))
		for name := range routes {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			for _, b := range routes[name] {
				track, ok := trackOf(service, b.Name)
				k := name + "/" + b.Name
				bad := ok && b.Weight > 0 && serving[track] == 0 && serving[""] > 0
				if bad && !broken[k] {
					violations = append(violations, fmt.Sprintf(
						"at resourceVersion %d (%s %s): route %s sends %d%% to %s, whose track has no serving pod (serving: stable %d, canary %d)",
						v.RV, v.Kind, v.Name, name, b.Weight, b.Name, serving["stable"], serving["canary"]))
				}
				broken[k] = bad
			}
		}
	}
	return checked, violations
}

func activePhase(p msv1.RolloutPhase) bool {
	return p == msv1.RolloutPhaseProgressing || p == msv1.RolloutPhasePaused || p == msv1.RolloutPhasePromoting
}

func terminalPhase(p msv1.RolloutPhase) bool {
	return p == msv1.RolloutPhaseSucceeded || p == msv1.RolloutPhaseRolledBack || p == msv1.RolloutPhaseAborted
}

// revisionOf is the revision a rollout status is about: the canary's, or,
// once promoted, the stable one it became.
func revisionOf(st *msv1.RolloutStatus) string {
	if st.Phase == msv1.RolloutPhaseSucceeded {
		return st.StableRevision
	}
	return st.CanaryRevision
}

// rolloutSteps describes the canary steps a judged rollout has.
type rolloutSteps struct {
	Count int32
	Gates map[int32]bool // the indices of the pauses without a duration
}

// stepOf is how far a rollout status is through the steps: CurrentStep,
// every step once promoted, and unknown (-1) otherwise.
func (s rolloutSteps) stepOf(st *msv1.RolloutStatus) int32 {
	if st.Phase == msv1.RolloutPhaseSucceeded {
		return s.Count
	}
	return ptr.Deref(st.CurrentStep, -1)
}

// rolloutCounts are what the rollout judge saw.
type rolloutCounts struct {
	Versions    int
	Started     []string                       // revisions, in the order they started
	Completions map[string][]msv1.RolloutPhase // the terminal phases each revision entered
}

func (c rolloutCounts) ended(phase msv1.RolloutPhase) int {
	n := 0
	for _, phases := range c.Completions {
		for _, p := range phases {
			if p == phase {
				n++
			}
		}
	}
	return n
}

// judgeRollouts reads every version of the Microservice's rollout status in
// order and checks that the rollout state is never lost (a status with a
// rollout followed by one without, or an active rollout by Idle), never goes
// back (a step before the last one of the same revision, or a finished
// rollout active again), that each gate is passed only with a promote value
// of promotes, each used once, and counts the rollouts started and the
// terminal phases each entered: a revision that enters a terminal phase
// more than once is a violation.
func judgeRollouts(steps rolloutSteps, promotes []string, history []chaosVersion) (rolloutCounts, []string) {
	counts := rolloutCounts{Completions: map[string][]msv1.RolloutPhase{}}
	allowed := map[string]bool{}
	for _, p := range promotes {
		allowed[p] = true
	}
	usedBy := map[string]string{}
	var violations []string
	var prev *msv1.RolloutStatus
	for _, v := range history {
		if v.Kind != "Microservice" {
			continue
		}
		if v.Deleted {
			prev = nil
			continue
		}
		counts.Versions++
		cur := v.Rollout
		at := fmt.Sprintf("at resourceVersion %d", v.RV)
		if cur == nil {
			if prev != nil {
				violations = append(violations, fmt.Sprintf("%s: the rollout status is gone (it was %s)", at, prev.Phase))
			}
			prev = nil
			continue
		}
		rev := revisionOf(cur)
		sameRev := prev != nil && revisionOf(prev) == rev
		switch {
		case prev != nil && activePhase(prev.Phase) && cur.Phase == msv1.RolloutPhaseIdle:
			violations = append(violations, fmt.Sprintf("%s: the rollout of %s (%s) is lost: the status says Idle", at, revisionOf(prev), prev.Phase))
		case sameRev && terminalPhase(prev.Phase) && activePhase(cur.Phase):
			violations = append(violations, fmt.Sprintf("%s: the rollout of %s went back from %s to %s", at, rev, prev.Phase, cur.Phase))
		}
		if activePhase(cur.Phase) && !(sameRev && activePhase(prev.Phase)) {
			counts.Started = append(counts.Started, rev)
		}
		if terminalPhase(cur.Phase) && !(sameRev && prev.Phase == cur.Phase) {
			if len(counts.Completions[rev]) > 0 {
				violations = append(violations, fmt.Sprintf("%s: the rollout of %s ended again, %s after %v", at, rev, cur.Phase, counts.Completions[rev]))
			}
			counts.Completions[rev] = append(counts.Completions[rev], cur.Phase)
		}
		if activePhase(cur.Phase) || terminalPhase(cur.Phase) {
			violations = append(violations, judgeSteps(steps, at, rev, prev, cur, sameRev, allowed, usedBy)...)
		}
		prev = cur
	}
	return counts, violations
}

// judgeSteps checks one move of a rollout from prev to cur: no step back,
// and each gate passed with an allowed promote value not used before
// (recorded in usedBy).
func judgeSteps(steps rolloutSteps, at, rev string, prev, cur *msv1.RolloutStatus, sameRev bool, allowed map[string]bool, usedBy map[string]string) []string {
	var violations []string
	from, to := int32(0), steps.stepOf(cur)
	if sameRev && (activePhase(prev.Phase) || terminalPhase(prev.Phase)) {
		from = max(steps.stepOf(prev), 0)
	}
	if cur.Phase == msv1.RolloutPhaseAborted || cur.Phase == msv1.RolloutPhaseRolledBack {
		// An ended rollout may say where it stopped, or not.
		to = max(to, from)
	}
	if to < 0 {
		return nil
	}
	if to < from {
		violations = append(violations, fmt.Sprintf("%s: the rollout of %s went back from step %d to %d (%s to %s)", at, rev, from, to, prev.Phase, cur.Phase))
	}
	for g := from; g < to; g++ {
		if !steps.Gates[g] {
			continue
		}
		switch p := cur.HandledPromote; {
		case !allowed[p]:
			violations = append(violations, fmt.Sprintf("%s: gate %d of %s passed with promote %q, which the test did not write for a gate", at, g, rev, p))
		case usedBy[p] != "":
			violations = append(violations, fmt.Sprintf("%s: gate %d of %s passed with promote %q, which had passed %s", at, g, rev, p, usedBy[p]))
		default:
			usedBy[p] = fmt.Sprintf("gate %d of %s", g, rev)
		}
	}
	return violations
}

// traceLine spells out one version for the chaos spec's trace file.
func traceLine(v chaosVersion) string {
	out := fmt.Sprintf("%8d %-12s %s", v.RV, v.Kind, v.Name)
	if !v.Seen.IsZero() {
		out = v.Seen.Format("15:04:05.000") + " " + out
	}
	if v.Deleted {
		return out + " deleted"
	}
	switch v.Kind {
	case "HTTPRoute":
		var parts []string
		for _, b := range v.Backends {
			parts = append(parts, fmt.Sprintf("%s=%d", b.Name, b.Weight))
		}
		out += " " + strings.Join(parts, "/")
	case "Pod":
		out += fmt.Sprintf(" track=%s serving=%t", v.Track, v.Serving)
	case "Microservice":
		if st := v.Rollout; st != nil {
			out += fmt.Sprintf(" phase=%s step=%d weight=%d canary=%s stable=%s promote=%q abort=%q | %s",
				st.Phase, ptr.Deref(st.CurrentStep, -1), st.CanaryWeight, st.CanaryRevision, st.StableRevision, st.HandledPromote, st.HandledAbort, st.Message)
		}
	}
	return out
}

// The tests below feed the judges by hand.

type chaosFixture struct {
	h  *chaosHistory
	rv int
}

func (f *chaosFixture) meta(name string) metav1.ObjectMeta {
	f.rv++
	return metav1.ObjectMeta{Namespace: "chaos", Name: name, ResourceVersion: fmt.Sprint(f.rv)}
}

func (f *chaosFixture) route(stable, canary int32) {
	r := &gwv1.HTTPRoute{ObjectMeta: f.meta("shop")}
	r.Spec.Rules = []gwv1.HTTPRouteRule{{BackendRefs: []gwv1.HTTPBackendRef{
		{BackendRef: gwv1.BackendRef{BackendObjectReference: gwv1.BackendObjectReference{Name: "shop-stable"}, Weight: ptr.To(stable)}},
		{BackendRef: gwv1.BackendRef{BackendObjectReference: gwv1.BackendObjectReference{Name: "shop-canary"}, Weight: ptr.To(canary)}},
	}}}
	f.h.recordRoute(r, false)
}

func (f *chaosFixture) pod(name, track string, ready, terminating, deleted bool) {
	p := &corev1.Pod{ObjectMeta: f.meta(name)}
	p.Labels = map[string]string{microserviceLabel: "shop", trackLabel: track}
	if terminating {
		p.DeletionTimestamp = ptr.To(metav1.Now())
	}
	status := corev1.ConditionFalse
	if ready {
		status = corev1.ConditionTrue
	}
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: status}}
	f.h.recordPod(p, deleted)
}

func (f *chaosFixture) rollout(phase msv1.RolloutPhase, step int32, canary, stable, promote string) {
	ms := &msv1.Microservice{ObjectMeta: f.meta("shop")}
	ms.Status.Rollout = &msv1.RolloutStatus{Phase: phase, CanaryRevision: canary, StableRevision: stable, HandledPromote: promote}
	if step >= 0 {
		ms.Status.Rollout.CurrentStep = ptr.To(step)
	}
	f.h.recordService(ms, false)
}

func expectViolations(t *testing.T, violations []string, want ...string) {
	t.Helper()
	if len(violations) != len(want) {
		t.Fatalf("%d violations, want %d:\n%s", len(violations), len(want), strings.Join(violations, "\n"))
	}
	for i, w := range want {
		if !strings.Contains(violations[i], w) {
			t.Errorf("violation %d is %q, want it to mention %q", i, violations[i], w)
		}
	}
}

func TestTrafficJudgedInTheOrderOfResourceVersions(t *testing.T) {
	f := &chaosFixture{h: newChaosHistory()}
	f.pod("stable-1", "stable", true, false, false)
	f.route(100, 0)
	f.pod("canary-1", "canary", false, false, false)
	f.route(80, 20) // 4: before the canary pod is ready
	f.pod("canary-1", "canary", true, false, false)
	f.route(80, 20)
	f.route(0, 100)
	f.pod("stable-1", "stable", true, true, false) // terminating: traffic is all on the canary, fine
	f.route(100, 0)                                // 9: to a stable track with no serving pod
	f.pod("stable-2", "stable", true, false, false)
	f.pod("canary-1", "canary", true, false, true)
	// Received out of order: the watches are not ordered with each other.
	versions := f.h.ordered()
	versions[3], versions[4] = versions[4], versions[3]
	h := &chaosHistory{versions: versions}
	checked, violations := judgeTraffic("shop", h.ordered())
	if checked != 11 {
		t.Errorf("checked %d versions, want 11", checked)
	}
	expectViolations(t, violations,
		"at resourceVersion 4 (HTTPRoute shop): route shop sends 20% to shop-canary",
		"at resourceVersion 9 (HTTPRoute shop): route shop sends 100% to shop-stable")
}

func TestTrafficWithoutAnyServingPodIsNotJudged(t *testing.T) {
	f := &chaosFixture{h: newChaosHistory()}
	f.route(100, 0)
	f.pod("stable-1", "stable", false, false, false)
	f.pod("stable-1", "stable", true, false, false)
	_, violations := judgeTraffic("shop", f.h.ordered())
	expectViolations(t, violations)
}

var chaosSteps = rolloutSteps{Count: 4, Gates: map[int32]bool{1: true}}

func TestRolloutsJudgedCompleteOnceWithTheirOwnPromote(t *testing.T) {
	f := &chaosFixture{h: newChaosHistory()}
	f.rollout(msv1.RolloutPhaseIdle, -1, "", "r1", "")
	f.rollout(msv1.RolloutPhaseProgressing, 0, "r2", "r1", "")
	f.rollout(msv1.RolloutPhasePaused, 1, "r2", "r1", "")
	f.rollout(msv1.RolloutPhaseProgressing, 2, "r2", "r1", "p2")
	f.rollout(msv1.RolloutPhasePromoting, 4, "r2", "r1", "p2")
	f.rollout(msv1.RolloutPhaseSucceeded, -1, "", "r2", "p2")
	f.rollout(msv1.RolloutPhaseSucceeded, -1, "", "r2", "p2")
	f.rollout(msv1.RolloutPhaseProgressing, 0, "r3", "r2", "p2")
	f.rollout(msv1.RolloutPhasePaused, 1, "r3", "r2", "p2")
	f.rollout(msv1.RolloutPhaseAborted, 1, "r3", "r2", "p2")
	f.rollout(msv1.RolloutPhaseAborted, 1, "r3", "r2", "p2")
	counts, violations := judgeRollouts(chaosSteps, []string{"p2"}, f.h.ordered())
	expectViolations(t, violations)
	if counts.Versions != 11 || strings.Join(counts.Started, ",") != "r2,r3" ||
		counts.ended(msv1.RolloutPhaseSucceeded) != 1 || counts.ended(msv1.RolloutPhaseAborted) != 1 {
		t.Errorf("counts %+v, want 11 versions, r2 and r3 started, one succeeded and one aborted", counts)
	}
}

func TestRolloutsJudgedLostBackwardsTwiceOrPromotedByAStaleValue(t *testing.T) {
	f := &chaosFixture{h: newChaosHistory()}
	f.rollout(msv1.RolloutPhaseProgressing, 0, "r2", "r1", "")
	f.rollout(msv1.RolloutPhasePaused, 1, "r2", "r1", "")
	f.rollout(msv1.RolloutPhaseProgressing, 2, "r2", "r1", "p2")
	f.rollout(msv1.RolloutPhasePaused, 1, "r2", "r1", "p2") // 4: back a step
	f.rollout(msv1.RolloutPhaseProgressing, 2, "r2", "r1", "p2")
	f.rollout(msv1.RolloutPhaseSucceeded, -1, "", "r2", "p2")
	f.rollout(msv1.RolloutPhasePromoting, 4, "r2", "r1", "p2") // 7: back from Succeeded
	f.rollout(msv1.RolloutPhaseSucceeded, -1, "", "r2", "p2")  // 8: ends twice
	f.rollout(msv1.RolloutPhaseProgressing, 0, "r3", "r2", "p2")
	f.rollout(msv1.RolloutPhaseProgressing, 2, "r3", "r2", "p2") // 10: the gate passed by p2 again
	f.rollout(msv1.RolloutPhaseIdle, -1, "", "r2", "p2")         // 11: lost
	ms := &msv1.Microservice{ObjectMeta: f.meta("shop")}
	f.h.recordService(ms, false) // 12: gone
	_, violations := judgeRollouts(chaosSteps, []string{"p2"}, f.h.ordered())
	expectViolations(t, violations,
		"at resourceVersion 4: the rollout of r2 went back from step 2 to 1",
		`at resourceVersion 5: gate 1 of r2 passed with promote "p2", which had passed gate 1 of r2`,
		"at resourceVersion 7: the rollout of r2 went back from Succeeded to Promoting",
		"at resourceVersion 8: the rollout of r2 ended again, Succeeded after [Succeeded]",
		`at resourceVersion 10: gate 1 of r3 passed with promote "p2", which had passed gate 1 of r2`,
		"at resourceVersion 11: the rollout of r3 (Progressing) is lost",
		"at resourceVersion 12: the rollout status is gone (it was Idle)")
}
