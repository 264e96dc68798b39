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

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
)

func TestRouteWeight(t *testing.T) {
	for _, tc := range []struct {
		name                          string
		weight                        int32
		stable, stableServing, canary int32
		want                          int32
	}{
		{"both tracks serve", 30, 4, 4, 2, 30},
		{"no canary traffic asked", 0, 4, 4, 0, 0},
		{"canary pods all crashed", 30, 4, 4, 0, 0},
		{"canary pods all crashed at 100%", 100, 4, 4, 0, 0},
		{"canary at 100% serving", 100, 4, 4, 4, 100},
		{"stable track down, canary serves", 30, 4, 0, 2, 100},
		{"neither track serves: the stable track keeps it", 30, 4, 0, 0, 0},
		{"neither track serves at 100%", 100, 4, 0, 0, 0},
		{"fewer canary pods than the weight needs: their share", 50, 10, 10, 2, 20},
		{"one canary pod of ten at 20%", 20, 10, 10, 1, 10},
		{"enough canary pods", 20, 10, 10, 2, 20},
		{"one canary pod of nine at 100%", 100, 9, 9, 1, 11},
	} {
		t.Run(tc.name, func(t *testing.T) {
			obs := Observation{StableReplicas: tc.stable, StableServingReplicas: tc.stableServing, CanaryServingReplicas: tc.canary}
			if got := RouteWeight(tc.weight, obs); got != tc.want {
				t.Errorf("RouteWeight(%d, stable %d/%d serving, canary %d serving) = %d, want %d",
					tc.weight, tc.stableServing, tc.stable, tc.canary, got, tc.want)
			}
		})
	}
}

func TestCanaryReplicasFor(t *testing.T) {
	for _, tc := range []struct {
		weight, stable, want int32
	}{
		{0, 4, 1},  // at least one pod, even without traffic
		{0, 0, 1},  // and even when the stable track is scaled to zero
		{50, 0, 1}, //
		{1, 4, 1},
		{20, 4, 1},
		{25, 4, 1},  // exactly one pod's share
		{26, 4, 2},  // a little more rounds up
		{50, 4, 2},  //
		{60, 4, 3},  // 2.4 rounds up
		{100, 4, 4}, // all traffic: as many as stable
		{100, 1, 1},
		{10, 10, 1},
		{11, 10, 2},
		{20, 10, 2},
		{33, 3, 1}, // 0.99 rounds up to 1
		{34, 3, 2}, // 1.02 rounds up to 2
		{1, 1000, 10},
		{99, 1000, 990},
		{100, 1000, 1000},
		{50, 1_000_000, 500_000}, // no overflow at large replica counts
	} {
		t.Run(fmt.Sprintf("%d%%_of_%d", tc.weight, tc.stable), func(t *testing.T) {
			if got := CanaryReplicasFor(tc.weight, tc.stable); got != tc.want {
				t.Errorf("CanaryReplicasFor(%d, %d) = %d, want %d", tc.weight, tc.stable, got, tc.want)
			}
		})
	}
}

func TestMeasurementDue(t *testing.T) {
	t0 := simEpoch
	at := func(d time.Duration) *metav1.Time { x := metav1.NewTime(t0.Add(d)); return &x }
	spec := func(every *time.Duration) *msv1.Canary {
		a := analysisSpec(time.Minute, 3, 0, 0)
		a.Interval = nil
		if every != nil {
			a.Interval = &metav1.Duration{Duration: *every}
		}
		return canarySpec(a, setWeight(20), analysis(), pauseFor(time.Minute))
	}
	halfMinute, zero := 30*time.Second, time.Duration(0)
	// status at the analysis step (index 1), started at t0.
	atAnalysis := func(mut func(st *msv1.RolloutStatus)) *msv1.RolloutStatus {
		st := &msv1.RolloutStatus{Phase: msv1.RolloutPhaseProgressing, CurrentStep: ptr.To[int32](1), StepStartedAt: at(0), CanaryWeight: 20}
		if mut != nil {
			mut(st)
		}
		return st
	}
	measured := func(n int32, last time.Duration) func(st *msv1.RolloutStatus) {
		return func(st *msv1.RolloutStatus) {
			st.Analysis = &msv1.AnalysisStatus{Measurements: n, LastMeasuredAt: at(last)}
		}
	}
	for _, tc := range []struct {
		name string
		c    *msv1.Canary
		st   *msv1.RolloutStatus
		now  time.Duration
		want bool
	}{
		{"no status", spec(nil), nil, time.Hour, false},
		{"idle", spec(nil), &msv1.RolloutStatus{Phase: msv1.RolloutPhaseIdle}, time.Hour, false},
		{"no current step", spec(nil), atAnalysis(func(st *msv1.RolloutStatus) { st.CurrentStep = nil }), time.Hour, false},
		{"at a weight step", spec(nil), atAnalysis(func(st *msv1.RolloutStatus) { st.CurrentStep = ptr.To[int32](0) }), time.Hour, false},
		{"at a pause step", spec(nil), atAnalysis(func(st *msv1.RolloutStatus) { st.CurrentStep = ptr.To[int32](2) }), time.Hour, false},
		{"all steps done", spec(nil), atAnalysis(func(st *msv1.RolloutStatus) { st.CurrentStep = ptr.To[int32](3) }), time.Hour, false},
		{"step index past a shortened spec", spec(nil), atAnalysis(func(st *msv1.RolloutStatus) { st.CurrentStep = ptr.To[int32](9) }), time.Hour, false},
		{"paused at the analysis", spec(nil), atAnalysis(func(st *msv1.RolloutStatus) { st.Phase = msv1.RolloutPhasePaused }), time.Hour, false},
		{"promoting", spec(nil), atAnalysis(func(st *msv1.RolloutStatus) { st.Phase = msv1.RolloutPhasePromoting }), time.Hour, false},
		{"rolled back", spec(nil), atAnalysis(func(st *msv1.RolloutStatus) { st.Phase = msv1.RolloutPhaseRolledBack }), time.Hour, false},
		{"no analysis in the spec", canarySpec(nil, setWeight(20), analysis()), atAnalysis(nil), time.Hour, false},

		{"first: right after the step started", spec(nil), atAnalysis(nil), 0, false},
		{"first: before one default interval", spec(nil), atAnalysis(nil), 59 * time.Second, false},
		{"first: at one default interval", spec(nil), atAnalysis(nil), time.Minute, true},
		{"first: after one interval", spec(nil), atAnalysis(nil), 5 * time.Minute, true},
		{"first: custom interval not yet", spec(&halfMinute), atAnalysis(nil), 29 * time.Second, false},
		{"first: custom interval", spec(&halfMinute), atAnalysis(nil), 30 * time.Second, true},
		{"first: zero interval means the default", spec(&zero), atAnalysis(nil), 30 * time.Second, false},
		{"first: analysis status without a measurement", spec(nil), atAnalysis(func(st *msv1.RolloutStatus) { st.Analysis = &msv1.AnalysisStatus{} }), time.Minute, true},
		{"first: no step start time", spec(nil), atAnalysis(func(st *msv1.RolloutStatus) { st.StepStartedAt = nil }), 0, true},

		{"next: before one interval after the last", spec(nil), atAnalysis(measured(1, time.Minute)), 119 * time.Second, false},
		{"next: one interval after the last", spec(nil), atAnalysis(measured(1, time.Minute)), 2 * time.Minute, true},
		{"next: counts from the last measurement, not the step start", spec(nil), atAnalysis(measured(2, 3*time.Minute)), 3*time.Minute + 30*time.Second, false},
		{"next: custom interval", spec(&halfMinute), atAnalysis(measured(1, time.Minute)), 90 * time.Second, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := MeasurementDue(tc.c, tc.st, t0.Add(tc.now)); got != tc.want {
				t.Errorf("MeasurementDue at t0+%s = %v, want %v", tc.now, got, tc.want)
			}
		})
	}
}

