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
	"testing"
	"time"

	"k8s.io/utils/ptr"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
)

// FuzzPlan plays the planner through random rollouts in the simulator of
// sim_test.go: the fuzz bytes choose the canary steps and analysis (within
// what admission accepts), the cluster (stable replicas, how fast new pods
// become ready, route or replica ratio, clock), the outcome of every
// measurement (successful, failed, inconclusive) and a sequence of events at
// chosen ticks: new revisions (or back to the stable one), promote,
// promote-full, abort and retry annotations with new or repeated values, the
// paused annotation, the HPA scaling the stable track, canary pods crashing,
// slower or never-ready canary pods, operator restarts, a new service (no
// Deployment yet) and dependencies that become unavailable, roll out or are ready.
//
// Every tick is checked against all the invariants of invariants_test.go
// (among them: the weight stays within 0..100, so the route's two weights sum
// to 100; it never increases after an abort or rollback until a retry or a
// new revision; replicas are never negative; traffic is raised only onto
// ready canary pods and never reaches a canary with none; an analysis passes
// only on count conclusive measurements, so inconclusive ones never promote;
// control annotations act once per value) and against a few more that hold
// for any input: the route's weight is within 0..100 too, the phase is a
// known one, and the current step points into the step list.
func FuzzPlan(f *testing.F) {
	const (
		weightStep = iota
		pauseStep
		gateStep
		analysisStep
	)
	const (
		newRevision = iota
		promote
		promoteFull
		abort
		retry
		pause
		unpause
		hpa
		crash
		readyAfter
		restart
		removeControl
	)
	// Each seed: steps, analysis (count, failureLimit, inconclusiveLimit,
	// interval), cluster (stable replicas, canary and stable readiness
	// delays, no route, clock step), measurements, default outcome, events.
	for _, seed := range []fuzzSeed{{
		// The typical rollout, promoted.
		steps:    [][2]byte{{weightStep, 20}, {pauseStep, 1}, {analysisStep, 0}, {weightStep, 40}, {pauseStep, 0}},
		analysis: [4]byte{2, 0, 0, 1}, cluster: [5]byte{3, 0, 1, 0, 2}, measurements: "SS", outcome: 'S',
	}, {
		// Two manual gates: a promote, the same value again, then an abort and a retry.
		steps:    [][2]byte{{weightStep, 25}, {gateStep, 0}, {weightStep, 25}, {gateStep, 0}},
		analysis: [4]byte{0, 0, 0, 0}, cluster: [5]byte{4, 0, 0, 0, 2}, outcome: 'S',
		events: [][3]byte{{5, promote, 1}, {9, promote, 0}, {12, abort, 1}, {16, retry, 1}, {22, promote, 1}, {26, promote, 1}},
	}, {
		// Prometheus down, then failing measurements: paused, then rolled back.
		steps:    [][2]byte{{weightStep, 50}, {analysisStep, 0}, {weightStep, 50}},
		analysis: [4]byte{2, 1, 1, 0}, cluster: [5]byte{4, 0, 0, 0, 2}, measurements: "IIFF", outcome: 'F',
		events: [][3]byte{{20, promote, 1}, {30, retry, 1}},
	}, {
		// The HPA scaling mid-canary, crashing canary pods, an operator
		// restart and a new revision mid-rollout.
		steps:    [][2]byte{{weightStep, 10}, {analysisStep, 0}, {weightStep, 30}, {pauseStep, 2}, {weightStep, 20}, {gateStep, 0}},
		analysis: [4]byte{3, 1, 2, 2}, cluster: [5]byte{4, 1, 1, 0, 1}, measurements: "SISIFS", outcome: 'S',
		events: [][3]byte{{4, hpa, 10}, {6, crash, 2}, {8, restart, 0}, {10, hpa, 2}, {12, newRevision, 2}, {20, promoteFull, 1}},
	}, {
		// Back to the stable revision mid-canary, with no route, then pods that never become ready.
		steps:    [][2]byte{{weightStep, 40}, {gateStep, 0}},
		analysis: [4]byte{0, 0, 0, 0}, cluster: [5]byte{2, 0, 0, 1, 0}, outcome: 'S',
		events: [][3]byte{{4, newRevision, 0}, {8, newRevision, 2}, {9, readyAfter, 4}, {14, pause, 0}, {18, unpause, 0}, {20, abort, 1}},
	}, {
		// Aborted at full weight while the paused annotation is set; promote-full outside a rollout.
		steps:    [][2]byte{{weightStep, 50}, {weightStep, 50}, {pauseStep, 9}},
		analysis: [4]byte{0, 0, 0, 0}, cluster: [5]byte{1, 0, 2, 0, 3}, outcome: 'S',
		events: [][3]byte{{0, promoteFull, 1}, {5, pause, 0}, {6, abort, 1}, {7, unpause, 0}, {9, removeControl, 2}, {12, retry, 1}, {30, hpa, 0}},
	}, {
		// A new service held for its dependencies, started, then a version held mid-life.
		steps:    [][2]byte{{weightStep, 30}, {pauseStep, 1}, {weightStep, 60}},
		analysis: [4]byte{0, 0, 0, 0}, cluster: [5]byte{3, 0, 1, 0, 14}, outcome: 'S',
		events: [][3]byte{{0, 12, 1}, {3, 12, 2}, {6, 12, 0}, {9, newRevision, 2}, {10, 12, 2}, {14, 12, 0}},
	}} {
		f.Add(seed.bytes())
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		sc := decodeScenario(data)
		s := newSim(sc)
		s.run()
		s.inv.report(t, s)
	})
}

