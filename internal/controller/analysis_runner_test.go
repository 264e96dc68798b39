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
	"context"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
	"github.com/msvc-dev/msvc-operator/internal/rollout"
)

// runnerMicroservice is a Microservice at its first analysis step.
func runnerMicroservice(name string) *msv1.Microservice {
	return &msv1.Microservice{
		ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: name, UID: types.UID("uid-" + name), Generation: 2},
		Status: msv1.MicroserviceStatus{Rollout: &msv1.RolloutStatus{
			Phase:          msv1.RolloutPhaseProgressing,
			CanaryRevision: "rev2",
			CurrentStep:    ptr.To[int32](1),
			StepStartedAt:  &metav1.Time{Time: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)},
		}},
	}
}

// waitDone waits for the runner to tell that a measurement has finished.
func waitDone(t *testing.T, a *analysisRunner) string {
	t.Helper()
	select {
	case ev := <-a.done:
		return ev.Object.Namespace + "/" + ev.Object.Name
	case <-time.After(5 * time.Second):
		t.Fatal("no measurement finished within 5s")
		return ""
	}
}

func TestAnalysisRunnerRunsOffTheCallerAndKeepsTheResultForItsKey(t *testing.T) {
	a := newAnalysisRunner(4)
	t.Cleanup(a.stop)
	ms := runnerMicroservice("checkout")
	k := analysisKeyOf(ms)
	release := make(chan struct{})
	var calls atomic.Int32
	measure := func(ctx context.Context) *rollout.Measurement {
		calls.Add(1)
		<-release
		return &rollout.Measurement{Phase: rollout.PhaseSuccessful}
	}

	// The measurement blocks; asking for it does not.
	if m, running := a.get(ms, "", k, measure); m != nil || !running {
		t.Fatalf("first ask = %v, running %v; want nil, running", m, running)
	}
	if m, running := a.get(ms, "", k, measure); m != nil || !running {
		t.Fatalf("ask while it runs = %v, running %v; want nil, running", m, running)
	}
	close(release)
	if got := waitDone(t, a); got != "shop/checkout" {
		t.Fatalf("reconcile triggered for %s, want shop/checkout", got)
	}
	for range 2 {
		// A reconcile that fails to record the result gets it again.
		m, running := a.get(ms, "", k, measure)
		if m == nil || m.Phase != rollout.PhaseSuccessful || running {
			t.Fatalf("ask once finished = %v, running %v; want the Successful result", m, running)
		}
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("measured %d times, want once", n)
	}
}

func TestAnalysisRunnerNeverGivesAResultToAnotherMeasurement(t *testing.T) {
	later := func(mutate func(*msv1.Microservice)) analysisKey {
		ms := runnerMicroservice("checkout")
		mutate(ms)
		return analysisKeyOf(ms)
	}
	k := analysisKeyOf(runnerMicroservice("checkout"))
	for name, other := range map[string]analysisKey{
		"the next measurement of the step": later(func(ms *msv1.Microservice) {
			ms.Status.Rollout.Analysis = &msv1.AnalysisStatus{Step: 1, Measurements: 1}
		}),
		"the next step":  later(func(ms *msv1.Microservice) { ms.Status.Rollout.CurrentStep = ptr.To[int32](2) }),
		"a new revision": later(func(ms *msv1.Microservice) { ms.Status.Rollout.CanaryRevision = "rev3" }),
		"a retry of the step": later(func(ms *msv1.Microservice) {
			ms.Status.Rollout.StepStartedAt = &metav1.Time{Time: ms.Status.Rollout.StepStartedAt.Add(time.Minute)}
		}),
		"a new spec":                   later(func(ms *msv1.Microservice) { ms.Generation++ }),
		"a Microservice created again": later(func(ms *msv1.Microservice) { ms.UID = "uid-new" }),
	} {
		t.Run(name, func(t *testing.T) {
			if other == k {
				t.Fatalf("key %+v does not differ", other)
			}
			a := newAnalysisRunner(4)
			t.Cleanup(a.stop)
			ms := runnerMicroservice("checkout")
			a.get(ms, "", k, func(context.Context) *rollout.Measurement {
				return &rollout.Measurement{Phase: rollout.PhaseFailed}
			})
			waitDone(t, a)
			m, running := a.get(ms, "", other, func(context.Context) *rollout.Measurement {
				return &rollout.Measurement{Phase: rollout.PhaseSuccessful}
			})
			if m != nil || !running {
				t.Fatalf("ask for %s = %v, running %v; want a new measurement", name, m, running)
			}
			waitDone(t, a)
			if m, _ := a.get(ms, "", other, nil); m == nil || m.Phase != rollout.PhaseSuccessful {
				t.Fatalf("result for %s = %v, want its own Successful one", name, m)
			}
		})
	}
}

