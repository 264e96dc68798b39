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
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
)

// TestScenarios drives the planner through whole rollouts and compares the
// traces with testdata/NAME.golden (go test ./internal/rollout -update
// rewrites them). Every tick of every scenario is also checked against the
// invariants in invariants_test.go.
func TestScenarios(t *testing.T) {
	for _, sc := range scenarios() {
		t.Run(sc.name, func(t *testing.T) {
			s := newSim(&sc)
			s.run()
			s.inv.report(t, s)

			again := newSim(&sc)
			again.run()
			if again.trace() != s.trace() {
				t.Errorf("two runs of the scenario differ:\n%s", lineDiff(s.trace(), again.trace()))
			}
			compareGolden(t, sc.name, s.trace())
		})
	}
}

// TestScenariosWithAFailedAction runs every golden scenario again once for
// each action of each reconcile, failing that action (and so every later
// one of the same reconcile): the invariants must hold on every tick. The
// scenario's own checks and its golden trace are for the run without
// failures; each run here gets two more ticks to catch up.
func TestScenariosWithAFailedAction(t *testing.T) {
	runs := 0
	for _, sc := range scenarios() {
		for tick := 1; tick < sc.ticks; tick++ {
			for _, action := range []string{actionStable, actionCanary, actionRoute, actionStatus} {
				faulty := sc
				faulty.check = nil
				faulty.ticks = sc.ticks + 2
				s := newSim(&faulty)
				s.failAt = failedAction{tick: tick, action: action}
				s.run()
				runs++
				if len(s.inv.order) > 0 {
					t.Run(fmt.Sprintf("%s/%s-at-tick-%d", sc.name, strings.ReplaceAll(action, " ", "-"), tick), func(t *testing.T) {
						s.inv.report(t, s)
					})
				}
			}
		}
	}
	t.Logf("%d runs of the golden scenarios, each with one failed action", runs)
}

func setWeight(w int32) msv1.CanaryStep { return msv1.CanaryStep{SetWeight: ptr.To(w)} }

func pauseFor(d time.Duration) msv1.CanaryStep {
	return msv1.CanaryStep{Pause: &msv1.PauseStep{Duration: &metav1.Duration{Duration: d}}}
}

// gate is a pause without a duration: it waits for a promote.
func gate() msv1.CanaryStep { return msv1.CanaryStep{Pause: &msv1.PauseStep{}} }

func analysis() msv1.CanaryStep { return msv1.CanaryStep{Analysis: &msv1.AnalysisStep{}} }

func analysisSpec(every time.Duration, count, failureLimit, inconclusiveLimit int32) *msv1.Analysis {
	return &msv1.Analysis{
		Interval:          &metav1.Duration{Duration: every},
		Count:             ptr.To(count),
		FailureLimit:      ptr.To(failureLimit),
		InconclusiveLimit: ptr.To(inconclusiveLimit),
		Metrics: []msv1.Metric{{
			Name:             "success-rate",
			Query:            `sum(rate(http_requests_total{track="{{ .Track }}",code!~"5.."}[1m])) / sum(rate(http_requests_total{track="{{ .Track }}"}[1m]))`,
			SuccessCondition: msv1.SuccessCondition{Min: ptr.To("0.99")},
		}},
	}
}

func canarySpec(a *msv1.Analysis, steps ...msv1.CanaryStep) *msv1.Canary {
	return &msv1.Canary{Steps: steps, Analysis: a}
}

// Conditions on the status the next reconcile reads.

func phaseAtStep(phase msv1.RolloutPhase, step int) func(*sim) bool {
	return func(s *sim) bool {
		st := s.status()
		return st != nil && st.Phase == phase && st.CurrentStep != nil && int(*st.CurrentStep) == step-1
	}
}

func phaseIs(phase msv1.RolloutPhase) func(*sim) bool {
	return func(s *sim) bool { st := s.status(); return st != nil && st.Phase == phase }
}

func measurementsTaken(n int32) func(*sim) bool {
	return func(s *sim) bool {
		st := s.status()
		return st != nil && st.Analysis != nil && st.Analysis.Measurements == n && st.Phase == msv1.RolloutPhaseProgressing
	}
}

// Scenario checks.

func allOf(checks ...func(*sim, tickRecord)) func(*sim, tickRecord) {
	return func(s *sim, r tickRecord) {
		for _, c := range checks {
			c(s, r)
		}
	}
}

// endsWith checks the last tick: phase, stable revision and canary replicas.
func endsWith(phase msv1.RolloutPhase, stableRev string, canaryReplicas int32) func(*sim, tickRecord) {
	return func(s *sim, r tickRecord) {
		if r.tick != s.sc.ticks-1 {
			return
		}
		if r.d.Status.Phase != phase || s.stable.revision != stableRev || s.canary.replicas != canaryReplicas {
			s.inv.fail(r, "scenario: final state", "phase %s, stable %s, canary replicas %d; want %s, %s, %d",
				r.d.Status.Phase, s.stable.revision, s.canary.replicas, phase, stableRev, canaryReplicas)
		}
	}
}

// stableRevisionStays checks that the status names rev as the stable
// revision on every tick after the rollout starts: a promotion that does not
// complete never makes another revision stable.
func stableRevisionStays(rev string) func(*sim, tickRecord) {
	return func(s *sim, r tickRecord) {
		if r.tick > 1 && r.d.Status.StableRevision != rev {
			s.inv.fail(r, "scenario: stable revision", "status says %q, want %q", r.d.Status.StableRevision, rev)
		}
	}
}

func stepOf(st *msv1.RolloutStatus) int32 { return ptr.Deref(st.CurrentStep, -1) }

const (
	annPromote     = msv1.PromoteAnnotation
	annPromoteFull = msv1.PromoteFullAnnotation
	annAbort       = msv1.AbortAnnotation
	annRetry       = msv1.RetryAnnotation
	annPaused      = msv1.PausedAnnotation
)

