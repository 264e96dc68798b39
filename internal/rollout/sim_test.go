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
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/utils/ptr"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
)

// This file is a small simulator that plays the cluster around the planner,
// the way the reconciler uses it: observe both Deployments, take a
// measurement when MeasurementDue says so, Plan, apply the Decision (stable
// template, canary replicas, route weight, status), let the Deployment
// controllers make pods ready, and wait for the next reconcile. Each reconcile
// ("tick") appends one line to a trace that is compared with a golden file
// under testdata/, and a set of invariants is checked on every tick.

var update = flag.Bool("update", false, "rewrite the golden files under testdata/ with the traces of this run")

// simEpoch is t=0 of every scenario.
var simEpoch = time.Date(2026, time.March, 1, 10, 0, 0, 0, time.UTC)

// never is a readiness delay for pods that never become ready.
const never = -1

// simDeployment is a Deployment as the reconciler observes it: the revision
// of its template, its replica count and how many pods of that template are
// ready.
type simDeployment struct {
	exists bool
	// held: at zero replicas, waiting for the service's dependencies.
	held     bool
	revision string
	replicas int32
	ready    int32
	// pending pods of the current template, not ready yet.
	pending []podBatch
	// readyAfter is how many following reconciles still see new pods
	// unready (0: the next reconcile sees them ready), or never.
	readyAfter int
}

// podBatch is n pods that become ready at the end of tick readyAt (never: not at all).
type podBatch struct {
	n       int32
	readyAt int
}

func (d *simDeployment) due(tick int) int {
	if d.readyAfter == never {
		return never
	}
	return tick + d.readyAfter
}

func (d *simDeployment) setTemplate(rev string, tick int) {
	if d.revision != rev {
		d.revision = rev
		// Only pods of the current template count.
		d.ready = 0
		d.pending = nil
		if d.replicas > 0 {
			d.pending = []podBatch{{d.replicas, d.due(tick)}}
		}
	}
}

func (d *simDeployment) scale(n int32, tick int) {
	if n > d.replicas {
		d.pending = append(d.pending, podBatch{n - d.replicas, d.due(tick)})
	}
	// A scale-down removes unready pods first, the newest first.
	for drop := d.replicas - n; drop > 0; {
		if k := len(d.pending); k > 0 {
			b := &d.pending[k-1]
			take := min(drop, b.n)
			b.n -= take
			drop -= take
			if b.n == 0 {
				d.pending = d.pending[:k-1]
			}
			continue
		}
		d.ready -= drop
		drop = 0
	}
	d.replicas = n
}

// control plays the Deployment controller at the end of a tick.
func (d *simDeployment) control(tick int) {
	kept := d.pending[:0]
	for _, b := range d.pending {
		if b.readyAt != never && b.readyAt <= tick {
			d.ready += b.n
			continue
		}
		kept = append(kept, b)
	}
	d.pending = kept
}

func (d *simDeployment) String() string {
	if !d.exists {
		return "-"
	}
	if d.held {
		return fmt.Sprintf("%s %d/%d(held)", d.revision, d.ready, d.replicas)
	}
	return fmt.Sprintf("%s %d/%d", d.revision, d.ready, d.replicas)
}

