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
	"testing"

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
	stale    map[string]bool
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
		if need := CanaryReplicasFor(w, s.stable.replicas); s.canary.ready < need {
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
	if w > 0 && d.CanaryReplicas < CanaryReplicasFor(w, obs.StableReplicas) {
		v.fail(r, "canary sized for its weight", "weight %d with %d canary replicas for %d stable", w, d.CanaryReplicas, obs.StableReplicas)
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

	// The stable track gets the new revision only when it is promoted.
	if d.UpdateStable && obs.StableRevision != "" && obs.StableRevision != s.desired &&
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
	if stoppedPhase(st.Phase) && v.stopRev != "" && s.stable.revision == v.stopRev {
		v.fail(r, "an aborted or rolled back revision does not run on the stable track",
			"phase %s but the stable Deployment runs %s", st.Phase, s.stable.revision)
	}

	// Analysis: each step judges the canary at its own weight, one interval in.
	if a := st.Analysis; a != nil && a.LastMeasuredAt != nil && st.StepStartedAt != nil &&
		a.LastMeasuredAt.Time.Before(st.StepStartedAt.Add(interval(s.sc.canary))) {
		v.fail(r, "an analysis step counts only measurements taken during it",
			"step %d started at %s counts a measurement of %s", ptr.Deref(st.CurrentStep, -1)+1,
			clock(st.StepStartedAt.Sub(simEpoch)), clock(a.LastMeasuredAt.Sub(simEpoch)))
	}
	if hasEvent(d, "AnalysisPassed") {
		var ok int32
		if p := r.prev; p != nil && p.Analysis != nil && p.Phase == msv1.RolloutPhaseProgressing {
			ok = p.Analysis.Measurements - p.Analysis.Failures - p.Analysis.Inconclusives
		}
		if m := obs.Measurement; m != nil && m.Phase == PhaseSuccessful {
			ok++
		}
		if ok < 1 {
			v.fail(r, "an analysis passes only with a successful measurement", "analysis passed with %d successful measurements", ok)
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
		v.acted[key] = true
	}
	for _, c := range controls {
		if val := s.annotations[c.annotation]; val != "" && val != c.handled(&st) {
			v.stale[c.annotation+"="+val] = true
		}
	}
}