func scenarios() []scenario {
	// A typical spec: a weight, a timed pause, an analysis, more weight, a last pause.
	typical := func() *msv1.Canary {
		return canarySpec(analysisSpec(time.Minute, 2, 0, 0),
			setWeight(20), pauseFor(2*time.Minute), analysis(), setWeight(60), pauseFor(time.Minute))
	}
	return []scenario{
		{
			name: "promote",
			doc: []string{
				"A new revision goes through every step and is promoted: the stable Deployment gets",
				"the new template, traffic moves back to stable once it has rolled out, then the canary",
				"is scaled to zero.",
			},
			canary:           typical(),
			stableReplicas:   4,
			stableReadyAfter: 1,
			ticks:            14,
			hooks:            []hook{atTick(1, specRevision("rev2"))},
			check:            endsWith(msv1.RolloutPhaseSucceeded, "rev2", 0),
		},
		{
			name: "gateway-lag",
			doc: []string{
				"The Gateway applies each route change 2.5 s after it is written (the router reports it",
				"not applied until then): after the promotion and after an abort the canary",
				"keeps its pods until the data plane no longer sends it the old weight, re-checking every",
				"second.",
			},
			canary:         canarySpec(nil, setWeight(50), pauseFor(time.Minute)),
			stableReplicas: 4,
			gatewayLag:     2500 * time.Millisecond,
			ticks:          16,
			hooks: []hook{
				atTick(1, specRevision("rev2")),
				when(phaseIs(msv1.RolloutPhaseSucceeded), specRevision("rev3")),
				when(func(s *sim) bool {
					return phaseAtStep(msv1.RolloutPhasePaused, 2)(s) && s.status().CanaryRevision == "rev3"
				},
					annotate(annAbort, "a1")),
			},
			check: allOf(endsWith(msv1.RolloutPhaseAborted, "rev2", 0),
				func(s *sim, r tickRecord) {
					if r.d.CanaryReplicas == 0 && s.served != 0 {
						s.inv.fail(r, "scenario: the canary is scaled to zero only once the data plane sends it nothing", "served %d", s.served)
					}
				}),
		},
		{
			name: "rollback",
			doc: []string{
				"The analysis fails once more than failureLimit allows: traffic goes back to stable in",
				"that tick, the canary is scaled to zero in the next one, and the rollout stays rolled",
				"back (no measurement, no retry) until someone retries or changes the spec.",
			},
			canary: canarySpec(analysisSpec(time.Minute, 4, 1, 0),
				setWeight(20), analysis(), setWeight(50), pauseFor(time.Minute)),
			stableReplicas: 4,
			measurements:   "SFF",
			ticks:          12,
			hooks:          []hook{atTick(1, specRevision("rev2"))},
			check: allOf(endsWith(msv1.RolloutPhaseRolledBack, "rev1", 0),
				func(s *sim, r tickRecord) {
					if r.prev != nil && r.prev.Phase == msv1.RolloutPhaseRolledBack && r.obs.Measurement != nil {
						s.inv.fail(r, "scenario: no measurement after a rollback", "measured")
					}
				}),
		},
		{
			name: "progress-deadline",
			doc: []string{
				"The second weight step needs 2 canary pods and the second one never becomes ready:",
				"past progressDeadline (3m) from the step's start, the canary is rolled back (traffic",
				"first, pods in the next tick) with a message that says how many pods were ready.",
			},
			canary: func() *msv1.Canary {
				c := canarySpec(nil, setWeight(20), setWeight(50), pauseFor(time.Minute))
				c.ProgressDeadline = &metav1.Duration{Duration: 3 * time.Minute}
				return c
			}(),
			stableReplicas: 4,
			ticks:          14,
			hooks: []hook{
				atTick(1, specRevision("rev2")),
				atTick(2, canaryReadyAfter(never)),
			},
			check: allOf(endsWith(msv1.RolloutPhaseRolledBack, "rev1", 0),
				func(s *sim, r tickRecord) {
					st := r.d.Status
					if st.Phase == msv1.RolloutPhaseRolledBack && !strings.Contains(st.Message, "1 of 2 canary pods ready after 3m") {
						s.inv.fail(r, "scenario: the rollback says why", "message %q", st.Message)
					}
					if st.Phase == msv1.RolloutPhaseRolledBack && r.prev != nil && r.prev.Phase == msv1.RolloutPhaseProgressing &&
						r.now.Sub(r.prev.StepStartedAt.Time) > 3*time.Minute+30*time.Second {
						s.inv.fail(r, "scenario: rolled back at the deadline", "%s after the step started", r.now.Sub(r.prev.StepStartedAt.Time))
					}
				}),
		},
		{
			name: "manual-gate",
			doc: []string{
				"Pauses without a duration wait for a promote. The value \"1\" promotes the first gate;",
				"the same value, still there or written again, does not promote the second one; \"2\" does.",
			},
			canary:           canarySpec(nil, setWeight(25), gate(), setWeight(50), gate()),
			stableReplicas:   4,
			stableReadyAfter: 1,
			ticks:            16,
			hooks: []hook{
				atTick(1, specRevision("rev2")),
				atTick(5, annotate(annPromote, "1")),
				atTick(9, annotate(annPromote, "1")),
				atTick(11, annotate(annPromote, "2")),
			},
			check: allOf(endsWith(msv1.RolloutPhaseSucceeded, "rev2", 0),
				func(s *sim, r tickRecord) {
					if r.tick >= 7 && r.tick <= 10 && (r.d.Status.Phase != msv1.RolloutPhasePaused || stepOf(&r.d.Status) != 3) {
						s.inv.fail(r, "scenario: an unchanged promote value does not pass the second gate", "phase %s step %d",
							r.d.Status.Phase, stepOf(&r.d.Status)+1)
					}
				}),
		},
		{
			name: "canary-crash",
			doc: []string{
				"Every canary pod crashes while the canary holds 30% at a manual gate: the route sends",
				"all traffic to stable at once, the status keeps step and weight, and 30% comes back when",
				"the pods are ready again. The promote then goes on from the same step.",
			},
			canary:           canarySpec(nil, setWeight(30), gate(), setWeight(60)),
			stableReplicas:   4,
			stableReadyAfter: 1,
			ticks:            13,
			hooks: []hook{
				atTick(1, specRevision("rev2")),
				atTick(4, canaryPodsCrash(2)),
				atTick(8, annotate(annPromote, "1")),
			},
			check: allOf(endsWith(msv1.RolloutPhaseSucceeded, "rev2", 0),
				func(s *sim, r tickRecord) {
					if r.tick >= 4 && r.tick <= 7 && (r.d.Status.CanaryWeight != 30 || stepOf(&r.d.Status) != 1) {
						s.inv.fail(r, "scenario: a crash loses no rollout state", "weight %d step %d", r.d.Status.CanaryWeight, stepOf(&r.d.Status)+1)
					}
				}),
		},
		{
			name: "status-write-lost",
			doc: []string{
				"The operator dies after the promote of the last gate updated the stable Deployment and",
				"before it wrote the status. The next operator plans again from the old status with the",
				"same promote value: it makes the same decision and the promotion goes on to Succeeded.",
			},
			canary:           canarySpec(nil, setWeight(30), gate(), setWeight(60), gate()),
			stableReplicas:   4,
			stableReadyAfter: 1,
			ticks:            12,
			hooks: []hook{
				atTick(1, specRevision("rev2")),
				atTick(5, annotate(annPromote, "1")),
				when(phaseAtStep(msv1.RolloutPhasePaused, 4), annotate(annPromote, "2"), statusWriteLost()),
			},
			check: allOf(endsWith(msv1.RolloutPhaseSucceeded, "rev2", 0),
				func(s *sim, r tickRecord) {
					if r.tick > 1 && r.d.Status.Phase == msv1.RolloutPhaseIdle {
						s.inv.fail(r, "scenario: a lost status write does not end the rollout as if none had happened", "phase %s", r.d.Status.Phase)
					}
				}),
		},
		{
			name: "promote-outside-pause",
			doc: []string{
				"A promote arrives while the rollout waits for canary pods, not at a pause: it is used up",
				"with a PromoteIgnored warning, so the user knows to promote again at the gate.",
			},
			canary:           canarySpec(nil, setWeight(25), gate()),
			stableReplicas:   4,
			canaryReadyAfter: 3,
			ticks:            10,
			hooks: []hook{
				atTick(1, specRevision("rev2")),
				atTick(2, annotate(annPromote, "early")),
				atTick(7, annotate(annPromote, "at-gate")),
			},
			check: allOf(endsWith(msv1.RolloutPhaseSucceeded, "rev2", 0),
				func(s *sim, r tickRecord) {
					if r.tick == 2 && !hasEvent(r.d, "PromoteIgnored") {
						s.inv.fail(r, "scenario: an early promote is reported", "no PromoteIgnored event")
					}
				}),
		},
		{
			name: "abort-retry",
			doc: []string{
				"An abort during a pause moves traffic to stable, then scales the canary to zero; the",
				"rollout stays aborted. A retry starts again from step 1 (the abort value, still set, does",
				"not abort again) and the rollout is promoted.",
			},
			canary:         canarySpec(nil, setWeight(20), pauseFor(2*time.Minute), setWeight(50), gate()),
			stableReplicas: 4,
			ticks:          16,
			hooks: []hook{
				atTick(1, specRevision("rev2")),
				atTick(3, annotate(annAbort, "a1")),
				atTick(7, annotate(annRetry, "r1")),
				when(phaseAtStep(msv1.RolloutPhasePaused, 4), annotate(annPromote, "p1")),
			},
			check: endsWith(msv1.RolloutPhaseSucceeded, "rev2", 0),
		},
		{
			name: "new-revision",
			doc: []string{
				"A new revision (rev3) arrives during the analysis of rev2: the weight drops to 0 at once",
				"and stays there until the rev3 canary pods are ready, the steps start again at step 1 and",
				"the analysis counters start from zero.",
			},
			canary: canarySpec(analysisSpec(time.Minute, 3, 0, 0),
				setWeight(20), analysis(), setWeight(50), gate()),
			stableReplicas: 4,
			ticks:          20,
			hooks: []hook{
				atTick(1, specRevision("rev2")),
				when(measurementsTaken(1), specRevision("rev3"), canaryReadyAfter(2)),
				when(phaseAtStep(msv1.RolloutPhasePaused, 4), annotate(annPromote, "1")),
			},
			check: allOf(endsWith(msv1.RolloutPhaseSucceeded, "rev3", 0),
				func(s *sim, r tickRecord) {
					if hasEvent(r.d, "RolloutRestarted") && (stepOf(&r.d.Status) != 0 || r.d.Status.Analysis != nil || r.d.Status.CanaryWeight != 0) {
						s.inv.fail(r, "scenario: a new revision starts from scratch", "step %d, analysis %v, weight %d",
							stepOf(&r.d.Status)+1, r.d.Status.Analysis, r.d.Status.CanaryWeight)
					}
				}),
		},
		{
			name: "prometheus-down",
			doc: []string{
				"Prometheus is unreachable: every measurement is Inconclusive. One more than",
				"inconclusiveLimit pauses the rollout; nothing is promoted until a human promotes, after",
				"which the remaining steps run.",
			},
			canary: canarySpec(analysisSpec(time.Minute, 3, 0, 1),
				setWeight(20), analysis(), setWeight(50), pauseFor(time.Minute)),
			stableReplicas: 4,
			measureDefault: 'I',
			ticks:          16,
			hooks: []hook{
				atTick(1, specRevision("rev2")),
				atTick(9, annotate(annPromote, "1")),
			},
			check: allOf(endsWith(msv1.RolloutPhaseSucceeded, "rev2", 0),
				func(s *sim, r tickRecord) {
					if hasEvent(r.d, "AnalysisPassed") || r.tick < 9 && r.d.Status.Phase == msv1.RolloutPhasePromoting {
						s.inv.fail(r, "scenario: no promotion on inconclusive measurements", "phase %s", r.d.Status.Phase)
					}
				}),
		},
		{
			name: "slow-prometheus",
			doc: []string{
				"Each measurement takes 20s to answer. The reconciles meanwhile wait for it without a",
				"timer (its answer triggers the next one), and it counts once it has answered. A new",
				"revision while one is running starts again, and the stale answer judges nothing.",
			},
			canary: canarySpec(analysisSpec(time.Minute, 2, 0, 0),
				setWeight(20), analysis(), setWeight(50)),
			stableReplicas: 4,
			measureTakes:   20 * time.Second,
			ticks:          18,
			hooks: []hook{
				atTick(1, specRevision("rev2")),
				// While the second measurement of rev2 runs.
				atTick(6, specRevision("rev3")),
			},
			check: allOf(endsWith(msv1.RolloutPhaseSucceeded, "rev3", 0),
				func(s *sim, r tickRecord) {
					if r.obs.Measuring && r.d.Status.CanaryRevision == r.prev.CanaryRevision && r.d.RequeueAfter != 0 {
						s.inv.fail(r, "scenario: no timer while a measurement runs", "requeue %s", r.d.RequeueAfter)
					}
				}),
		},
		{
			name: "prometheus-down-tolerant",
			doc: []string{
				"Prometheus is unreachable and inconclusiveLimit tolerates as many inconclusive",
				"measurements as the step takes. An analysis without a single successful measurement",
				"must not pass: the rollout waits for a human (who promotes at tick 8).",
			},
			canary: canarySpec(analysisSpec(time.Minute, 2, 0, 2),
				setWeight(20), analysis(), setWeight(50), pauseFor(time.Minute)),
			stableReplicas: 4,
			measureDefault: 'I',
			ticks:          14,
			hooks: []hook{
				atTick(1, specRevision("rev2")),
				atTick(8, annotate(annPromote, "1")),
			},
			check: func(s *sim, r tickRecord) {
				if r.tick < 8 && r.d.Status.Phase == msv1.RolloutPhasePromoting {
					s.inv.fail(r, "scenario: no promotion on inconclusive measurements", "phase %s", r.d.Status.Phase)
				}
			},
		},
		{
			name: "hpa",
			doc: []string{
				"The HPA scales the stable Deployment from 4 to 10 replicas during a pause at 20%, later",
				"down to 6: the canary's replicas follow its weight relative to stable (2 of 10 at 20%,",
				"5 of 10 at 50%, 3 of 6 at 50%). Canary pods take one reconcile to start; while the",
				"second pod starts, the route gives the one ready canary pod 10%, one stable pod's share,",
				"and the step's 20% once both serve.",
			},
			canary:           canarySpec(nil, setWeight(20), pauseFor(3*time.Minute), setWeight(50), pauseFor(3*time.Minute)),
			stableReplicas:   4,
			canaryReadyAfter: 1,
			stableReadyAfter: 1,
			ticks:            18,
			hooks: []hook{
				atTick(1, specRevision("rev2")),
				atTick(4, hpaScale(10)),
				when(phaseAtStep(msv1.RolloutPhasePaused, 4), hpaScale(6)),
			},
			check: allOf(endsWith(msv1.RolloutPhaseSucceeded, "rev2", 0),
				func(s *sim, r tickRecord) {
					st := r.d.Status
					if st.Phase == msv1.RolloutPhasePaused {
						if want := CanaryReplicasFor(st.CanaryWeight, r.obs.StableReplicas); r.d.CanaryReplicas != want {
							s.inv.fail(r, "scenario: canary replicas follow the weight relative to stable",
								"weight %d of %d stable replicas: %d canary replicas, want %d", st.CanaryWeight, r.obs.StableReplicas, r.d.CanaryReplicas, want)
						}
					}
				}),
		},
		{
			name: "restart",
			doc: []string{
				"The operator restarts during the pause, between two measurements and while promoting:",
				"the new operator has only status.rollout and the cluster, and goes on with the same step,",
				"weight, timers and analysis counters.",
			},
			canary:           typical(),
			stableReplicas:   4,
			stableReadyAfter: 2,
			ticks:            18,
			hooks: []hook{
				atTick(1, specRevision("rev2")),
				when(phaseAtStep(msv1.RolloutPhasePaused, 2), restartOperator()),
				when(measurementsTaken(1), restartOperator()),
				when(phaseIs(msv1.RolloutPhasePromoting), restartOperator()),
			},
			check: allOf(endsWith(msv1.RolloutPhaseSucceeded, "rev2", 0),
				func(s *sim, r tickRecord) {
					if r.tick != s.restartedAt {
						return
					}
					b, st := s.beforeRestart, r.d.Status
					same := b.Phase == st.Phase && stepOf(b) == stepOf(&st) && b.CanaryWeight == st.CanaryWeight &&
						b.StepStartedAt.Equal(st.StepStartedAt) && (b.Analysis == nil) == (st.Analysis == nil)
					if same && b.Analysis != nil {
						same = b.Analysis.Measurements == st.Analysis.Measurements && b.Analysis.LastMeasuredAt.Equal(st.Analysis.LastMeasuredAt)
					}
					if !same {
						s.inv.fail(r, "scenario: a restarted operator goes on where the last one stopped",
							"before: %s step %d weight %d; after: %s step %d weight %d",
							b.Phase, stepOf(b)+1, b.CanaryWeight, st.Phase, stepOf(&st)+1, st.CanaryWeight)
					}
				}),
		},
		{
			name: "revert",
			doc: []string{
				"The spec goes back to the stable revision mid-rollout: the rollout is cancelled, traffic",
				"leaves the canary, then the canary is scaled to zero. Delivering rev2 again later starts",
				"a fresh rollout from step 1.",
			},
			canary:         canarySpec(nil, setWeight(20), pauseFor(5*time.Minute), setWeight(50), pauseFor(time.Minute)),
			stableReplicas: 4,
			ticks:          14,
			hooks: []hook{
				atTick(1, specRevision("rev2")),
				atTick(3, specRevision("rev1")),
				atTick(7, specRevision("rev2")),
			},
			check: endsWith(msv1.RolloutPhaseSucceeded, "rev2", 0),
		},
		{
			name: "paused-annotation",
			doc: []string{
				"The paused annotation holds the rollout during an analysis: no measurement while paused,",
				"the canary keeps its weight; once the annotation is removed the analysis goes on.",
			},
			canary:           typical(),
			stableReplicas:   4,
			stableReadyAfter: 1,
			ticks:            18,
			hooks: []hook{
				atTick(1, specRevision("rev2")),
				when(measurementsTaken(1), annotate(annPaused, "true")),
				atTick(9, unannotate(annPaused)),
			},
			check: allOf(endsWith(msv1.RolloutPhaseSucceeded, "rev2", 0),
				func(s *sim, r tickRecord) {
					if r.obs.Paused && (r.obs.Measurement != nil || r.d.Status.Phase != msv1.RolloutPhasePaused || r.d.Status.CanaryWeight != r.prevWeight) {
						s.inv.fail(r, "scenario: the paused annotation holds the rollout", "phase %s weight %d", r.d.Status.Phase, r.d.Status.CanaryWeight)
					}
				}),
		},
		{
			name: "replica-ratio-abort",
			doc: []string{
				"Without an HTTPRoute the replica counts split the traffic, so an abort removes the",
				"canary's pods at once.",
			},
			canary:         canarySpec(nil, setWeight(20), pauseFor(2*time.Minute), setWeight(50), gate()),
			stableReplicas: 4,
			noRoute:        true,
			ticks:          7,
			hooks: []hook{
				atTick(1, specRevision("rev2")),
				atTick(3, annotate(annAbort, "a1")),
			},
			check: endsWith(msv1.RolloutPhaseAborted, "rev1", 0),
		},

		// The scenarios below found bugs in the planner (a measurement counted
		// for two steps, an abort claimed during promotion, a stale
		// promote-full skipping the next canary); they keep them fixed.
		{
			name: "analysis-after-weight-step",
			doc: []string{
				"Two analysis steps separated by a weight step that needs no new canary pod (10% and 25%",
				"of 4 stable replicas both need 1). The measurement that completes the first analysis",
				"must not count for the second: that one judges the canary at 25% and takes its first",
				"measurement one interval into its step.",
			},
			canary: canarySpec(analysisSpec(time.Minute, 2, 0, 0),
				setWeight(10), analysis(), setWeight(25), analysis()),
			stableReplicas:   4,
			stableReadyAfter: 1,
			ticks:            12,
			hooks:            []hook{atTick(1, specRevision("rev2"))},
			check: allOf(endsWith(msv1.RolloutPhaseSucceeded, "rev2", 0),
				func(s *sim, r tickRecord) {
					if r.tick == s.sc.ticks-1 && s.measured != 4 {
						s.inv.fail(r, "scenario: each analysis step takes its own measurements", "%d measurements taken for two steps of count 2", s.measured)
					}
				}),
		},
		{
			name: "abort-during-promotion",
			doc: []string{
				"An abort arrives while the stable Deployment is already rolling out the new revision",
				"(phase Promoting). The template the promotion replaced was saved, so the abort moves",
				"traffic back to stable, gives the stable Deployment rev1's template back, and then",
				"removes the canary; the stable revision in the status stays rev1 throughout.",
			},
			canary:           canarySpec(nil, setWeight(50), pauseFor(time.Minute)),
			stableReplicas:   4,
			stableReadyAfter: 3,
			ticks:            10,
			hooks: []hook{
				atTick(1, specRevision("rev2")),
				when(phaseIs(msv1.RolloutPhasePromoting), annotate(annAbort, "a1")),
			},
			check: allOf(endsWith(msv1.RolloutPhaseAborted, "rev1", 0), stableRevisionStays("rev1")),
		},
		{
			name: "abort-during-promotion-unsaved",
			doc: []string{
				"The same abort, for a promotion whose previous stable template was not saved (begun",
				"by an operator version that did not save it): there is nothing to go back to, so the",
				"abort must not claim to have happened: it is refused with a warning and the promotion",
				"completes.",
			},
			canary:           canarySpec(nil, setWeight(50), pauseFor(time.Minute)),
			stableReplicas:   4,
			stableReadyAfter: 3,
			unsaved:          true,
			ticks:            10,
			hooks: []hook{
				atTick(1, specRevision("rev2")),
				when(phaseIs(msv1.RolloutPhasePromoting), annotate(annAbort, "a1")),
			},
			check: endsWith(msv1.RolloutPhaseSucceeded, "rev2", 0),
		},
		{
			name: "promotion-past-deadline",
			doc: []string{
				"The stable Deployment's new pods never become ready during the promotion: past",
				"progressDeadline (3m) from the promotion's start, the promotion is rolled back the",
				"way an abort is: traffic to stable, rev1's saved template back on the stable track,",
				"then the canary removed, with a message that says what did not progress.",
			},
			canary: func() *msv1.Canary {
				c := canarySpec(nil, setWeight(50), pauseFor(time.Minute))
				c.ProgressDeadline = &metav1.Duration{Duration: 3 * time.Minute}
				return c
			}(),
			stableReplicas: 4,
			ticks:          14,
			hooks: []hook{
				atTick(1, specRevision("rev2")),
				atTick(2, stableReadyAfter(never)),
				when(phaseIs(msv1.RolloutPhasePromoting), stableReadyAfter(1)), // only rev2's pods never become ready
			},
			check: allOf(endsWith(msv1.RolloutPhaseRolledBack, "rev1", 0), stableRevisionStays("rev1"),
				func(s *sim, r tickRecord) {
					st := r.d.Status
					if st.Phase == msv1.RolloutPhaseRolledBack && !strings.Contains(st.Message, "has not rolled out revision rev2 after 3m") {
						s.inv.fail(r, "scenario: the rollback says why", "message %q", st.Message)
					}
				}),
		},
		{
			name: "stale-promote-full",
			doc: []string{
				"promote-full is written after rev2 has already been promoted (too late, or by a script).",
				"It must not skip the canary of rev3, delivered later: an annotation value the operator",
				"saw while no rollout was running is not a request for the next rollout.",
			},
			canary:         canarySpec(nil, setWeight(20), pauseFor(time.Minute), setWeight(50), pauseFor(time.Minute)),
			stableReplicas: 4,
			ticks:          20,
			hooks: []hook{
				atTick(1, specRevision("rev2")),
				when(phaseIs(msv1.RolloutPhaseSucceeded), annotate(annPromoteFull, "pf1")),
				atTick(11, specRevision("rev3")),
			},
			check: allOf(endsWith(msv1.RolloutPhaseSucceeded, "rev3", 0),
				func(s *sim, r tickRecord) {
					if s.desired == "rev3" && r.d.Status.Phase == msv1.RolloutPhasePromoting && s.weight == 0 && r.prevWeight == 0 {
						s.inv.fail(r, "scenario: rev3 runs its canary steps", "rev3 promoted without ever taking traffic")
					}
				}),
		},
		{
			name: "held-at-start",
			doc: []string{
				"A new canary-strategy service whose required dependency is not available: its stable",
				"Deployment is created at zero replicas (held, no canary), with the spec's template, so",
				"that the template it starts with is complete. The dependency becomes available but",
				"rolls out: start-up waits only for availability, so the service starts, its first",
				"version straight on the stable track. Its next version waits while the dependency",
				"rolls out, then is delivered as a canary; no message says it waits once it does not.",
			},
			canary:         typical(),
			newService:     true,
			stableReplicas: 2,
			deps:           Dependencies{NotAvailable: []string{"payments (Unavailable)"}, Gating: []string{"payments (Unavailable)"}},
			ticks:          16,
			hooks: []hook{
				atTick(2, dependencies(nil, []string{"payments (RollingOut)"})),
				atTick(4, specRevision("rev2")),
				atTick(6, dependencies(nil, nil)),
			},
			check: allOf(endsWith(msv1.RolloutPhaseSucceeded, "rev2", 0),
				func(s *sim, r tickRecord) {
					if r.tick < 2 && (!r.d.Hold || !s.stable.held || s.stable.replicas != 0) {
						s.inv.fail(r, "scenario: held at zero replicas", "hold %v, stable %s", r.d.Hold, s.stable.String())
					}
				}),
		},
		{
			name: "held-at-start-new-route",
			doc: []string{
				"A new canary-strategy service held for its dependencies, whose new route the Gateway",
				"applies 2.5 s after its creation: waiting for the router never starts a canary pod",
				"(a canary the route may still send requests to keeps the pods it has, and this one has",
				"none). The e2e suite saw a frontend canary pod created while its dependencies were",
				"not available, until the drain kept at least one canary pod while the route was unapplied.",
			},
			canary:         typical(),
			newService:     true,
			stableReplicas: 2,
			gatewayLag:     2500 * time.Millisecond,
			deps:           Dependencies{NotAvailable: []string{"payments (Missing)"}, Gating: []string{"payments (Missing)"}},
			ticks:          8,
			hooks: []hook{
				atTick(3, dependencies(nil, nil)),
			},
			check: allOf(endsWith(msv1.RolloutPhaseIdle, "rev1", 0),
				func(s *sim, r tickRecord) {
					if s.canary.replicas != 0 || r.d.CanaryReplicas != 0 {
						s.inv.fail(r, "scenario: no canary pod for a first version", "canary %s, decision %d", s.canary.String(), r.d.CanaryReplicas)
					}
				}),
		},
		{
			name: "held-at-start-rolling-update",
			doc: []string{
				"The same story with the RollingUpdate strategy: held at zero replicas with the spec's",
				"template, started as soon as the dependency is available, the next version held while",
				"the dependency rolls out and rolled out once it is ready.",
			},
			newService:     true,
			stableReplicas: 2,
			deps:           Dependencies{NotAvailable: []string{"payments (Missing)"}, Gating: []string{"payments (Missing)"}},
			ticks:          9,
			hooks: []hook{
				atTick(1, specRevision("rev2")),
				atTick(3, dependencies(nil, []string{"payments (RollingOut)"})),
				atTick(5, specRevision("rev3")),
				atTick(7, dependencies(nil, nil)),
			},
			check: func(s *sim, r tickRecord) {
				if r.tick == s.sc.ticks-1 && s.stable.revision != "rev3" {
					s.inv.fail(r, "scenario: final state", "stable %s, want rev3", s.stable.String())
				}
			},
		},
		{
			name: "canary-under-way-not-held",
			doc: []string{
				"A dependency starts rolling out while a canary is under way: the canary goes on (its",
				"traffic is never left on pods being replaced), and a newer revision restarts it from",
				"step 1. Once it is promoted, the next revision waits for the dependency; the spec set",
				"back to the stable revision ends the wait, and the status says so.",
			},
			canary:         canarySpec(nil, setWeight(20), pauseFor(time.Minute), setWeight(50), pauseFor(time.Minute)),
			stableReplicas: 4,
			ticks:          20,
			hooks: []hook{
				atTick(1, specRevision("rev2")),
				when(phaseAtStep(msv1.RolloutPhasePaused, 2), dependencies(nil, []string{"payments (RollingOut)"})),
				when(phaseAtStep(msv1.RolloutPhasePaused, 4), specRevision("rev3")),
				when(phaseIs(msv1.RolloutPhaseSucceeded), specRevision("rev4")),
				atTick(16, specRevision("rev3")),
			},
			check: allOf(endsWith(msv1.RolloutPhaseSucceeded, "rev3", 0),
				func(s *sim, r tickRecord) {
					if s.desired == "rev4" && r.d.Waiting == "" && !hasEvent(r.d, "RolloutStarted") {
						s.inv.fail(r, "scenario: rev4 waits", "rev4 not held while payments rolls out")
					}
				}),
		},
		{
			name: "webhook-gates",
			doc: []string{
				"Three gates and a post-rollout hook. confirm-rollout says no twice: the canary gets no",
				"pod until it says yes. confirm-traffic-increase says no once before the first weight",
				"and yes afterwards; confirm-promotion says no once. The post-rollout hook hears of the",
				"promotion once, after the rollout Succeeded.",
			},
			canary: withWebhooks(canarySpec(nil, setWeight(25), pauseFor(time.Minute), setWeight(50)),
				webhook("approve", msv1.WebhookConfirmRollout), webhook("more", msv1.WebhookConfirmTrafficIncrease),
				webhook("ship", msv1.WebhookConfirmPromotion), webhook("tell", msv1.WebhookPostRollout)),
			webhookAnswers:   map[string]string{"approve": "NN", "more": "N", "ship": "N"},
			stableReplicas:   4,
			stableReadyAfter: 1,
			ticks:            20,
			hooks:            []hook{atTick(1, specRevision("rev2"))},
			check:            allOf(endsWith(msv1.RolloutPhaseSucceeded, "rev2", 0), gatesHold(), calledOnce("tell", msv1.RolloutPhaseSucceeded)),
		},
		{
			name: "webhook-pre-rollout-fails",
			doc: []string{
				"A pre-rollout check (an acceptance test against the canary's Service) fails three",
				"times with retries 2: the canary is rolled back before it ever got traffic, and the",
				"post-rollout hook hears of the rollback.",
			},
			canary: withWebhooks(canarySpec(nil, setWeight(25), pauseFor(time.Minute)),
				webhook("acceptance", msv1.WebhookPreRollout), webhook("tell", msv1.WebhookPostRollout)),
			webhookAnswers: map[string]string{"acceptance": "NNN"},
			stableReplicas: 4,
			ticks:          12,
			hooks:          []hook{atTick(1, specRevision("rev2"))},
			check: allOf(endsWith(msv1.RolloutPhaseRolledBack, "rev1", 0), calledOnce("tell", msv1.RolloutPhaseRolledBack),
				func(s *sim, r tickRecord) {
					if r.d.RouteWeight != 0 {
						s.inv.fail(r, "scenario: no traffic before the pre-rollout check passed", "route weight %d", r.d.RouteWeight)
					}
				}),
		},
		{
			name: "webhook-load-test-and-rollback",
			doc: []string{
				"A rollout webhook (a load test) is called after each weight step and must pass before",
				"the next step; its first call fails and is retried. A rollback hook says no three",
				"times, then yes during the pause: the canary is rolled back, traffic first.",
			},
			canary: withWebhooks(canarySpec(nil, setWeight(20), setWeight(40), pauseFor(10*time.Minute)),
				webhook("load", msv1.WebhookRollout), webhook("oncall", msv1.WebhookRollback)),
			webhookAnswers: map[string]string{"load": "N", "oncall": "NNNNNN"},
			stableReplicas: 4,
			ticks:          16,
			hooks:          []hook{atTick(1, specRevision("rev2"))},
			check: allOf(endsWith(msv1.RolloutPhaseRolledBack, "rev1", 0),
				func(s *sim, r tickRecord) {
					st := r.d.Status
					if r.prev != nil && stepOf(r.prev) >= 0 && stepOf(&st) > stepOf(r.prev) && int(stepOf(r.prev)) < 2 {
						if e := entry(r.prev, "load"); e == nil || e.Phase != msv1.WebhookSucceeded {
							if e2 := entry(&st, "load"); e2 == nil || e2.Phase != msv1.WebhookSucceeded || !sameStep(e2.Step, r.prev.CurrentStep) {
								s.inv.fail(r, "scenario: a weight step ends only after its load test passed", "step %d -> %d", stepOf(r.prev)+1, stepOf(&st)+1)
							}
						}
					}
				}),
		},
		{
			name: "background-analysis-fails-in-a-pause",
			doc: []string{
				"A background analysis from the first step measures the canary every minute once it",
				"has traffic, through the long pause that has no analysis step: its second failure",
				"(failureLimit 1) rolls the canary back in the middle of the pause, traffic first.",
			},
			canary: withBackground(canarySpec(analysisSpec(time.Minute, 2, 1, 0),
				setWeight(20), pauseFor(10*time.Minute), setWeight(50), pauseFor(5*time.Minute)), 0),
			backgroundMeasurements: "SSFF",
			stableReplicas:         4,
			ticks:                  12,
			hooks:                  []hook{atTick(1, specRevision("rev2"))},
			check: allOf(endsWith(msv1.RolloutPhaseRolledBack, "rev1", 0), backgroundOnlyWithTraffic(0),
				func(s *sim, r tickRecord) {
					if st := r.d.Status; st.Phase == msv1.RolloutPhaseRolledBack && r.prev != nil && r.prev.Phase != st.Phase && stepOf(r.prev) != 1 {
						s.inv.fail(r, "scenario: rolled back in the pause", "at step %d", stepOf(r.prev)+1)
					}
				}),
		},
		{
			name: "background-analysis-inconclusive-then-resumed",
			doc: []string{
				"A background analysis from step 3 (setWeight 60) never measures before it. Its",
				"measurements go inconclusive twice (inconclusiveLimit 1) during the last pause: the",
				"rollout is held there; a promote resumes it at the same step (the pause is not",
				"skipped), and the analysis step took its own two measurements before.",
			},
			canary: withBackground(canarySpec(analysisSpec(time.Minute, 2, 0, 1),
				setWeight(20), analysis(), setWeight(60), pauseFor(6*time.Minute)), 2),
			backgroundMeasurements: "SII",
			stableReplicas:         4,
			ticks:                  18,
			hooks: []hook{
				atTick(1, specRevision("rev2")),
				when(func(s *sim) bool {
					st := s.status()
					return st != nil && st.Phase == msv1.RolloutPhasePaused && st.BackgroundAnalysis != nil && st.BackgroundAnalysis.Inconclusives == 2
				}, annotate(annPromote, "1")),
			},
			check: allOf(endsWith(msv1.RolloutPhaseSucceeded, "rev2", 0), backgroundOnlyWithTraffic(2),
				func(s *sim, r tickRecord) {
					if hasEvent(r.d, "RolloutPromoted") && stepOf(&r.d.Status) != stepOf(r.prev) {
						s.inv.fail(r, "scenario: a resumed background analysis keeps the step", "step %d -> %d", stepOf(r.prev)+1, stepOf(&r.d.Status)+1)
					}
					if r.d.Status.Phase == msv1.RolloutPhasePromoting && r.prev.Phase != msv1.RolloutPhasePromoting &&
						(r.prev.BackgroundAnalysis == nil || r.prev.BackgroundAnalysis.Inconclusives != 0) {
						s.inv.fail(r, "scenario: promoted past a held background analysis", "%+v", r.prev.BackgroundAnalysis)
					}
				}),
		},
		{
			name: "blue-green",
			doc: []string{
				"Blue-green with every default: the preview runs at full size (4 pods) with no traffic;",
				"once all its pods are ready all traffic switches at once (0 to 100, nothing between);",
				"the old version's 4 pods stay, with no traffic, for the 30s scale-down delay; then the",
				"stable track takes the new version, traffic moves back to it and the preview goes.",
			},
			canary:           blueGreen(msv1.BlueGreen{}),
			stableReplicas:   4,
			canaryReadyAfter: 2,
			stableReadyAfter: 1,
			ticks:            14,
			hooks:            []hook{atTick(1, specRevision("rev2"))},
			check:            allOf(endsWith(msv1.RolloutPhaseSucceeded, "rev2", 0), blueGreenSwitch(4)),
		},
		{
			name: "blue-green-manual-post-analysis-fails",
			doc: []string{
				"Blue-green with autoPromotion false and a post-promotion analysis: the preview waits",
				"for a promote; the switch sends it all traffic; its first measurement fails and",
				"traffic switches back to the old version, whose pods never left.",
			},
			canary: blueGreen(msv1.BlueGreen{AutoPromotion: ptr.To(false), PostPromotionAnalysis: true,
				Analysis: analysisSpec(time.Minute, 2, 0, 0)}),
			measurements:   "F",
			stableReplicas: 4,
			ticks:          12,
			hooks: []hook{
				atTick(1, specRevision("rev2")),
				when(phaseAtStep(msv1.RolloutPhasePaused, 1), annotate(annPromote, "1")),
			},
			check: allOf(endsWith(msv1.RolloutPhaseRolledBack, "rev1", 0), blueGreenSwitch(4), stableRevisionStays("rev1")),
		},
		{
			name: "blue-green-abort-in-scale-down-delay",
			doc: []string{
				"Blue-green: an abort during the scale-down delay after the switch sends all traffic",
				"back to the old version at once; its pods were kept, so nothing waits for a pod.",
			},
			canary:         blueGreen(msv1.BlueGreen{ScaleDownDelay: &metav1.Duration{Duration: 5 * time.Minute}}),
			stableReplicas: 3,
			ticks:          10,
			hooks: []hook{
				atTick(1, specRevision("rev2")),
				when(phaseAtStep(msv1.RolloutPhasePaused, 2), annotate(annAbort, "1")),
			},
			check: allOf(endsWith(msv1.RolloutPhaseAborted, "rev1", 0), blueGreenSwitch(3), stableRevisionStays("rev1")),
		},
		{
			name: "blue-green-worker",
			doc: []string{
				"Blue-green of a worker with no ports (no route, so no weights: admission allows it",
				"only without ports): the new version runs at full size beside the old one, then the",
				"stable track takes it and the preview goes. Nothing is switched.",
			},
			canary:           blueGreen(msv1.BlueGreen{ScaleDownDelay: &metav1.Duration{Duration: time.Minute}}),
			noRoute:          true,
			stableReplicas:   2,
			stableReadyAfter: 1,
			ticks:            10,
			hooks:            []hook{atTick(1, specRevision("rev2"))},
			check:            endsWith(msv1.RolloutPhaseSucceeded, "rev2", 0),
		},
	}
}