// scenario is one story told to the planner.
type scenario struct {
	name string
	// doc says what the scenario shows; it heads the golden file.
	doc []string
	// canary is the canary strategy's spec; nil is a rolling update.
	canary *msv1.Canary
	// stableReplicas of the stable Deployment at t=0 (running rev1), and
	// the spec's replica count.
	stableReplicas int32
	// unsaved plays an operator that never saved a stable template (a
	// promotion begun by an older version).
	unsaved bool
	// newService starts with no Deployment at all: the Microservice has
	// just been created.
	newService bool
	// deps is the state of the dependencies at t=0.
	deps Dependencies
	// canaryReadyAfter and stableReadyAfter are the readiness delays of new
	// pods, in reconciles (see simDeployment.readyAfter).
	canaryReadyAfter, stableReadyAfter int
	// noRoute splits traffic by replica ratio instead of HTTPRoute weights.
	noRoute bool
	// gatewayLag is how long after a route change the Gateway's data plane
	// applies it; until then the router reports the route not applied and
	// requests follow the route's previous weight. 0: at once.
	gatewayLag time.Duration
	// clockStep is how far the clock moves when nothing is requeued (the
	// next reconcile comes from a watch event). Default 30s.
	clockStep time.Duration
	// measurements is the scripted outcome of each measurement in order:
	// S(uccessful), F(ailed), I(nconclusive); afterwards measureDefault
	// (default S).
	measurements   string
	measureDefault byte
	// measureTakes is how long a measurement takes to answer, off the
	// reconcile: the reconciles meanwhile see it running, and its answer
	// triggers a reconcile. 0 answers within the reconcile that asks.
	measureTakes time.Duration
	// backgroundMeasurements scripts the background analysis's
	// measurements as measurements does the steps' (default S); they
	// answer within the reconcile that asks.
	backgroundMeasurements string
	// webhookAnswers scripts each webhook's answers in order, by name: Y
	// (2xx) or N (anything else); afterwards Y. Calls answer within the
	// reconcile that makes them.
	webhookAnswers map[string]string
	ticks          int
	hooks          []hook
	// check runs scenario-specific assertions after every tick.
	check func(s *sim, r tickRecord)
}

// hook changes the world before a reconcile: at a given tick, or at the
// first tick whose previous status satisfies when.
type hook struct {
	tick    int
	when    func(s *sim) bool
	actions []action
}

// due is true when h should fire at the reconcile about to run.
func (h hook) due(s *sim) bool {
	if h.tick >= 0 {
		return h.tick == s.tick
	}
	return h.when(s)
}

type action struct {
	note string
	do   func(s *sim)
}

func atTick(n int, actions ...action) hook { return hook{tick: n, actions: actions} }

func when(cond func(s *sim) bool, actions ...action) hook {
	return hook{tick: -1, when: cond, actions: actions}
}

// Actions. Each one a watch would notice triggers a reconcile 10s after the
// previous one (sooner than a pending requeue).
const watchDelay = 10 * time.Second

func specRevision(rev string) action {
	return action{"spec: pod template changed to revision " + rev, func(s *sim) { s.desired = rev; s.wake() }}
}

func annotate(key, value string) action {
	return action{fmt.Sprintf("kubectl annotate --overwrite %s=%s", key, value), func(s *sim) {
		s.annotations[key] = value
		s.wake()
	}}
}

func unannotate(key string) action {
	return action{"kubectl annotate " + key + "-", func(s *sim) { delete(s.annotations, key); s.wake() }}
}

func hpaScale(n int32) action {
	return action{fmt.Sprintf("HPA scales the stable Deployment to %d replicas", n), func(s *sim) {
		s.stable.scale(n, s.tick)
		s.wake()
	}}
}

// dependencies sets what the reconciler sees of the required dependencies:
// those not available, and those that gate a new version.
func dependencies(notAvailable, gating []string) action {
	what := "dependencies: all ready"
	if len(notAvailable)+len(gating) > 0 {
		what = fmt.Sprintf("dependencies: not available %v, gating new versions %v", notAvailable, gating)
	}
	return action{what, func(s *sim) {
		s.deps = Dependencies{NotAvailable: notAvailable, Gating: gating}
		s.wake()
	}}
}

func canaryReadyAfter(n int) action {
	what := "from now on new canary pods are ready " + describeDelay(n)
	return action{what, func(s *sim) { s.canary.readyAfter = n }}
}

func stableReadyAfter(n int) action {
	what := "from now on new stable pods are ready " + describeDelay(n)
	return action{what, func(s *sim) { s.stable.readyAfter = n }}
}

// canaryPodsCrash makes every canary pod unready; they are ready again
// recoverAfter reconciles later.
func canaryPodsCrash(recoverAfter int) action {
	return action{fmt.Sprintf("every canary pod crashes; ready again %s", describeDelay(recoverAfter)), func(s *sim) {
		s.canary.pending = append(s.canary.pending, podBatch{s.canary.ready, s.tick + recoverAfter})
		s.canary.ready = 0
		s.wake()
	}}
}

// statusWriteLost makes the operator die after the next reconcile applied
// its decision to the cluster and before it wrote the status.
func statusWriteLost() action {
	return action{"the operator dies after applying the next reconcile's decision, before writing its status", func(s *sim) {
		s.loseStatus = true
		s.wake()
	}}
}