func TestAnalysisTimeout(t *testing.T) {
	for _, tc := range []struct {
		name     string
		analysis *msv1.Analysis
		want     time.Duration
	}{
		{"no analysis", nil, DefaultTimeout},
		{"unset", &msv1.Analysis{}, DefaultTimeout},
		{"unset with a short interval", &msv1.Analysis{Interval: &metav1.Duration{Duration: time.Second}}, DefaultTimeout},
		{"set", &msv1.Analysis{Timeout: &metav1.Duration{Duration: 3 * time.Second}}, 3 * time.Second},
		{"longer than the interval", &msv1.Analysis{Interval: &metav1.Duration{Duration: time.Second}, Timeout: &metav1.Duration{Duration: time.Minute}}, time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := AnalysisTimeout(&msv1.Canary{Analysis: tc.analysis}); got != tc.want {
				t.Errorf("AnalysisTimeout = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestCanaryMatchesAndRequests(t *testing.T) {
	serving := Observation{HasRoute: true, DesiredRevision: "r2", CanaryRevision: "r2", CanaryReadyReplicas: 1}
	running := msv1.RolloutStatus{Phase: msv1.RolloutPhasePaused, CanaryRevision: "r2"}
	match := []msv1.CanaryMatch{{Headers: []msv1.HeaderMatch{{Name: "X-Canary", Value: "1"}}}}
	for _, tc := range []struct {
		name                   string
		c                      msv1.Canary
		obs                    Observation
		st                     msv1.RolloutStatus
		wantMatches, wantExtra bool
	}{
		{"nothing beyond the weight", msv1.Canary{}, serving, running, false, false},
		{"matches", msv1.Canary{Matches: match}, serving, running, true, true},
		{"mirror", msv1.Canary{Mirror: &msv1.Mirror{}}, serving, running, true, true},
		// Sessions stick to where the weight sent a user: no requests of their own.
		{"session affinity", msv1.Canary{SessionAffinity: &msv1.SessionAffinity{}}, serving, running, true, false},
		{"no ready canary pod", msv1.Canary{Matches: match, SessionAffinity: &msv1.SessionAffinity{}},
			Observation{HasRoute: true, DesiredRevision: "r2", CanaryRevision: "r2"}, running, false, false},
		{"no route", msv1.Canary{SessionAffinity: &msv1.SessionAffinity{}},
			Observation{DesiredRevision: "r2", CanaryRevision: "r2", CanaryReadyReplicas: 1}, running, false, false},
		{"promoting", msv1.Canary{Mirror: &msv1.Mirror{}, SessionAffinity: &msv1.SessionAffinity{}}, serving,
			msv1.RolloutStatus{Phase: msv1.RolloutPhasePromoting, CanaryRevision: "r2"}, false, false},
		{"a canary of an older revision", msv1.Canary{Matches: match}, serving,
			msv1.RolloutStatus{Phase: msv1.RolloutPhasePaused, CanaryRevision: "r1"}, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &planner{c: &tc.c, obs: tc.obs, st: tc.st}
			if got := p.canaryMatches(); got != tc.wantMatches {
				t.Errorf("canaryMatches() = %v, want %v", got, tc.wantMatches)
			}
			if got := p.canaryGetsRequests(); got != tc.wantExtra {
				t.Errorf("canaryGetsRequests() = %v, want %v", got, tc.wantExtra)
			}
		})
	}
}