// blueGreen is the canary that a BlueGreen strategy amounts to.
func blueGreen(bg msv1.BlueGreen) *msv1.Canary {
	return (&msv1.Rollout{Strategy: msv1.BlueGreenStrategy, BlueGreen: &bg}).EffectiveCanary()
}

// blueGreenSwitch checks a blue-green's promises on every tick: the route
// sends the preview 0% or 100%, nothing between; it sends 100% only to a
// preview with all its pods ready; and while the preview has traffic the
// stable track keeps all its pods.
func blueGreenSwitch(replicas int32) func(*sim, tickRecord) {
	return func(s *sim, r tickRecord) {
		w := r.d.RouteWeight
		if w != 0 && w != 100 {
			s.inv.fail(r, "blue-green: all or nothing", "route weight %d", w)
		}
		if w == 100 && (s.canary.ready < replicas || r.d.CanaryReplicas < replicas) {
			s.inv.fail(r, "blue-green: the switch waits for the whole preview", "%d of %d preview pods ready", s.canary.ready, replicas)
		}
		if r.d.Status.Phase == msv1.RolloutPhaseProgressing || r.d.Status.Phase == msv1.RolloutPhasePaused {
			if r.d.CanaryReplicas != replicas {
				s.inv.fail(r, "blue-green: the preview runs at full size", "%d replicas, want %d", r.d.CanaryReplicas, replicas)
			}
			if w == 100 && s.stable.ready < replicas {
				s.inv.fail(r, "blue-green: the old version is kept", "%d of %d stable pods ready", s.stable.ready, replicas)
			}
		}
	}
}

