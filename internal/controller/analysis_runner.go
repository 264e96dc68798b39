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
	"slices"
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

// backgroundSlot is the runner's slot of background measurements.
const backgroundSlot = "background"

// backgroundKeyOf is the key of the background measurement that the
// rollout status of ms is waiting for: Step holds the step the background
// analysis started at, StepStarted its start.
func backgroundKeyOf(ms *msv1.Microservice) analysisKey {
	k := analysisKey{UID: ms.UID, Generation: ms.Generation}
	st := ms.Status.Rollout
	if st == nil || st.BackgroundAnalysis == nil {
		return k
	}
	b := st.BackgroundAnalysis
	k.Revision, k.Step, k.Measurements = st.CanaryRevision, b.Step, b.Measurements
	if b.StartedAt != nil {
		k.StepStarted = b.StartedAt.UnixNano()
	}
	return k
}

// callRunner takes calls to something outside the API server (analysis
// measurements, webhooks) off the reconcile workers: a reconcile asks for
// the call its status is due for, and goes on without it while it runs in
// a goroutine; when it is done, the runner triggers a reconcile of that
// Microservice, which finds the result and hands it to the planner, which
// records it in the status. A slow or hung server then only delays the
// calls to it. Each Microservice has one call per slot (one for its
// measurement, one per webhook), each for one key.
type callRunner[K comparable, R any] struct {
	// client is the HTTP client of every call, so that they share its
	// connections.
	client *http.Client
	// done receives a Microservice whose call has finished.
	done chan event.TypedGenericEvent[*msv1.Microservice]
	// slots bounds the calls that run at once.
	slots chan struct{}
	// base is the parent context of every call; stop cancels it.
	base context.Context
	stop context.CancelFunc
	wg   sync.WaitGroup

	mu sync.Mutex
	// runs holds the last call asked for of each Microservice, by slot,
	// running or finished.
	runs map[types.NamespacedName]map[string]*call[K, R]
}

// callSlot names one of a Microservice's calls.
type callSlot struct {
	types.NamespacedName
	Slot string
}

// analysisRunner runs the analysis measurements, one per Microservice.
type analysisRunner = callRunner[analysisKey, *rollout.Measurement]

// call is one call, running or finished.
type call[K comparable, R any] struct {
	key    K
	cancel context.CancelFunc
	// finished is set, with result, once the call has returned.
	finished bool
	result   R
}

// newAnalysisRunner returns a runner of at most slots measurements at once.
func newAnalysisRunner(slots int) *analysisRunner {
	return newCallRunner[analysisKey, *rollout.Measurement](slots)
}

// newCallRunner returns a runner of at most slots calls at once.
func newCallRunner[K comparable, R any](slots int) *callRunner[K, R] {
	base, stop := context.WithCancel(context.Background())
	return &callRunner[K, R]{
		client: analysis.NewHTTPClient(),
		done:   make(chan event.TypedGenericEvent[*msv1.Microservice]),
		slots:  make(chan struct{}, slots),
		base:   base,
		stop:   stop,
		runs:   map[types.NamespacedName]map[string]*call[K, R]{},
	}
}

// get returns the result of the call key of ms in slot once it has
// finished. Until then it returns the zero result and running: the first
// get starts do in a goroutine, and cancels a call of that slot for
// another key, whose result nothing would use. A finished result stays
// until ms asks for another key in the slot or is forgotten, so that a
// reconcile that failed to record it gets it again.
func (a *callRunner[K, R]) get(ms *msv1.Microservice, slot string, key K, do func(context.Context) R) (result R, running bool) {
	id := callSlot{NamespacedName: types.NamespacedName{Namespace: ms.Namespace, Name: ms.Name}, Slot: slot}
	a.mu.Lock()
	defer a.mu.Unlock()
	calls := a.runs[id.NamespacedName]
	if run := calls[slot]; run != nil {
		if run.key == key {
			return run.result, !run.finished
		}
		run.cancel()
	}
	ctx, cancel := context.WithCancel(a.base)
	run := &call[K, R]{key: key, cancel: cancel}
	if calls == nil {
		calls = map[string]*call[K, R]{}
		a.runs[id.NamespacedName] = calls
	}
	calls[slot] = run
	a.wg.Add(1)
	go a.run(ctx, id, run, do)
	var none R
	return none, true
}

func (a *callRunner[K, R]) run(ctx context.Context, id callSlot, run *call[K, R], do func(context.Context) R) {
	defer a.wg.Done()
	defer run.cancel()
	select {
	case a.slots <- struct{}{}:
	case <-ctx.Done():
		return
	}
	m := do(ctx)
	<-a.slots

	a.mu.Lock()
	current := a.runs[id.NamespacedName][id.Slot] == run && ctx.Err() == nil
	if current {
		run.finished, run.result = true, m
	}
	a.mu.Unlock()
	if !current {
		// Replaced, forgotten or stopped: the result judges nothing.
		return
	}
	ev := event.TypedGenericEvent[*msv1.Microservice]{Object: &msv1.Microservice{}}
	ev.Object.Namespace, ev.Object.Name = id.Namespace, id.Name
	select {
	case a.done <- ev:
	case <-a.base.Done():
	}
}

// forget cancels and drops every call of a Microservice that needs none:
// it is gone, or its rollout no longer waits for one (paused, aborted,
// promoted, or no canary at all). A rollout that waits for one again calls
// afresh.
func (a *callRunner[K, R]) forget(name types.NamespacedName) { a.keep(name, nil) }

// keep cancels and drops the calls of a Microservice but those in slots.
func (a *callRunner[K, R]) keep(name types.NamespacedName, slots []string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	calls := a.runs[name]
	for slot, run := range calls {
		if !slices.Contains(slots, slot) {
			run.cancel()
			delete(calls, slot)
		}
	}
	if len(calls) == 0 {
		delete(a.runs, name)
	}
}

// Start implements manager.Runnable: when the manager stops, it cancels
// every call and waits for their goroutines, which return as soon as
// their requests see the cancellation.
func (a *callRunner[K, R]) Start(ctx context.Context) error {
	<-ctx.Done()
	a.stop()
	a.wg.Wait()
	return nil
}

// NeedLeaderElection implements manager.LeaderElectionRunnable: the runner
// only runs what the reconciles of the leader ask for, and must stop with
// the manager either way.
func (a *callRunner[K, R]) NeedLeaderElection() bool { return false }

// setupAnalyses gives the reconciler its analysis and webhook runners, run
// and stopped by mgr, and returns the source of the reconciles that
// finished measurements and webhook calls trigger. The reconcile of a Microservice that is gone
// forgets its measurement (readCaughtUp).
func (r *MicroserviceReconciler) setupAnalyses(mgr ctrl.Manager) (source.Source, error) {
	r.analyses = newAnalysisRunner(maxMeasurements)
	r.webhooks = newCallRunner[webhookKey, *rollout.WebhookAnswer](maxWebhookCalls)
	// One source wakes a Microservice for both.
	r.webhooks.done = r.analyses.done
	backends, err := analysis.NewFactory(r.analyses.client, r.DefaultPrometheusAddress, r.DefaultPrometheusCredentials)
	if err != nil {
		return nil, err
	}
	r.backends = backends
	if err := mgr.Add(r.analyses); err != nil {
		return nil, err
	}
	if err := mgr.Add(r.webhooks); err != nil {
		return nil, err
	}
	return source.Channel(r.analyses.done, &handler.TypedEnqueueRequestForObject[*msv1.Microservice]{}), nil
}
