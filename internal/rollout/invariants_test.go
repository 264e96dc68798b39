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

package rollout

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
)

// invariants are checked on every tick of every scenario, right after the
// reconciler applied the Decision and before any pod became ready: the
// worst moment for traffic.
type invariants struct {
	order   []string
	seen    map[string]*violation
	stopped bool   // an abort or rollback happened; cleared by a retry or a new rollout
	stopRev string // the revision that was aborted or rolled back
	minStab int32  // smallest stable replica count since the weight was last raised
	acted   map[string]bool
	stale   map[string]bool
	// started: the service has run pods (a new service has not, at first).
	started, depsInit bool
}

type violation struct {
	count int
	first string
}

func newInvariants() *invariants {
	return &invariants{seen: map[string]*violation{}, acted: map[string]bool{}, stale: map[string]bool{}}
}

func (v *invariants) fail(r tickRecord, key, format string, args ...any) {
	x := v.seen[key]
	if x == nil {
		x = &violation{first: fmt.Sprintf("tick %d (t=%s): %s", r.tick, clock(r.now.Sub(simEpoch)), fmt.Sprintf(format, args...))}
		v.seen[key] = x
		v.order = append(v.order, key)
	}
	x.count++
}

func (v *invariants) report(t *testing.T, s *sim) {
	t.Helper()
	for _, key := range v.order {
		x := v.seen[key]
		t.Errorf("invariant %q violated on %d tick(s); first at %s", key, x.count, x.first)
	}
	if len(v.order) > 0 {
		t.Logf("trace of this run:\n%s", s.trace())
	}
}

func hasEvent(d Decision, reasons ...string) bool {
	return slices.ContainsFunc(d.Events, func(e Event) bool { return slices.Contains(reasons, e.Reason) })
}

func stoppedPhase(p msv1.RolloutPhase) bool {
	return p == msv1.RolloutPhaseAborted || p == msv1.RolloutPhaseRolledBack
}

// controls pairs each control annotation with the event its action emits
// and the status field recording its handled value.
var controls = []struct {
	annotation string
	reason     string
	handled    func(*msv1.RolloutStatus) string
}{
	{msv1.PromoteAnnotation, "RolloutPromoted", func(st *msv1.RolloutStatus) string { return st.HandledPromote }},
	{msv1.PromoteFullAnnotation, "RolloutPromotedFull", func(st *msv1.RolloutStatus) string { return st.HandledPromoteFull }},
	{msv1.AbortAnnotation, "RolloutAborted", func(st *msv1.RolloutStatus) string { return st.HandledAbort }},
	{msv1.RetryAnnotation, "RolloutRetried", func(st *msv1.RolloutStatus) string { return st.HandledRetry }},
}