func withBackground(c *msv1.Canary, startingStep int32) *msv1.Canary {
	c.BackgroundAnalysis = &msv1.BackgroundAnalysis{StartingStep: ptr.To(startingStep)}
	return c
}

// backgroundOnlyWithTraffic checks that the background analysis measures
// only a canary with traffic, at or after its starting step.
func backgroundOnlyWithTraffic(startingStep int32) func(*sim, tickRecord) {
	return func(s *sim, r tickRecord) {
		if r.obs.Background == nil {
			return
		}
		if r.prev.CanaryWeight == 0 || stepOf(r.prev) < startingStep {
			s.inv.fail(r, "scenario: background measurements only with traffic from the starting step", "weight %d at step %d", r.prev.CanaryWeight, stepOf(r.prev)+1)
		}
	}
}

func webhook(name string, t msv1.WebhookType) msv1.Webhook {
	return msv1.Webhook{Name: name, Type: t, URL: "http://hooks.test/" + name}
}

func withWebhooks(c *msv1.Canary, hooks ...msv1.Webhook) *msv1.Canary {
	c.Webhooks = hooks
	return c
}

func entry(st *msv1.RolloutStatus, name string) *msv1.WebhookStatus {
	for i := range st.Webhooks {
		if st.Webhooks[i].Name == name {
			return &st.Webhooks[i]
		}
	}
	return nil
}