// restartOperator throws away everything the operator holds in memory (its
// requeue timers); status.rollout and the cluster stay. The new operator
// reconciles every object right after it starts.
func restartOperator() action {
	return action{"operator restarted: in-memory state dropped, status.rollout and the cluster kept", func(s *sim) {
		s.restartedAt = s.tick
		s.beforeRestart = s.status()
		s.wake()
	}}
}

// sim is the simulated cluster plus the operator's persisted state.
type sim struct {
	sc *scenario

	desired     string
	annotations map[string]string
	deps        Dependencies
	stable      simDeployment
	canary      simDeployment
	// weight is the canary weight applied to the HTTPRoute.
	weight int32
	// served is the canary weight the Gateway's data plane applies, which
	// lags weight by gatewayLag; changes are the route's weights since,
	// each with the time it was written.
	served  int32
	changes []routeChange
	// saved is the revision whose stable template the reconciler saved
	// before a promotion replaced it ("" when none).
	saved string
	// statusJSON is status.rollout as stored by the API server; every
	// reconcile reads it back, as a restarted operator would.
	statusJSON []byte

	tick     int
	now      time.Time
	lastTick time.Time
	measured int
	fired    []bool
	// called counts each webhook's calls.
	called map[string]int
	// answered keeps each webhook call's answer by the entry it was for.
	answered map[string]WebhookAnswer

	// inflight is the last measurement asked for when measurements take
	// time, as the reconciler's analysis runner keeps it.
	inflight *inflightMeasurement
	// bgKey and bgResult are the last background measurement, kept for
	// the status it was asked for, as the runner keeps it.
	bgKey      string
	bgResult   *Measurement
	bgMeasured int

	restartedAt   int
	beforeRestart *msv1.RolloutStatus
	// loseStatus drops the status write of the next reconcile.
	loseStatus bool
	// failAt fails one action of one reconcile.
	failAt failedAction
	// release is what the service's reconcile sees of its release (set by
	// a release simulation before each tick; nil without one).
	release *ReleaseView

	lines []string
	inv   *invariants
}

// The actions of a reconcile that failedAction can fail, in the order the
// reconciler takes them.
const (
	actionStable = "stable Deployment apply"
	actionCanary = "canary Deployment apply"
	actionRoute  = "route apply"
	actionStatus = "status patch"
)

// failedAction is one action that fails at one tick (tick 0: none).
type failedAction struct {
	tick   int
	action string
}

// tickRecord is what one reconcile saw and decided.
type tickRecord struct {
	// statusLost is true when the decision was applied but its status never written.
	statusLost bool
	tick       int
	now        time.Time
	prev       *msv1.RolloutStatus
	obs        Observation
	d          Decision
	prevWeight int32
}

func newSim(sc *scenario) *sim {
	s := &sim{
		sc:          sc,
		desired:     "rev1",
		annotations: map[string]string{},
		stable: simDeployment{exists: true, revision: "rev1", replicas: sc.stableReplicas, ready: sc.stableReplicas,
			readyAfter: sc.stableReadyAfter},
		canary:      simDeployment{readyAfter: sc.canaryReadyAfter},
		deps:        sc.deps,
		now:         simEpoch,
		lastTick:    simEpoch,
		fired:       make([]bool, len(sc.hooks)),
		called:      map[string]int{},
		answered:    map[string]WebhookAnswer{},
		restartedAt: -1,
		inv:         newInvariants(),
	}
	if sc.newService {
		s.stable = simDeployment{readyAfter: sc.stableReadyAfter}
		if !sc.noRoute {
			// A new service's route is new too: the data plane applies
			// it gatewayLag after its creation.
			s.changes = []routeChange{{at: simEpoch}}
		}
	}
	s.lines = append(s.lines, s.header()...)
	return s
}

func (s *sim) wake() {
	if at := s.lastTick.Add(watchDelay); s.tick > 0 && at.Before(s.now) {
		s.now = at
	}
}

// status is status.rollout as the next reconcile reads it.
func (s *sim) status() *msv1.RolloutStatus {
	if s.statusJSON == nil {
		return nil
	}
	st := &msv1.RolloutStatus{}
	if err := json.Unmarshal(s.statusJSON, st); err != nil {
		panic(err)
	}
	return st
}