func (v *invariants) check(s *sim, r tickRecord) {
	v.checkDependencies(s, r)
	if s.sc.canary == nil {
		return
	}
	d, obs := r.d, r.obs
	st := d.Status
	w := st.CanaryWeight
	hasRoute := !s.sc.noRoute

	// Ranges.
	if w < 0 || w > 100 {
		v.fail(r, "weight within 0..100", "weight %d", w)
	}
	if d.CanaryReplicas < 0 || s.canary.replicas < 0 || s.stable.replicas < 0 {
		v.fail(r, "replicas never negative", "canary %d, stable %d", d.CanaryReplicas, s.stable.replicas)
	}
	if d.RequeueAfter < 0 {
		v.fail(r, "requeue never negative", "requeue %s", d.RequeueAfter)
	}

	// Traffic only reaches ready canary pods of the revision being delivered.
	// These checks are about the route, so they use the weight the route
	// gets, which is the status's weight unless a track has no ready pods.
	w = d.RouteWeight
	if d.RouteWeight != RouteWeight(st.CanaryWeight, obs) {
		v.fail(r, "route weight follows RouteWeight", "route %d for status weight %d", d.RouteWeight, st.CanaryWeight)
	}
	// With no serving pods on either track there is nowhere better to send
	// the traffic.
	nowhere := obs.StableServingReplicas == 0 && obs.CanaryServingReplicas == 0
	if hasRoute && w > 0 && s.canary.ready == 0 && !nowhere {
		v.fail(r, "no traffic to a canary with no ready pods", "route weight %d", w)
	}
	// The Gateway's data plane applies a route change later: while it
	// still sends the canary traffic by the route's previous version, the
	// canary keeps pods.
	if hasRoute && s.served > 0 && d.CanaryReplicas == 0 {
		v.fail(r, "canary not scaled to 0 while the data plane still sends it traffic", "the data plane sends the canary %d%% (route %d)", s.served, w)
	}
	if w > r.prevWeight {
		v.minStab = s.stable.replicas
	} else {
		v.minStab = min(v.minStab, s.stable.replicas)
	}
	if hasRoute && w > 0 {
		if w > r.prevWeight && (obs.CanaryRevision != s.desired || obs.CanaryReadyReplicas < CanaryReplicasFor(w, obs.StableReplicas)) {
			v.fail(r, "weight raised only onto enough ready canary pods",
				"weight %d -> %d with %d ready canary pods of %q observed, %d needed", r.prevWeight, w, obs.CanaryReadyReplicas, obs.CanaryRevision, CanaryReplicasFor(w, obs.StableReplicas))
		}
		if need := CanaryReplicasFor(w, s.stable.replicas); s.canary.ready < need && !nowhere {
			// The one tolerated shortfall: the stable track grew (HPA) after
			// the weight was set, the canary pods that carried the weight are
			// still ready and the planner already asked for the missing ones.
			catchingUp := s.canary.ready >= 1 && w <= r.prevWeight && d.CanaryReplicas >= need && CanaryReplicasFor(w, v.minStab) <= s.canary.ready
			if !catchingUp {
				v.fail(r, "no weight on a canary with fewer ready pods than CanaryReplicasFor(weight, stable)",
					"weight %d with %d ready canary pods, %d needed for %d stable replicas", w, s.canary.ready, need, s.stable.replicas)
			}
		}
	}
	if sw := st.CanaryWeight; sw > 0 && d.CanaryReplicas < CanaryReplicasFor(sw, obs.StableReplicas) {
		v.fail(r, "canary sized for its weight", "weight %d with %d canary replicas for %d stable", sw, d.CanaryReplicas, obs.StableReplicas)
	}
	if hasRoute && d.CanaryReplicas == 0 && (r.prevWeight > 0 || w > 0) {
		v.fail(r, "canary scaled to 0 only after its weight was 0 in an earlier tick", "weight was %d, now %d", r.prevWeight, w)
	}

	// At rest there is no canary traffic.
	switch st.Phase {
	case msv1.RolloutPhaseIdle, msv1.RolloutPhaseSucceeded, msv1.RolloutPhaseAborted, msv1.RolloutPhaseRolledBack:
		if w != 0 {
			v.fail(r, "no canary weight at rest", "phase %s with weight %d", st.Phase, w)
		}
	case "":
		v.fail(r, "phase always set", "empty phase")
	}

	// The stable track gets the new revision only when it is promoted (a
	// stable Deployment held at zero replicas has never served: it follows the
	// spec; and a spec back at the revision a promotion replaces puts that
	// revision back, which delivers nothing new).
	backToStable := r.prev != nil && r.prev.StableRevision == s.desired && r.prev.CanaryRevision != s.desired &&
		(r.prev.Phase == msv1.RolloutPhasePromoting || stoppedPhase(r.prev.Phase))
	if d.UpdateStable && obs.StableRevision != "" && !obs.StableHeld && obs.StableRevision != s.desired && !backToStable &&
		st.Phase != msv1.RolloutPhasePromoting && st.Phase != msv1.RolloutPhaseSucceeded {
		v.fail(r, "stable updated only when promoting", "stable %s -> %s in phase %s", obs.StableRevision, s.desired, st.Phase)
	}

	// Aborts and rollbacks are final until a retry or a new revision.
	restarted := hasEvent(d, "RolloutRetried", "RolloutStarted", "RolloutRestarted")
	if restarted {
		v.stopped, v.stopRev = false, ""
	}
	if p := r.prev; p != nil && stoppedPhase(p.Phase) && !restarted && st.Phase != p.Phase {
		v.fail(r, "aborted or rolled back rollouts stay so without a retry", "phase %s -> %s", p.Phase, st.Phase)
	}
	if v.stopped && !restarted && w > r.prevWeight {
		v.fail(r, "weight never increases after an abort or rollback", "weight %d -> %d", r.prevWeight, w)
	}
	if stoppedPhase(st.Phase) && !v.stopped {
		v.stopped, v.stopRev = true, st.CanaryRevision
	}
	// (A reconcile whose status was not written may have failed to put the
	// stable template back; the status it decided never holds.)
	if stoppedPhase(st.Phase) && v.stopRev != "" && s.stable.revision == v.stopRev && !r.statusLost {
		v.fail(r, "an aborted or rolled back revision does not run on the stable track",
			"phase %s but the stable Deployment runs %s", st.Phase, s.stable.revision)
	}

	// Analysis: each step judges the canary at its own weight, one interval in.
	// (status.rollout.analysis keeps the last analysis step's values until
	// the next analysis step replaces them; only the current step's count.)
	if a := st.Analysis; a != nil && st.CurrentStep != nil && a.Step == *st.CurrentStep && a.LastMeasuredAt != nil &&
		st.StepStartedAt != nil && a.LastMeasuredAt.Time.Before(st.StepStartedAt.Add(AnalysisInterval(s.sc.canary))) {
		v.fail(r, "an analysis step counts only measurements taken during it",
			"step %d started at %s counts a measurement of %s", ptr.Deref(st.CurrentStep, -1)+1,
			clock(st.StepStartedAt.Sub(simEpoch)), clock(a.LastMeasuredAt.Sub(simEpoch)))
	}
	if hasEvent(d, "AnalysisPassed") {
		// Passing takes count conclusive measurements of this step within
		// the failure limit; inconclusive ones (Prometheus down) never count.
		var conclusive, failed int32
		if p := r.prev; p != nil && p.Analysis != nil && p.CurrentStep != nil && p.Analysis.Step == *p.CurrentStep {
			conclusive, failed = p.Analysis.Measurements-p.Analysis.Inconclusives, p.Analysis.Failures
		}
		if m := obs.Measurement; m != nil && m.Phase != PhaseInconclusive {
			conclusive++
			if m.Phase == PhaseFailed {
				failed++
			}
		}
		a := s.sc.canary.Analysis
		if conclusive < ptr.Deref(a.Count, DefaultCount) || failed > ptr.Deref(a.FailureLimit, 0) {
			v.fail(r, "an analysis passes only on count conclusive measurements within the failure limit",
				"passed with %d conclusive measurements, %d failed", conclusive, failed)
		}
	}

	// Control annotations act once per value, and only on the rollout they
	// were set for.
	for _, c := range controls {
		if !hasEvent(d, c.reason) {
			continue
		}
		key := c.annotation + "=" + s.annotations[c.annotation]
		if v.acted[key] {
			v.fail(r, "a control annotation acts once per value", "%s acted again", key)
		}
		if v.stale[key] {
			v.fail(r, "a control annotation set while no rollout was running does not act on a later one",
				"%s (%s) acted on the rollout of %s", key, c.reason, st.CanaryRevision)
		}
		// An act whose status write was lost never happened for the next
		// reconcile, which acts again on the same value.
		v.acted[key] = !r.statusLost
	}
	for _, c := range controls {
		if val := s.annotations[c.annotation]; val != "" && val != c.handled(&st) {
			v.stale[c.annotation+"="+val] = true
		}
	}
}