// gatesHold checks that no canary pod runs before confirm-rollout said
// yes, no weight rises before confirm-traffic-increase said yes for that
// step, and no promotion starts before confirm-promotion said yes.
func gatesHold() func(*sim, tickRecord) {
	return func(s *sim, r tickRecord) {
		st := r.d.Status
		if st.CanaryRevision == "" {
			return
		}
		if e := entry(&st, "approve"); (e == nil || e.Phase != msv1.WebhookSucceeded) && r.d.CanaryReplicas > 0 {
			s.inv.fail(r, "scenario: no canary pod before confirm-rollout", "canary replicas %d", r.d.CanaryReplicas)
		}
		if r.prev != nil && st.CanaryWeight > r.prev.CanaryWeight {
			e := entry(&st, "more")
			if e == nil || e.Phase != msv1.WebhookSucceeded || e.Step == nil || ptr.Deref(s.sc.canary.Steps[*e.Step].SetWeight, -1) != st.CanaryWeight {
				s.inv.fail(r, "scenario: no weight increase before confirm-traffic-increase", "weight %d -> %d", r.prev.CanaryWeight, st.CanaryWeight)
			}
		}
		if st.Phase == msv1.RolloutPhasePromoting {
			if e := entry(&st, "ship"); e == nil || e.Phase != msv1.WebhookSucceeded {
				s.inv.fail(r, "scenario: no promotion before confirm-promotion", "promoting")
			}
		}
	}
}

// calledOnce checks that the post-rollout webhook name is called exactly
// once, after the rollout reached phase.
func calledOnce(name string, phase msv1.RolloutPhase) func(*sim, tickRecord) {
	return func(s *sim, r tickRecord) {
		for _, a := range r.obs.Webhooks {
			if a.Name == name && (r.prev == nil || r.prev.Phase != phase) {
				s.inv.fail(r, "scenario: post-rollout after the outcome", "called in phase %s", r.prev.Phase)
			}
		}
		if r.tick == s.sc.ticks-1 && s.called[name] != 1 {
			s.inv.fail(r, "scenario: post-rollout called once", "called %d times", s.called[name])
		}
	}
}