// fuzzSeed is a seed in the layout decodeScenario reads.
type fuzzSeed struct {
	steps        [][2]byte
	analysis     [4]byte
	cluster      [5]byte
	measurements string // of S, F and I
	outcome      byte
	events       [][3]byte // tick, kind, parameter
}

func (s fuzzSeed) bytes() []byte {
	code := map[rune]byte{'S': 3, 'F': 1, 'I': 2} // b%3 indexes "SFI" with S at 0
	out := []byte{byte(len(s.steps) - 1)}
	for _, st := range s.steps {
		out = append(out, st[0], st[1])
	}
	out = append(out, s.analysis[:]...)
	out = append(out, s.cluster[:]...)
	for _, m := range s.measurements {
		out = append(out, code[m])
	}
	if len(s.measurements) < 16 {
		out = append(out, 0)
	}
	out = append(out, code[rune(s.outcome)])
	for _, e := range s.events {
		out = append(out, e[:]...)
	}
	return out
}

// fuzzReader hands out the fuzz bytes one at a time, then zeros.
type fuzzReader struct{ data []byte }

func (r *fuzzReader) next() int {
	if len(r.data) == 0 {
		return 0
	}
	b := r.data[0]
	r.data = r.data[1:]
	return int(b)
}

// fuzzTicks is how many reconciles a fuzzed scenario runs.
const fuzzTicks = 48