func (s *sim) observe() Observation {
	o := Observation{
		Now:             s.now,
		DesiredRevision: s.desired,
		HasRoute:        !s.sc.noRoute,
		Paused:          s.annotations[msv1.PausedAnnotation] == "true",
		Promote:         s.annotations[msv1.PromoteAnnotation],
		PromoteFull:     s.annotations[msv1.PromoteFullAnnotation],
		Abort:           s.annotations[msv1.AbortAnnotation],
		Retry:           s.annotations[msv1.RetryAnnotation],
		Dependencies:    s.deps,
		Release:         s.release,
	}
	if o.HasRoute {
		o.RoutedCanaryWeight = s.weight
		o.RouteApplied = s.serve()
	}
	if st := s.status(); st != nil && st.StableRevision != "" {
		o.StableSaved = s.saved == st.StableRevision
	}
	if s.stable.exists {
		o.StableHeld = s.stable.held
		o.StableRevision = s.stable.revision
		o.StableReady = s.stable.ready == s.stable.replicas
		o.StableReplicas = s.stable.replicas
		// A rolling update keeps old pods serving until new ones are
		// ready, so every replica of the stable track serves.
		o.StableServingReplicas = s.stable.replicas
	}
	if s.canary.exists {
		o.CanaryRevision = s.canary.revision
		o.CanaryReadyReplicas = s.canary.ready
		o.CanaryServingReplicas = s.canary.ready
		o.CanaryReplicas = s.canary.replicas
	}
	return o
}

func (sc *scenario) defaultOutcome() byte {
	if sc.measureDefault == 0 {
		return 'S'
	}
	return sc.measureDefault
}

func (s *sim) measure() *Measurement {
	outcome := s.sc.defaultOutcome()
	if s.measured < len(s.sc.measurements) {
		outcome = s.sc.measurements[s.measured]
	}
	s.measured++
	return scriptedMeasurement(outcome)
}

// takeBackground plays the analysis runner's background slot: the
// measurement the status is due for, the same one again until the status
// records it.
func (s *sim) takeBackground(prev *msv1.RolloutStatus, obs *Observation) {
	b := prev.BackgroundAnalysis
	k := fmt.Sprintf("%s/%s/%d", prev.CanaryRevision, b.StartedAt, b.Measurements)
	if k != s.bgKey {
		outcome := byte('S')
		if s.bgMeasured < len(s.sc.backgroundMeasurements) {
			outcome = s.sc.backgroundMeasurements[s.bgMeasured]
		}
		s.bgMeasured++
		s.bgKey, s.bgResult = k, scriptedMeasurement(outcome)
	}
	obs.Background = s.bgResult
}

func scriptedMeasurement(outcome byte) *Measurement {
	r := msv1.MetricResult{Name: "success-rate"}
	switch outcome {
	case 'S':
		r.Phase, r.Value, r.Message = PhaseSuccessful, "0.998", "0.998 is at or above the minimum 0.99"
	case 'F':
		r.Phase, r.Value, r.Message = PhaseFailed, "0.91", "0.91 is below the minimum 0.99"
	case 'I':
		r.Phase, r.Message = PhaseInconclusive, "query failed: dial tcp 10.96.0.20:9090: connect: connection refused"
	default:
		panic(fmt.Sprintf("unknown measurement outcome %q", outcome))
	}
	return &Measurement{Phase: r.Phase, Metrics: []msv1.MetricResult{r}}
}

// inflightMeasurement is a measurement that answers at answerAt, for the
// status it was asked for.
type inflightMeasurement struct {
	key      string
	answerAt time.Time
	result   *Measurement
}

// measurementKey names the measurement a status waits for: which
// measurement of which step of which attempt of which revision.
func measurementKey(st *msv1.RolloutStatus) string {
	n := int32(0)
	if st.Analysis != nil && st.CurrentStep != nil && st.Analysis.Step == *st.CurrentStep {
		n = st.Analysis.Measurements
	}
	return fmt.Sprintf("%s/%d/%s/%d", st.CanaryRevision, ptr.Deref(st.CurrentStep, -1), st.StepStartedAt, n)
}

