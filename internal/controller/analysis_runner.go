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
	"net/http"
	"sync"

	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/source"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
	"github.com/msvc-dev/msvc-operator/internal/analysis"
	"github.com/msvc-dev/msvc-operator/internal/rollout"
)

// maxMeasurements bounds the analysis measurements that run at once, over
// every Microservice. The others wait for a slot; their per-query timeout
// starts once they have one.
const maxMeasurements = 32

// analysisKey names one measurement: of which Microservice (its UID, so one
// deleted and created again under the same name starts afresh) and spec
// (its generation), for which revision, at which step and attempt of it
// (the step's start), and which measurement of that step. A result is only
// ever given for the key it was taken for, so it never judges a later
// measurement, step, revision or spec.
type analysisKey struct {
	UID          types.UID
	Generation   int64
	Revision     string
	Step         int32
	StepStarted  int64
	Measurements int32
}

// analysisKeyOf is the key of the measurement that the rollout status of
// ms is waiting for.
func analysisKeyOf(ms *msv1.Microservice) analysisKey {
	k := analysisKey{UID: ms.UID, Generation: ms.Generation}
	st := ms.Status.Rollout
	if st == nil {
		return k
	}
	k.Revision = st.CanaryRevision
	if st.CurrentStep != nil {
		k.Step = *st.CurrentStep
	}
	if st.StepStartedAt != nil {
		k.StepStarted = st.StepStartedAt.UnixNano()
	}
	if a := st.Analysis; a != nil && a.Step == k.Step {
		k.Measurements = a.Measurements
	}
	return k
}

// analysisRunner takes analysis measurements off the reconcile workers: a
// reconcile asks for the measurement its status is due for, and goes on
// without it while it runs in a goroutine; when it is done, the runner
// triggers a reconcile of that Microservice, which finds the result and
// hands it to the planner, which records it in the status. A slow or hung
// metrics server then only delays the analyses that query it.
type analysisRunner struct {
	// client is the HTTP client of every measurement's metrics provider,
	// so that they share its connections.
	client *http.Client
	// done receives a Microservice whose measurement has finished.
	done chan event.TypedGenericEvent[*msv1.Microservice]
	// slots bounds the measurements that run at once.
	slots chan struct{}
	// base is the parent context of every measurement; stop cancels it.
	base context.Context
	stop context.CancelFunc
	wg   sync.WaitGroup

	mu sync.Mutex
	// runs holds the last measurement asked for of each Microservice,
	// running or finished.
	runs map[types.NamespacedName]*analysisRun
}

// analysisRun is one measurement, running or finished.
type analysisRun struct {
	key    analysisKey
	cancel context.CancelFunc
	// finished is set, with result, once the measurement has returned.
	finished bool
	result   *rollout.Measurement
}

// newAnalysisRunner returns a runner of at most slots measurements at once.
func newAnalysisRunner(slots int) *analysisRunner {
	base, stop := context.WithCancel(context.Background())
	return &analysisRunner{
		client: analysis.NewHTTPClient(),
		done:   make(chan event.TypedGenericEvent[*msv1.Microservice]),
		slots:  make(chan struct{}, slots),
		base:   base,
		stop:   stop,
		runs:   map[types.NamespacedName]*analysisRun{},
	}
}

// measurement returns the result of the measurement key of ms once it has
// finished. Until then it returns nil and running: the first call starts
// measure in a goroutine, and cancels a measurement of ms for another key,
// whose result nothing would use. A finished result stays until ms asks for
// another key or is forgotten, so that a reconcile that failed to record it
// gets it again.
func (a *analysisRunner) measurement(ms *msv1.Microservice, key analysisKey, measure func(context.Context) *rollout.Measurement) (result *rollout.Measurement, running bool) {
	name := types.NamespacedName{Namespace: ms.Namespace, Name: ms.Name}
	a.mu.Lock()
	defer a.mu.Unlock()
	if run := a.runs[name]; run != nil {
		if run.key == key {
			return run.result, !run.finished
		}
		run.cancel()
	}
	ctx, cancel := context.WithCancel(a.base)
	run := &analysisRun{key: key, cancel: cancel}
	a.runs[name] = run
	a.wg.Add(1)
	go a.run(ctx, name, run, measure)
	return nil, true
}

func (a *analysisRunner) run(ctx context.Context, name types.NamespacedName, run *analysisRun, measure func(context.Context) *rollout.Measurement) {
	defer a.wg.Done()
	defer run.cancel()
	select {
	case a.slots <- struct{}{}:
	case <-ctx.Done():
		return
	}
	m := measure(ctx)
	<-a.slots

	a.mu.Lock()
	current := a.runs[name] == run && ctx.Err() == nil
	if current {
		run.finished, run.result = true, m
	}
	a.mu.Unlock()
	if !current {
		// Replaced, forgotten or stopped: the result judges nothing.
		return
	}
	ev := event.TypedGenericEvent[*msv1.Microservice]{Object: &msv1.Microservice{}}
	ev.Object.Namespace, ev.Object.Name = name.Namespace, name.Name
	select {
	case a.done <- ev:
	case <-a.base.Done():
	}
}

// forget cancels and drops the measurement of a Microservice that needs
// none: it is gone, or its rollout no longer waits for one (paused,
// aborted, promoted, or no canary at all). A rollout that waits for one
// again measures afresh.
func (a *analysisRunner) forget(name types.NamespacedName) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if run := a.runs[name]; run != nil {
		run.cancel()
		delete(a.runs, name)
	}
}

// Start implements manager.Runnable: when the manager stops, it cancels
// every measurement and waits for their goroutines, which return as soon
// as their queries see the cancellation.
func (a *analysisRunner) Start(ctx context.Context) error {
	<-ctx.Done()
	a.stop()
	a.wg.Wait()
	return nil
}

// NeedLeaderElection implements manager.LeaderElectionRunnable: the runner
// only runs what the reconciles of the leader ask for, and must stop with
// the manager either way.
func (a *analysisRunner) NeedLeaderElection() bool { return false }

// setupAnalyses gives the reconciler its analysis runner, run and stopped
// by mgr, and returns the source of the reconciles that finished
// measurements trigger. The reconcile of a Microservice that is gone
// forgets its measurement (readCaughtUp).
func (r *MicroserviceReconciler) setupAnalyses(mgr ctrl.Manager) (source.Source, error) {
	r.analyses = newAnalysisRunner(maxMeasurements)
	backends, err := analysis.NewFactory(r.analyses.client, r.DefaultPrometheusAddress, r.DefaultPrometheusCredentials)
	if err != nil {
		return nil, err
	}
	r.backends = backends
	if err := mgr.Add(r.analyses); err != nil {
		return nil, err
	}
	return source.Channel(r.analyses.done, &handler.TypedEnqueueRequestForObject[*msv1.Microservice]{}), nil
}