// decodeScenario turns fuzz bytes into a scenario. The layout, each field
// one byte unless said otherwise:
//
//	steps (1..8), then per step: kind (setWeight, timed pause, gate,
//	analysis) and a parameter (how much the weight grows; the pause's length)
//	analysis: count (1..5), failureLimit (< count), inconclusiveLimit (0..3), interval
//	cluster: stable replicas (1..10), canary and stable pod readiness delays,
//	route or replica ratio, clock step
//	measurements: up to 16 bytes (b%3 picks S, F or I), ended by a 0; then the
//	outcome of the measurements after them
//	events, to the end: a tick (0..fuzzTicks-1), a kind and a parameter
//
// Revision rev2 comes at tick 1 in every scenario.
func decodeScenario(data []byte) *scenario {
	r := &fuzzReader{data: data}
	c := &msv1.Canary{}
	weight := int32(0)
	needsAnalysis := false
	for n := r.next()%8 + 1; len(c.Steps) < n; {
		kind, param := r.next()%4, r.next()
		switch kind {
		case 0:
			// Admission: 0..100, never decreasing from one step to the next.
			weight = min(100, weight+int32(param%51))
			c.Steps = append(c.Steps, setWeight(weight))
		case 1:
			c.Steps = append(c.Steps, pauseFor(time.Duration(param%10+1)*15*time.Second))
		case 2:
			c.Steps = append(c.Steps, gate())
		default:
			c.Steps = append(c.Steps, analysis())
			needsAnalysis = true
		}
	}
	count := int32(r.next()%5 + 1)
	failureLimit := int32(r.next()) % count // admission: below count
	inconclusiveLimit := int32(r.next() % 4)
	every := time.Duration(r.next()%6+1) * 30 * time.Second
	if needsAnalysis { // admission: required when a step analyses
		c.Analysis = analysisSpec(every, count, failureLimit, inconclusiveLimit)
	}

	clockByte := 0
	// The route's byte also says how long the Gateway takes to apply a
	// route change: at once, or 1.5, 3 or 4.5 s later.
	routeByte := r.next()
	sc := &scenario{
		name:             "fuzz",
		canary:           c,
		stableReplicas:   int32(r.next()%10 + 1),
		canaryReadyAfter: readinessDelay(r.next()),
		stableReadyAfter: r.next() % 3,
		noRoute:          routeByte%2 == 1,
		gatewayLag:       time.Duration(routeByte/2%4) * 1500 * time.Millisecond,
		clockStep:        func() time.Duration { clockByte = r.next(); return time.Duration(clockByte%12+1) * 10 * time.Second }(),
		ticks:            fuzzTicks,
		// Every scenario delivers a new revision; the events do the rest.
		hooks: []hook{atTick(1, specRevision("rev2"))},
	}
	// The clock's byte also says whether the Microservice is new (no
	// Deployment yet), so that start-up holds are fuzzed too.
	sc.newService = clockByte/12%2 == 1
	for i := 0; i < 16; i++ {
		b := r.next()
		if b == 0 {
			break
		}
		sc.measurements += string("SFI"[b%3])
	}
	sc.measureDefault = "SFI"[r.next()%3]
	// One scenario in four (by the clock's byte again) has a webhook of
	// every type; each answers by the measurement outcomes, shifted per
	// webhook: S or I is a yes, F a no (the rollback hook: F is a yes).
	if clockByte/24%4 == 3 {
		types := []msv1.WebhookType{msv1.WebhookConfirmRollout, msv1.WebhookPreRollout, msv1.WebhookConfirmTrafficIncrease,
			msv1.WebhookRollout, msv1.WebhookConfirmPromotion, msv1.WebhookPostRollout, msv1.WebhookRollback}
		sc.webhookAnswers = map[string]string{}
		outcomes := sc.measurements + string(sc.measureDefault)
		for i, t := range types {
			w := webhook(fmt.Sprintf("hook%d", i), t)
			w.Retries = ptr.To(int32(i % 3))
			c.Webhooks = append(c.Webhooks, w)
			answers := ""
			for j := range outcomes {
				yes := outcomes[(j+i)%len(outcomes)] != 'F'
				if t == msv1.WebhookRollback {
					yes = !yes
				}
				answers += map[bool]string{true: "Y", false: "N"}[yes]
			}
			sc.webhookAnswers[w.Name] = answers
		}
	}

	// One scenario in three (by the clock's byte again) has a background
	// analysis, from a step the byte picks; its measurements are the
	// steps' script backwards.
	if clockByte/96 == 1 {
		c.BackgroundAnalysis = &msv1.BackgroundAnalysis{StartingStep: ptr.To(int32(clockByte % len(c.Steps)))}
		if c.Analysis == nil {
			c.Analysis = analysisSpec(every, count, failureLimit, inconclusiveLimit)
		}
		for i := len(sc.measurements) - 1; i >= 0; i-- {
			sc.backgroundMeasurements += string(sc.measurements[i])
		}
	}

	// One scenario in five runs its canary at full scale (as a blue-green
	// does), by the first step's parameter.
	if len(data) > 1 && data[1]%5 == 0 {
		c.Scale = msv1.FullCanaryScale
	}

	// Control annotation values are written in time order, the way
	// $(date +%s) makes them: mostly a new value, sometimes the one already
	// there again (which must not act twice). The planner remembers only
	// the last value it handled, so going back to an older value would be a
	// new request, not a repeat.
	values := 0
	control := func(key string, param int) action {
		note := "kubectl annotate --overwrite " + key + "=<a new value>"
		if param%4 == 0 {
			note = "kubectl annotate --overwrite " + key + "=<the value already there, if any>"
		}
		return action{note, func(s *sim) {
			if param%4 != 0 || s.annotations[key] == "" {
				values++
				s.annotations[key] = fmt.Sprintf("v%d", values)
			}
			s.wake()
		}}
	}
	for len(r.data) > 0 {
		tick, kind, param := r.next()%fuzzTicks, r.next()%13, r.next()
		var a action
		switch kind {
		case 0:
			a = specRevision(fmt.Sprintf("rev%d", param%4+1)) // rev1 is the stable revision
		case 1:
			a = control(annPromote, param)
		case 2:
			a = control(annPromoteFull, param)
		case 3:
			a = control(annAbort, param)
		case 4:
			a = control(annRetry, param)
		case 5:
			a = annotate(annPaused, "true")
		case 6:
			a = unannotate(annPaused)
		case 7:
			a = hpaScale(int32(param % 13))
		case 8:
			a = canaryPodsCrash(param % 4)
		case 9:
			a = canaryReadyAfter(readinessDelay(param))
		case 10:
			a = restartOperator()
		case 12:
			a = []action{
				dependencies(nil, nil),
				dependencies([]string{"payments (Unavailable)"}, []string{"payments (Unavailable)"}),
				dependencies(nil, []string{"payments (RollingOut)"}),
				dependencies([]string{"payments (Missing)"}, nil),
			}[param%4]
		default:
			a = unannotate([]string{annPromote, annPromoteFull, annAbort, annRetry}[param%4])
		}
		sc.hooks = append(sc.hooks, atTick(tick, a))
	}
	sc.check = fuzzChecks
	return sc
}

// readinessDelay is how many reconciles new pods take to become ready: 0..3, or never.
func readinessDelay(b int) int {
	if b%5 == 4 {
		return never
	}
	return b % 5
}