// takeMeasurement plays the analysis runner: the result of the measurement
// prev waits for once it has answered; until then it is running. The runner
// keeps a result until a reconcile asks for another measurement, so one
// whose status write was lost gets the same result again.
func (s *sim) takeMeasurement(prev *msv1.RolloutStatus, obs *Observation) {
	k := measurementKey(prev)
	if s.inflight == nil || s.inflight.key != k {
		s.inflight = &inflightMeasurement{key: k, answerAt: s.now.Add(s.sc.measureTakes), result: s.measure()}
	}
	if s.now.Before(s.inflight.answerAt) {
		obs.Measuring = true
		return
	}
	obs.Measurement = s.inflight.result
}

// callWebhooks plays the webhook runner: every call due answers at once,
// as the scenario scripts it. Like the runner, it keeps each answer for the
// entry it was called for, so a reconcile whose status write was lost gets
// the same answer again.
func (s *sim) callWebhooks(prev *msv1.RolloutStatus, obs *Observation) {
	for _, e := range WebhooksDue(s.sc.canary, prev, obs.Now) {
		key := fmt.Sprintf("%s/%s/%d/%d", prev.CanaryRevision, e.Name, ptr.Deref(e.Step, -1), e.Attempts)
		if a, ok := s.answered[key]; ok {
			obs.Webhooks = append(obs.Webhooks, a)
			continue
		}
		answer := byte('Y')
		if script := s.sc.webhookAnswers[e.Name]; s.called[e.Name] < len(script) {
			answer = script[s.called[e.Name]]
		}
		s.called[e.Name]++
		a := WebhookAnswer{Name: e.Name, Step: e.Step, Attempts: e.Attempts, OK: answer == 'Y', Message: "HTTP 200 OK"}
		if !a.OK {
			a.Message = "HTTP 403 Forbidden"
		}
		s.answered[key] = a
		obs.Webhooks = append(obs.Webhooks, a)
	}
}

// measuring is true while a measurement that takes time has not answered.
func (s *sim) measuring() bool { return s.inflight != nil && s.now.Before(s.inflight.answerAt) }

// routeChange is a route weight written at a time.
type routeChange struct {
	at     time.Time
	weight int32
}

// serve moves the data plane's weight on to every route change gatewayLag
// old by now, and reports whether it serves the route's latest weight.
func (s *sim) serve() bool {
	for len(s.changes) > 0 && !s.changes[0].at.Add(s.sc.gatewayLag).After(s.now) {
		s.served = s.changes[0].weight
		s.changes = s.changes[1:]
	}
	return len(s.changes) == 0
}

