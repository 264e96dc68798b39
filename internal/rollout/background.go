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
	"time"

	"k8s.io/utils/ptr"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
)

// The background analysis (spec.rollout.canary.backgroundAnalysis) measures
// the canary every interval through every step from its starting step on,
// once the canary gets traffic there, and keeps its own tally in
// status.rollout.backgroundAnalysis. Its measurements are separate from an
// analysis step's: a step counts its own, the background counts all of its.

// BackgroundMeasurementDue tells the reconciler to take a background
// measurement now: the background analysis runs (it has started in this
// attempt, the rollout is at a step, and it is not held on inconclusive
// measurements) and an interval has passed since its last measurement, or
// since it started.
func BackgroundMeasurementDue(c *msv1.Canary, st *msv1.RolloutStatus, now time.Time) bool {
	if !backgroundRunning(c, st) {
		return false
	}
	return nextBackgroundMeasurement(c, st).Sub(now) <= 0
}

// backgroundRunning is true while the background analysis takes
// measurements.
func backgroundRunning(c *msv1.Canary, st *msv1.RolloutStatus) bool {
	if c == nil || c.BackgroundAnalysis == nil || c.Analysis == nil || st == nil || st.BackgroundAnalysis == nil || st.CurrentStep == nil {
		return false
	}
	if st.Phase != msv1.RolloutPhaseProgressing && st.Phase != msv1.RolloutPhasePaused {
		return false
	}
	return int(*st.CurrentStep) < len(c.Steps) && !backgroundHeld(c, st)
}

// backgroundHeld is true when the background analysis has had more
// inconclusive measurements than the analysis tolerates: the rollout waits
// for a human.
func backgroundHeld(c *msv1.Canary, st *msv1.RolloutStatus) bool {
	b := st.BackgroundAnalysis
	return c.Analysis != nil && b != nil && b.Inconclusives > ptr.Deref(c.Analysis.InconclusiveLimit, 0)
}

func nextBackgroundMeasurement(c *msv1.Canary, st *msv1.RolloutStatus) time.Time {
	b := st.BackgroundAnalysis
	switch {
	case b.LastMeasuredAt != nil:
		return b.LastMeasuredAt.Add(AnalysisInterval(c))
	case b.StartedAt != nil:
		return b.StartedAt.Add(AnalysisInterval(c))
	}
	return time.Time{}
}

// background runs the background analysis for the current step: it starts
// it once the canary gets traffic at or after the starting step, counts the
// measurement of this reconcile, and rolls the canary back, or holds it,
// past the analysis's limits. It reports whether the steps may go on.
func (p *planner) background() bool {
	// BackgroundMeasuring stays: requeueForBackground reads it.
	m := p.obs.Background
	p.obs.Background = nil
	b, a := p.c.BackgroundAnalysis, p.c.Analysis
	if b == nil || a == nil || p.st.CurrentStep == nil || int(*p.st.CurrentStep) >= len(p.c.Steps) {
		return true
	}
	i, n := int(*p.st.CurrentStep), len(p.c.Steps)
	p.startBackground()
	as := p.st.BackgroundAnalysis
	if as == nil {
		return true
	}
	p.count(as, m)
	switch {
	case as.Failures > ptr.Deref(a.FailureLimit, 0):
		why := "background analysis: " + failing(as.Metrics)
		p.rollBack(i, fmt.Sprintf("Background analysis failed %d of %d measurements at step %d/%d: %s", as.Failures, as.Measurements, i+1, n, failing(as.Metrics)), why)
		return false
	case as.Inconclusives > ptr.Deref(a.InconclusiveLimit, 0):
		p.st.Phase = msv1.RolloutPhasePaused
		p.st.Message = fmt.Sprintf("Step %d/%d: background analysis inconclusive %d times (%s); promote to go on or abort", i+1, n, as.Inconclusives, failing(as.Metrics))
		if m != nil {
			p.event(true, "AnalysisInconclusive", "%s", p.st.Message)
		}
		p.holdCanary()
		return false
	}
	return true
}

// startBackground starts the background analysis once the canary gets
// traffic at or after its starting step. Plan calls it after the steps
// too, so that the step that gives the canary its first weight starts the
// clock of the first measurement, whatever that step waits for next.
func (p *planner) startBackground() {
	b := p.c.BackgroundAnalysis
	if b == nil || p.c.Analysis == nil || p.st.BackgroundAnalysis != nil || p.st.CurrentStep == nil ||
		p.st.Phase != msv1.RolloutPhaseProgressing && p.st.Phase != msv1.RolloutPhasePaused {
		return
	}
	i := int(*p.st.CurrentStep)
	if i >= len(p.c.Steps) || i < int(ptr.Deref(b.StartingStep, 0)) || p.st.CanaryWeight == 0 && !p.canaryGetsRequests() {
		return
	}
	p.st.BackgroundAnalysis = &msv1.AnalysisStatus{Step: int32(i), StartedAt: p.now()}
}

// resumeBackground is a promote of a rollout that the background analysis
// holds: it goes on at the same step with the inconclusive count reset.
func (p *planner) resumeBackground() bool {
	if !backgroundHeld(p.c, &p.st) {
		return false
	}
	p.st.BackgroundAnalysis.Inconclusives = 0
	p.st.Phase = msv1.RolloutPhaseProgressing
	p.event(false, "RolloutPromoted", "Background analysis of revision %s resumed by request at step %d", p.st.CanaryRevision, ptr.Deref(p.st.CurrentStep, 0)+1)
	return true
}

// requeueForBackground comes back when the next background measurement is
// due (a running one wakes the reconciler when it ends).
func (p *planner) requeueForBackground() {
	if !backgroundRunning(p.c, &p.st) || p.obs.BackgroundMeasuring {
		return
	}
	wait := max(nextBackgroundMeasurement(p.c, &p.st).Sub(p.obs.Now), time.Second)
	if p.requeue == 0 || wait < p.requeue {
		p.requeue = wait
	}
}