// fuzzChecks are checked on every tick of a fuzzed scenario, on top of the
// invariants every scenario keeps.
func fuzzChecks(s *sim, r tickRecord) {
	d := r.d
	st := d.Status
	if d.RouteWeight < 0 || d.RouteWeight > 100 {
		s.inv.fail(r, "route weight within 0..100 (stable gets 100 minus it)", "route weight %d", d.RouteWeight)
	}
	switch st.Phase {
	case msv1.RolloutPhaseIdle, msv1.RolloutPhaseProgressing, msv1.RolloutPhasePaused, msv1.RolloutPhasePromoting,
		msv1.RolloutPhaseSucceeded, msv1.RolloutPhaseRolledBack, msv1.RolloutPhaseAborted:
	default:
		s.inv.fail(r, "phase is a known one", "phase %q", st.Phase)
	}
	if st.CurrentStep != nil && (*st.CurrentStep < 0 || int(*st.CurrentStep) > len(s.sc.canary.Steps)) {
		s.inv.fail(r, "current step within the step list", "step %d of %d", ptr.Deref(st.CurrentStep, -1), len(s.sc.canary.Steps))
	}
	if d.RequeueAfter > 24*time.Hour {
		s.inv.fail(r, "requeue within a day", "requeue %s", d.RequeueAfter)
	}
	webhookGatesHold(s, r)
	backgroundHolds(s, r)
	if c := s.sc.canary; c.Scale == msv1.FullCanaryScale && (st.Phase == msv1.RolloutPhaseProgressing || st.Phase == msv1.RolloutPhasePaused) &&
		st.CanaryRevision != "" && d.CanaryReplicas != 0 && d.CanaryReplicas != max(r.obs.StableReplicas, 1) {
		// None at all while a confirm-rollout gate holds the start.
		s.inv.fail(r, "a full-scale canary runs as many replicas as the stable track, or none", "%d canary replicas, %d stable", d.CanaryReplicas, r.obs.StableReplicas)
	}
}

// backgroundHolds checks, when the canary has a background analysis, that
// it measures only a canary with traffic from its starting step on, that
// its failures past the limit end the canary in the same reconcile, and
// that a rollout it holds is promoted only by promote-full.
func backgroundHolds(s *sim, r tickRecord) {
	c, st, prev := s.sc.canary, r.d.Status, r.prev
	if c.BackgroundAnalysis == nil || prev == nil {
		return
	}
	if r.obs.Background != nil && (prev.CanaryWeight == 0 || stepOf(prev) < ptr.Deref(c.BackgroundAnalysis.StartingStep, 0)) {
		s.inv.fail(r, "background measurements only with traffic from the starting step", "weight %d at step %d", prev.CanaryWeight, stepOf(prev)+1)
	}
	if b := st.BackgroundAnalysis; b != nil && b.Failures > ptr.Deref(c.Analysis.FailureLimit, 0) &&
		st.CanaryRevision == prev.CanaryRevision && (st.Phase == msv1.RolloutPhaseProgressing || st.Phase == msv1.RolloutPhasePaused) {
		s.inv.fail(r, "background failures past the limit roll the canary back", "phase %s with %d failures", st.Phase, b.Failures)
	}
	if backgroundHeld(c, prev) && st.Phase == msv1.RolloutPhasePromoting && prev.Phase != msv1.RolloutPhasePromoting && st.HandledPromoteFull == prev.HandledPromoteFull {
		s.inv.fail(r, "a rollout held by its background analysis is promoted only by promote-full", "%+v", prev.BackgroundAnalysis)
	}
}

// webhookGatesHold checks, when the canary has webhooks, that its traffic
// rose only past them: a rise of the step weight needs confirm-rollout and
// pre-rollout answered yes in this attempt, and confirm-traffic-increase
// answered yes for the step whose weight it is.
func webhookGatesHold(s *sim, r tickRecord) {
	st, prev := r.d.Status, r.prev
	if len(s.sc.canary.Webhooks) == 0 || prev == nil || st.CanaryWeight <= prev.CanaryWeight {
		return
	}
	for _, w := range s.sc.canary.Webhooks {
		e := entry(&st, w.Name)
		ok := e != nil && e.Phase == msv1.WebhookSucceeded
		switch w.Type {
		case msv1.WebhookConfirmRollout, msv1.WebhookPreRollout:
		case msv1.WebhookConfirmTrafficIncrease:
			ok = ok && e.Step != nil && int(*e.Step) < len(s.sc.canary.Steps) && ptr.Deref(s.sc.canary.Steps[*e.Step].SetWeight, -1) == st.CanaryWeight
		default:
			continue
		}
		if !ok {
			s.inv.fail(r, "weight rises only past the webhook gates", "weight %d -> %d without the %s webhook's yes (%+v)", prev.CanaryWeight, st.CanaryWeight, w.Type, e)
		}
	}
}