func TestAnalysisRunnerForgetsAResultNothingWaitsFor(t *testing.T) {
	a := newAnalysisRunner(4)
	t.Cleanup(a.stop)
	ms := runnerMicroservice("checkout")
	k := analysisKeyOf(ms)
	var calls atomic.Int32
	measure := func(context.Context) *rollout.Measurement {
		calls.Add(1)
		return &rollout.Measurement{Phase: rollout.PhaseSuccessful}
	}
	a.get(ms, "", k, measure)
	waitDone(t, a)
	// Paused before the result was recorded, and resumed later: the
	// result of then does not judge the canary of now.
	a.forget(types.NamespacedName{Namespace: "shop", Name: "checkout"})
	if m, running := a.get(ms, "", k, measure); m != nil || !running {
		t.Fatalf("ask once resumed = %v, running %v; want a new measurement", m, running)
	}
	waitDone(t, a)
	if n := calls.Load(); n != 2 {
		t.Errorf("measured %d times, want twice", n)
	}
}

func TestAnalysisRunnerCancelsWhatNothingWillUse(t *testing.T) {
	a := newAnalysisRunner(4)
	t.Cleanup(a.stop)
	ms := runnerMicroservice("checkout")
	started, cancelled := make(chan string, 3), make(chan string, 3)
	hang := func(what string) func(context.Context) *rollout.Measurement {
		return func(ctx context.Context) *rollout.Measurement {
			started <- what
			<-ctx.Done()
			cancelled <- what
			return &rollout.Measurement{Phase: rollout.PhaseInconclusive}
		}
	}
	a.get(ms, "", analysisKeyOf(ms), hang("step 2"))
	<-started
	next := analysisKeyOf(ms)
	next.Step++
	a.get(ms, "", next, hang("step 3"))
	if got := <-cancelled; got != "step 2" {
		t.Fatalf("cancelled %s, want the replaced measurement of step 2", got)
	}
	<-started
	a.forget(types.NamespacedName{Namespace: "shop", Name: "checkout"})
	if got := <-cancelled; got != "step 3" {
		t.Fatalf("cancelled %s, want the measurement of the deleted Microservice", got)
	}
	select {
	case ev := <-a.done:
		t.Fatalf("a cancelled measurement triggered a reconcile of %s", ev.Object.Name)
	case <-time.After(100 * time.Millisecond):
	}
	if m, running := a.get(ms, "", next, hang("again")); m != nil || !running {
		t.Fatalf("ask after forget = %v, running %v; want a new measurement", m, running)
	}
}

func TestAnalysisRunnerBoundsMeasurementsAtOnce(t *testing.T) {
	const slots = 3
	a := newAnalysisRunner(slots)
	t.Cleanup(a.stop)
	var now, most atomic.Int32
	release := make(chan struct{})
	for i := range 10 {
		ms := runnerMicroservice(string(rune('a' + i)))
		a.get(ms, "", analysisKeyOf(ms), func(context.Context) *rollout.Measurement {
			n := now.Add(1)
			for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
			}
			<-release
			now.Add(-1)
			return &rollout.Measurement{Phase: rollout.PhaseSuccessful}
		})
	}
	deadline := time.Now().Add(5 * time.Second)
	for now.Load() < slots && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)
	if n := now.Load(); n != slots {
		t.Fatalf("%d measurements run at once, want %d", n, slots)
	}
	close(release)
	for range 10 {
		waitDone(t, a)
	}
	if m := most.Load(); m > slots {
		t.Errorf("up to %d measurements ran at once, want at most %d", m, slots)
	}
}

func TestAnalysisRunnerStopsWithTheManager(t *testing.T) {
	a := newAnalysisRunner(4)
	ms := runnerMicroservice("checkout")
	a.get(ms, "", analysisKeyOf(ms), func(ctx context.Context) *rollout.Measurement {
		<-ctx.Done()
		return &rollout.Measurement{Phase: rollout.PhaseInconclusive}
	})
	ctx, stop := context.WithCancel(context.Background())
	stopped := make(chan error)
	go func() { stopped <- a.Start(ctx) }()
	stop()
	select {
	case err := <-stopped:
		if err != nil {
			t.Fatalf("Start returned %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Start did not return within 5s of the manager stopping")
	}
}