// runTick is one reconcile.
func (s *sim) runTick() {
	prev := s.status()
	for i, h := range s.sc.hooks {
		if s.fired[i] || !h.due(s) {
			continue
		}
		s.fired[i] = true
		for _, a := range h.actions {
			a.do(s)
			s.lines = append(s.lines, "     -- "+a.note)
		}
	}

	obs := s.observe()
	if s.sc.canary != nil && MeasurementDue(s.sc.canary, prev, obs.Now) {
		s.takeMeasurement(prev, &obs)
	}
	if s.sc.canary != nil && BackgroundMeasurementDue(s.sc.canary, prev, obs.Now) {
		s.takeBackground(prev, &obs)
	}
	s.callWebhooks(prev, &obs)
	d := Plan(s.sc.canary, prev, obs)

	// Apply, in the reconciler's order: the stable Deployment, the canary,
	// the route, then the status. A failed action (failAt) stops the
	// reconcile there, as an API error does: nothing after it is applied
	// and the status is not written.
	rec := tickRecord{tick: s.tick, now: s.now, prev: prev, obs: obs, d: d, prevWeight: s.weight}
	failed := ""
	if s.failAt.tick == s.tick {
		failed = s.failAt.action
	}
	// The reconciler saves the stable template a promotion replaces just
	// before it applies the new one, and puts a saved one back when asked.
	if failed != actionStable && !s.sc.unsaved && d.UpdateStable && d.Status.Phase == msv1.RolloutPhasePromoting &&
		s.stable.exists && !s.stable.held && s.stable.revision != s.desired {
		s.saved = s.stable.revision
	}
	if failed != actionStable && d.RestoreStable != "" {
		if d.RestoreStable != s.saved {
			panic(fmt.Sprintf("tick %d: restore of revision %s, but the saved template is of %q", s.tick, d.RestoreStable, s.saved))
		}
		s.stable.setTemplate(d.RestoreStable, s.tick)
	}
	if failed != actionStable && d.UpdateStable {
		// A held Deployment runs the spec's template at zero replicas; the
		// release scales it to the spec's count in the same apply.
		switch {
		case d.Hold && (!s.stable.exists || s.stable.held):
			s.stable.exists, s.stable.held = true, true
			s.stable.scale(0, s.tick)
		case !s.stable.exists || s.stable.held:
			s.stable.exists, s.stable.held = true, false
			s.stable.setTemplate(s.desired, s.tick)
			s.stable.scale(s.sc.stableReplicas, s.tick)
		}
		s.stable.setTemplate(s.desired, s.tick)
	}
	var raw []byte
	if s.sc.canary != nil {
		if failed != actionStable && failed != actionCanary {
			s.canary.exists = true
			s.canary.setTemplate(s.desired, s.tick) // the canary's template is always the spec's
			s.canary.scale(d.CanaryReplicas, s.tick)
		}
		var err error
		if raw, err = json.Marshal(d.Status); err != nil {
			panic(err)
		}
	}
	if (failed == "" || failed == actionStatus) && s.weight != d.RouteWeight {
		s.weight = d.RouteWeight
		s.changes = append(s.changes, routeChange{at: s.now, weight: d.RouteWeight})
	}
	s.serve()
	if s.loseStatus || failed != "" {
		s.loseStatus = false
		rec.statusLost = true
		// What was applied stays; the status stays as it was.
		raw = s.statusJSON
	}
	s.statusJSON = raw

	// The invariants hold right after the apply, before any pod becomes ready.
	s.inv.check(s, rec)
	if s.sc.check != nil {
		s.sc.check(s, rec)
	}

	readyBefore := [2]int32{s.stable.ready, s.canary.ready}
	s.stable.control(s.tick)
	s.canary.control(s.tick)
	s.lines = append(s.lines, s.line(rec))

	// The next reconcile comes at the requeue; pods that are starting or
	// have just become ready (their readiness is watched) bring it forward
	// to one clock step.
	s.lastTick = s.now
	next := s.clockStep()
	watched := len(s.stable.pending)+len(s.canary.pending) > 0 || readyBefore != [2]int32{s.stable.ready, s.canary.ready}
	if d.RequeueAfter > 0 && (d.RequeueAfter < next || !watched) {
		next = d.RequeueAfter
	}
	// A measurement's answer triggers a reconcile.
	if s.measuring() {
		next = min(next, s.inflight.answerAt.Sub(s.now))
	}
	s.now = s.now.Add(next)
	s.tick++
}

func (s *sim) clockStep() time.Duration {
	if s.sc.clockStep > 0 {
		return s.sc.clockStep
	}
	return 30 * time.Second
}

func (s *sim) run() {
	for s.tick < s.sc.ticks {
		s.runTick()
	}
}