// TestInvariantsCatchViolations feeds the checker decisions that break each
// invariant, so that a passing scenario means something.
func TestInvariantsCatchViolations(t *testing.T) {
	at := func(d time.Duration) *metav1.Time { x := metav1.NewTime(simEpoch.Add(d)); return &x }
	progressing := func(w int32) msv1.RolloutStatus {
		return msv1.RolloutStatus{Phase: msv1.RolloutPhaseProgressing, CanaryRevision: "rev2", CurrentStep: ptr.To[int32](0), CanaryWeight: w}
	}
	for _, tc := range []struct {
		name  string
		want  string
		setup func(s *sim) tickRecord
	}{
		{"weight above 100", "weight within 0..100", func(s *sim) tickRecord {
			s.canary = simDeployment{exists: true, revision: "rev2", replicas: 4, ready: 4}
			return tickRecord{d: Decision{Status: progressing(101), CanaryReplicas: 5}, obs: Observation{CanaryRevision: "rev2", CanaryReadyReplicas: 5, StableReplicas: 4}, prevWeight: 101}
		}},
		{"weight raised onto a starting pod", "weight raised only onto enough ready canary pods", func(s *sim) tickRecord {
			s.canary = simDeployment{exists: true, revision: "rev2", replicas: 1, ready: 1}
			return tickRecord{d: Decision{Status: progressing(20), CanaryReplicas: 1, RouteWeight: 20}, obs: Observation{CanaryRevision: "rev2", StableReplicas: 4}}
		}},
		{"weight on a canary whose pods went away", "no weight on a canary with fewer ready pods than CanaryReplicasFor(weight, stable)", func(s *sim) tickRecord {
			s.canary = simDeployment{exists: true, revision: "rev2", replicas: 1}
			return tickRecord{d: Decision{Status: progressing(20), CanaryReplicas: 1}, obs: Observation{CanaryRevision: "rev2", CanaryReadyReplicas: 1, StableReplicas: 4}, prevWeight: 20}
		}},
		{"canary removed while it still has traffic", "canary scaled to 0 only after its weight was 0 in an earlier tick", func(s *sim) tickRecord {
			st := progressing(0)
			st.Phase = msv1.RolloutPhaseAborted
			return tickRecord{d: Decision{Status: st}, prevWeight: 20}
		}},
		{"canary removed while the Gateway still sends it the old weight", "canary not scaled to 0 while the data plane still sends it traffic", func(s *sim) tickRecord {
			st := progressing(0)
			st.Phase = msv1.RolloutPhaseAborted
			s.served = 20
			return tickRecord{d: Decision{Status: st}, obs: Observation{StableReplicas: 4}}
		}},
		{"weight increased after an abort", "weight never increases after an abort or rollback", func(s *sim) tickRecord {
			s.inv.stopped = true
			s.canary = simDeployment{exists: true, revision: "rev2", replicas: 1, ready: 1}
			return tickRecord{d: Decision{Status: progressing(20), CanaryReplicas: 1}, obs: Observation{CanaryRevision: "rev2", CanaryReadyReplicas: 1, StableReplicas: 4}}
		}},
		{"traffic to a canary whose pods all crashed", "no traffic to a canary with no ready pods", func(s *sim) tickRecord {
			s.canary = simDeployment{exists: true, revision: "rev2", replicas: 1}
			return tickRecord{d: Decision{Status: progressing(20), CanaryReplicas: 1, RouteWeight: 20}, obs: Observation{CanaryRevision: "rev2", StableReplicas: 4}, prevWeight: 20}
		}},
		{"route weight that RouteWeight did not decide", "route weight follows RouteWeight", func(s *sim) tickRecord {
			s.canary = simDeployment{exists: true, revision: "rev2", replicas: 1, ready: 1}
			return tickRecord{d: Decision{Status: progressing(20), CanaryReplicas: 1, RouteWeight: 10}, obs: Observation{CanaryRevision: "rev2", CanaryReadyReplicas: 1, StableReplicas: 4}, prevWeight: 20}
		}},
		{"stable updated mid-canary", "stable updated only when promoting", func(s *sim) tickRecord {
			s.canary = simDeployment{exists: true, revision: "rev2", replicas: 1, ready: 1}
			return tickRecord{d: Decision{Status: progressing(0), CanaryReplicas: 1, UpdateStable: true}, obs: Observation{StableRevision: "rev1", StableReplicas: 4}}
		}},
		{"measurement of an earlier step", "an analysis step counts only measurements taken during it", func(s *sim) tickRecord {
			st := progressing(20)
			st.StepStartedAt = at(time.Minute)
			st.Analysis = &msv1.AnalysisStatus{Step: 0, Measurements: 1, LastMeasuredAt: at(time.Minute)}
			s.canary = simDeployment{exists: true, revision: "rev2", replicas: 1, ready: 1}
			return tickRecord{d: Decision{Status: st, CanaryReplicas: 1}, obs: Observation{CanaryRevision: "rev2", CanaryReadyReplicas: 1, StableReplicas: 4}, prevWeight: 20}
		}},
		{"promote acting twice on one value", "a control annotation acts once per value", func(s *sim) tickRecord {
			s.annotations[msv1.PromoteAnnotation] = "1"
			s.inv.acted[msv1.PromoteAnnotation+"=1"] = true
			return tickRecord{d: Decision{Status: progressing(0), CanaryReplicas: 1, Events: []Event{{Reason: "RolloutPromoted"}}}, obs: Observation{StableReplicas: 4}}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sc := &scenario{name: "synthetic", canary: canarySpec(analysisSpec(time.Minute, 2, 0, 0), analysis(), gate()), stableReplicas: 4}
			s := newSim(sc)
			s.desired = "rev2"
			r := tc.setup(s)
			r.now = simEpoch
			if r.obs.StableServingReplicas == 0 {
				r.obs.StableServingReplicas = r.obs.StableReplicas
			}
			if r.obs.CanaryServingReplicas == 0 {
				r.obs.CanaryServingReplicas = r.obs.CanaryReadyReplicas
			}
			if r.d.RouteWeight == 0 {
				r.d.RouteWeight = RouteWeight(r.d.Status.CanaryWeight, r.obs)
			}
			s.weight = r.d.Status.CanaryWeight
			s.inv.check(s, r)
			if s.inv.seen[tc.want] == nil {
				t.Errorf("invariant %q not reported; reported: %q", tc.want, s.inv.order)
			}
		})
	}
}