func (s *sim) header() []string {
	sc := s.sc
	out := []string{"# scenario " + sc.name}
	for _, l := range sc.doc {
		out = append(out, "# "+l)
	}
	if sc.canary == nil {
		out = append(out, "# strategy: RollingUpdate")
	} else {
		var steps []string
		for _, st := range sc.canary.Steps {
			steps = append(steps, describeStep(st))
		}
		out = append(out, "# steps: "+strings.Join(steps, ", "))
	}
	if a := sc.canary; a != nil && a.Analysis != nil {
		a := a.Analysis
		out = append(out, fmt.Sprintf("# analysis: interval %s, count %d (conclusive), failureLimit %d, inconclusiveLimit %d; measurements %q then %c",
			AnalysisInterval(sc.canary), ptr.Deref(a.Count, DefaultCount), ptr.Deref(a.FailureLimit, 0), ptr.Deref(a.InconclusiveLimit, 0),
			sc.measurements, sc.defaultOutcome()))
		if b := sc.canary.BackgroundAnalysis; b != nil {
			out = append(out, fmt.Sprintf("# background analysis from step %d: measurements %q then S", ptr.Deref(b.StartingStep, 0)+1, sc.backgroundMeasurements))
		}
		if sc.measureTakes > 0 {
			out = append(out, fmt.Sprintf("# metrics: each measurement answers %s after it is asked for, off the reconcile; its answer triggers a reconcile", sc.measureTakes))
		}
	}
	if c := sc.canary; c != nil && len(c.Webhooks) > 0 {
		var hooks []string
		for _, w := range c.Webhooks {
			hooks = append(hooks, fmt.Sprintf("%s (%s, retries %d, every %s) answers %q then Y", w.Name, w.Type, webhookRetries(w), WebhookInterval(w), sc.webhookAnswers[w.Name]))
		}
		out = append(out, "# webhooks: "+strings.Join(hooks, "; "))
	}
	routing := "HTTPRoute weights"
	if sc.noRoute {
		routing = "replica ratio (no route)"
	}
	start := fmt.Sprintf("stable rev1 with %d replicas", sc.stableReplicas)
	if sc.newService {
		start = fmt.Sprintf("a new service (no Deployment yet) of %d replicas", sc.stableReplicas)
	}
	if d := sc.deps; d.StartBlocked() || d.RolloutBlocked() {
		start += fmt.Sprintf(", dependencies not available %v, gating new versions %v", d.NotAvailable, d.Gating)
	}
	out = append(out,
		fmt.Sprintf("# cluster: %s; new canary pods ready %s, new stable pods %s; traffic split by %s",
			start, describeDelay(sc.canaryReadyAfter), describeDelay(sc.stableReadyAfter), routing),
		fmt.Sprintf("# clock: next reconcile at the requeue, or %s later when nothing is requeued or pods are starting; %s after a change (spec, annotation, HPA, restart)",
			s.clockStep(), watchDelay),
		"# columns: [tick] time, phase, step (1-based), route weight, canary/stable Deployment (revision ready/replicas at the end of the tick),",
		"#          analysis[step] (taken/failed/inconclusive; the last analysis step's until the next one measures),",
		"#          measurement taken in this reconcile, requeue | events | status message",
	)
	return out
}

func describeStep(st msv1.CanaryStep) string {
	switch {
	case st.SetWeight != nil:
		return fmt.Sprintf("setWeight %d", *st.SetWeight)
	case st.Pause != nil && st.Pause.Duration != nil:
		return "pause " + st.Pause.Duration.Duration.String()
	case st.Pause != nil:
		return "pause (until promoted)"
	default:
		return "analysis"
	}
}

func describeDelay(n int) string {
	switch n {
	case never:
		return "never"
	case 0:
		return "by the next reconcile"
	case 1:
		return "one reconcile later"
	}
	return fmt.Sprintf("%d reconciles later", n)
}

func clock(d time.Duration) string {
	d = d.Round(time.Second)
	return fmt.Sprintf("%dm%02ds", int(d/time.Minute), int(d%time.Minute/time.Second))
}

func (s *sim) line(r tickRecord) string {
	if s.sc.canary == nil {
		out := fmt.Sprintf("[%02d] t=%-6s stable=%s", r.tick, clock(r.now.Sub(simEpoch)), s.stable.String())
		if !r.d.UpdateStable {
			out += " (template kept)"
		}
		if r.d.Waiting != "" {
			out += " | waiting " + r.d.Waiting
		}
		return out
	}
	st := r.d.Status
	step := "-"
	if st.CurrentStep != nil {
		if i := int(*st.CurrentStep); i < len(s.sc.canary.Steps) {
			step = fmt.Sprintf("%d/%d", i+1, len(s.sc.canary.Steps))
		} else {
			step = "done"
		}
	}
	var b strings.Builder
	// The route's weight; the step's weight follows it when a track with
	// no ready pods makes them differ.
	weight := fmt.Sprint(r.d.RouteWeight)
	if r.d.RouteWeight != st.CanaryWeight {
		weight += fmt.Sprintf("(step %d)", st.CanaryWeight)
	}
	if s.served != r.d.RouteWeight {
		weight += fmt.Sprintf("(served %d)", s.served)
	}
	fmt.Fprintf(&b, "[%02d] t=%-6s phase=%-11s step=%-4s weight=%-3s canary=%-9s stable=%s",
		r.tick, clock(r.now.Sub(simEpoch)), st.Phase, step, weight, s.canary.String(), s.stable.String())
	if a := st.Analysis; a != nil {
		fmt.Fprintf(&b, " analysis[%d]=%d/%d/%d", a.Step+1, a.Measurements, a.Failures, a.Inconclusives)
	}
	if a := st.BackgroundAnalysis; a != nil {
		fmt.Fprintf(&b, " background=%d/%d/%d", a.Measurements, a.Failures, a.Inconclusives)
	}
	if m := r.obs.Measurement; m != nil {
		fmt.Fprintf(&b, " measured=%s", m.Phase)
	}
	if m := r.obs.Background; m != nil {
		fmt.Fprintf(&b, " background-measured=%s", m.Phase)
	}
	if r.obs.Measuring {
		b.WriteString(" measuring")
	}
	for _, a := range r.obs.Webhooks {
		answer := "yes"
		if !a.OK {
			answer = "no"
		}
		fmt.Fprintf(&b, " called(%s)=%s", a.Name, answer)
	}
	if len(st.Webhooks) > 0 {
		var hooks []string
		for _, e := range st.Webhooks {
			hooks = append(hooks, fmt.Sprintf("%s:%s/%d", e.Name, e.Phase, e.Attempts))
		}
		fmt.Fprintf(&b, " hooks[%s]", strings.Join(hooks, " "))
	}
	if r.d.RequeueAfter > 0 {
		fmt.Fprintf(&b, " requeue=%s", r.d.RequeueAfter)
	}
	for _, e := range r.d.Events {
		kind := "event"
		if e.Warning {
			kind = "warning"
		}
		fmt.Fprintf(&b, " | %s %s: %s", kind, e.Reason, e.Message)
	}
	if r.d.Waiting != "" {
		b.WriteString(" waiting")
	}
	if rel := st.Release; rel != nil {
		fmt.Fprintf(&b, " release=%s", rel.State)
		if rel.FailedMember != "" {
			fmt.Fprintf(&b, "(failed %s)", rel.FailedMember)
		}
	}
	fmt.Fprintf(&b, " | msg %s", st.Message)
	return b.String()
}

func (s *sim) trace() string { return strings.Join(s.lines, "\n") + "\n" }

// compareGolden compares a trace with testdata/NAME.golden, or rewrites the
// file with -update.
func compareGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/rollout -run 'TestScenarios/%s' -update to create it)", err, name)
	}
	if string(want) != got {
		t.Errorf("trace differs from %s (- golden, + this run); if the change is intended, run\n"+
			"  go test ./internal/rollout -run 'TestScenarios/%s$' -update\nand review the diff:\n%s",
			path, name, lineDiff(string(want), got))
	}
}

// lineDiff is a small longest-common-subsequence diff of two texts, with two
// lines of context around each change.
func lineDiff(a, b string) string {
	x := strings.Split(strings.TrimSuffix(a, "\n"), "\n")
	y := strings.Split(strings.TrimSuffix(b, "\n"), "\n")
	lcs := make([][]int, len(x)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(y)+1)
	}
	for i := len(x) - 1; i >= 0; i-- {
		for j := len(y) - 1; j >= 0; j-- {
			if x[i] == y[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	type op struct {
		kind byte
		text string
	}
	var ops []op
	i, j := 0, 0
	for i < len(x) || j < len(y) {
		switch {
		case i < len(x) && j < len(y) && x[i] == y[j]:
			ops = append(ops, op{' ', x[i]})
			i++
			j++
		case i < len(x) && (j == len(y) || lcs[i+1][j] >= lcs[i][j+1]):
			ops = append(ops, op{'-', x[i]})
			i++
		default:
			ops = append(ops, op{'+', y[j]})
			j++
		}
	}
	const context = 2
	var out []string
	lastShown := -1
	for k, o := range ops {
		near := false
		for c := max(0, k-context); c <= min(len(ops)-1, k+context); c++ {
			if ops[c].kind != ' ' {
				near = true
				break
			}
		}
		if !near {
			continue
		}
		if lastShown >= 0 && k > lastShown+1 {
			out = append(out, "@@")
		}
		out = append(out, string(o.kind)+" "+o.text)
		lastShown = k
	}
	return strings.Join(out, "\n")
}