// checkDependencies: no pod of a service that has never started runs before
// its required dependencies are available; no new version (rolling update or
// canary) starts while a dependency that gates it is unavailable or rolling
// out, unless a canary was already under way; and the status says the
// service waits only while it does.
func (v *invariants) checkDependencies(s *sim, r tickRecord) {
	d, obs := r.d, r.obs
	if !v.depsInit {
		v.depsInit, v.started = true, !s.sc.newService
	}
	if !v.started && obs.Dependencies.StartBlocked() && s.stable.replicas > 0 {
		v.fail(r, "no pod before the required dependencies are available", "stable has %d replicas while %v are not available",
			s.stable.replicas, obs.Dependencies.NotAvailable)
	}
	if !v.started && obs.Dependencies.StartBlocked() && (s.canary.replicas > 0 || d.CanaryReplicas > 0) {
		v.fail(r, "no canary before the service has started", "canary %d replicas", s.canary.replicas)
	}
	if s.stable.exists && !s.stable.held && s.stable.replicas > 0 {
		v.started = true
	}
	blocked := obs.Dependencies.RolloutBlocked() && obs.StableRevision != "" && !obs.StableHeld
	if blocked && !Active(r.prev) && obs.StableRevision != obs.DesiredRevision {
		if s.stable.revision != obs.StableRevision {
			v.fail(r, "a new version waits for the dependencies that gate it", "stable went from %s to %s while %v gate it",
				obs.StableRevision, s.stable.revision, obs.Dependencies.Gating)
		}
		if d.Status.Phase == msv1.RolloutPhaseProgressing {
			v.fail(r, "a new version waits for the dependencies that gate it", "a canary started while %v gate it", obs.Dependencies.Gating)
		}
		if d.Waiting == "" {
			v.fail(r, "a wait is reported", "nothing says the new version waits for %v", obs.Dependencies.Gating)
		}
	}
	if d.Waiting == "" && strings.Contains(d.Status.Message, "waits for dependencies") {
		v.fail(r, "the status says it waits only while it does", "message %q without a wait", d.Status.Message)
	}
	if !d.Hold && strings.Contains(d.Status.Message, "Held at zero replicas") {
		v.fail(r, "the status says it waits only while it does", "message %q without a hold", d.Status.Message)
	}
}
