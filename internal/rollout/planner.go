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

// Package rollout holds the canary planner: a pure function from the spec,
// the rollout status and what the reconciler observed to the next action.
// All rollout state lives in the Microservice's status, so a restarted
// operator resumes exactly where the last one stopped.
package rollout

import (
	"fmt"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
)

// Defaults of the analysis.
const (
	DefaultInterval = time.Minute
	DefaultCount    = 3
	// DefaultTimeout bounds each query of a measurement.
	DefaultTimeout = 10 * time.Second
)

// Observation is what the reconciler saw of the cluster in this reconcile.
type Observation struct {
	Now time.Time

	// DesiredRevision is the revision of the spec's pod template.
	DesiredRevision string
	// StableRevision is the revision the stable Deployment runs, "" when it does not exist.
	StableRevision string
	// StableReady is true when the stable Deployment has fully rolled out its template.
	StableReady bool
	// StableReplicas is the stable Deployment's replica count (set by the HPA or the spec).
	StableReplicas int32
	// StableServingReplicas are the stable Deployment's ready pods, of any
	// template: the pods its Service sends traffic to.
	StableServingReplicas int32

	// CanaryRevision is the revision of the canary Deployment's template, "" when it does not exist.
	CanaryRevision string
	// CanaryReadyReplicas are the canary's ready pods of that template.
	CanaryReadyReplicas int32
	// CanaryServingReplicas are the canary Deployment's ready pods, of any
	// template. It differs from CanaryReadyReplicas while the Deployment
	// controller has not yet observed a scale-up: the ready pods still serve.
	CanaryServingReplicas int32
	// CanaryReplicas is the canary Deployment's spec.replicas, 0 when it
	// does not exist.
	CanaryReplicas int32

	// StableHeld is true when the stable Deployment exists at zero replicas,
	// held for its dependencies: it has never served, so StableRevision is
	// "" and its first version needs no canary.
	StableHeld bool

	// Dependencies is the state of the required dependencies.
	Dependencies Dependencies

	// HasRoute is true when a router splits traffic by weights.
	HasRoute bool
	// RouterName names that router in the status ("GatewayAPI" when empty).
	RouterName string

	// Paused is true while the paused annotation is "true".
	Paused bool
	// Control annotation values.
	Promote, PromoteFull, Abort, Retry string

	// Measurement is the result of the analysis measurement that
	// MeasurementDue asked for; nil while it is not due or not taken yet.
	Measurement *Measurement
	// Measuring is true while that measurement runs, off the reconcile:
	// its end triggers the next reconcile, so no timer waits for it.
	Measuring bool
	// Background is the result of the background measurement that
	// BackgroundMeasurementDue asked for; BackgroundMeasuring is true while
	// it runs.
	Background          *Measurement
	BackgroundMeasuring bool
	// StableSaved is true when the pod template of the status's stable
	// revision is saved (the reconciler keeps the template a promotion
	// replaces), so that the stable track can be given it back.
	StableSaved bool
	// StableProgressDeadlineExceeded is, for the stable Deployment, what
	// CanaryProgressDeadlineExceeded is for the canary's.
	StableProgressDeadlineExceeded string
	// CanaryProgressDeadlineExceeded is the message of the canary
	// Deployment's Progressing=False condition with reason
	// ProgressDeadlineExceeded, for its current generation; empty otherwise.
	CanaryProgressDeadlineExceeded string
	// RoutedCanaryWeight is what the live route sends to the canary now,
	// which is more than the status says when the status write of the
	// reconcile that raised it was lost.
	RoutedCanaryWeight int32
	// RouteApplied is true when the router's provider has applied the live
	// route (see traffic.Routed): until then its data plane may send
	// requests by the route's previous version, so the canary keeps the
	// pods that version needs.
	RouteApplied bool

	// Webhooks are the answers of the webhook calls that WebhooksDue
	// asked for and that have answered.
	Webhooks []WebhookAnswer
	// WebhookCalls names the webhooks whose calls run now, off the
	// reconcile: their answers trigger the next reconcile.
	WebhookCalls []string

	// Release is the release the Microservice's change belongs to, as its
	// members' statuses show it (see ViewRelease); nil without one.
	Release *ReleaseView
}

// Dependencies is what the reconciler saw of the service's required
// dependencies. Optional dependencies never hold anything back and are not
// in it.
type Dependencies struct {
	// NotAvailable lists the required dependencies that are not available,
	// for example "payments (Unavailable)". While it is not empty, a
	// service that has never started stays at zero replicas.
	NotAvailable []string
	// Gating lists the dependencies that hold back a new version: required
	// ones without ignoreRollouts that are not available or roll out themselves.
	Gating []string
	// Cycle spells out a dependency cycle through the service; a cycle
	// holds back both start-up and new versions.
	Cycle string
}

// StartBlocked is true while a service that has never started must wait.
func (d Dependencies) StartBlocked() bool { return len(d.NotAvailable) > 0 || d.Cycle != "" }

// RolloutBlocked is true while a new version must wait.
func (d Dependencies) RolloutBlocked() bool { return len(d.Gating) > 0 || d.Cycle != "" }

func (d Dependencies) describe(list []string) string {
	if d.Cycle != "" {
		return "the dependency cycle " + d.Cycle
	}
	return strings.Join(list, ", ")
}

// Measurement is the outcome of one query of every metric.
type Measurement struct {
	// Phase is Successful when every metric passed, Failed when any failed,
	// Inconclusive otherwise.
	Phase   string
	Metrics []msv1.MetricResult
}

// Measurement phases, as the metrics evaluator names them.
const (
	PhaseSuccessful   = "Successful"
	PhaseFailed       = "Failed"
	PhaseInconclusive = "Inconclusive"
)

// Decision is what the reconciler must do.
type Decision struct {
	// Status is the new rollout status.
	Status msv1.RolloutStatus
	// UpdateStable is true when the stable Deployment gets the spec's pod
	// template; false keeps its current template.
	UpdateStable bool
	// RestoreStable names the revision whose saved pod template the stable
	// Deployment gets back: a promotion was aborted or rolled back while
	// the stable track rolled out the new revision. Empty otherwise.
	RestoreStable string
	// Hold is true while a service that has never started waits for its
	// required dependencies: the stable Deployment gets the spec's template
	// at zero replicas (no autoscaler), and no canary runs.
	Hold bool
	// Waiting says why a new version waits for dependencies; "" when it
	// does not. The stable Deployment keeps its template meanwhile.
	Waiting string
	// CanaryReplicas is the canary Deployment's replica count; its template
	// is always the spec's.
	CanaryReplicas int32
	// RouteWeight is the canary's share of the route's traffic now: the
	// status's weight, unless one track has no ready pods to serve it (see
	// RouteWeight).
	RouteWeight int32
	// CanaryMatches is true while the requests of spec.rollout.canary.matches,
	// the copies of spec.rollout.canary.mirror and the sessions of
	// spec.rollout.canary.sessionAffinity go to the canary: it runs
	// (Progressing or Paused) with ready pods of the revision being delivered.
	CanaryMatches bool
	// RequeueAfter is set when a timer (pause, analysis interval) is running.
	RequeueAfter time.Duration
	// Events for users, one per transition.
	Events []Event
}

// Event is a transition worth telling users about.
type Event struct {
	Warning bool
	Reason  string
	Message string
}

// CanaryReplicasFor is the canary's replica count at weight percent of
// traffic: its share of the stable replicas, rounded up, at least 1.
func CanaryReplicasFor(weight, stableReplicas int32) int32 {
	n := (stableReplicas*weight + 99) / 100
	return max(n, 1)
}

// MeasurementDue tells the reconciler to take a measurement now: the rollout
// is at an analysis step with the canary serving its weight, and the
// interval since the last measurement has passed.
func MeasurementDue(c *msv1.Canary, st *msv1.RolloutStatus, now time.Time) bool {
	if st == nil || st.Phase != msv1.RolloutPhaseProgressing || st.CurrentStep == nil {
		return false
	}
	i := int(*st.CurrentStep)
	if i >= len(c.Steps) || c.Steps[i].Analysis == nil || c.Analysis == nil {
		return false
	}
	return nextMeasurement(c, st).Sub(now) <= 0
}

func nextMeasurement(c *msv1.Canary, st *msv1.RolloutStatus) time.Time {
	// The first measurement comes one interval into the step, so that the
	// metrics describe the canary at this step's weight.
	if st.Analysis == nil || st.Analysis.LastMeasuredAt == nil {
		if st.StepStartedAt != nil {
			return st.StepStartedAt.Add(AnalysisInterval(c))
		}
		return time.Time{}
	}
	return st.Analysis.LastMeasuredAt.Add(AnalysisInterval(c))
}

// AnalysisTimeout bounds each query of a measurement of c's analysis: its
// timeout, DefaultTimeout when unset.
func AnalysisTimeout(c *msv1.Canary) time.Duration {
	if c.Analysis != nil && c.Analysis.Timeout != nil && c.Analysis.Timeout.Duration > 0 {
		return c.Analysis.Timeout.Duration
	}
	return DefaultTimeout
}

// AnalysisInterval is the time between measurements of c's analysis:
// its interval, DefaultInterval when unset.
func AnalysisInterval(c *msv1.Canary) time.Duration {
	if c.Analysis != nil && c.Analysis.Interval != nil && c.Analysis.Interval.Duration > 0 {
		return c.Analysis.Interval.Duration
	}
	return DefaultInterval
}

// Plan decides the next action of a rollout: a canary with c, a rolling
// update without (prev is then ignored, and Status is left empty). Both
// strategies first hold a service that has never started until its required
// dependencies are available, and a new version while a dependency that
// gates it is unavailable or rolling out; a canary already under way is not
// held back, so that its traffic is never left on pods being replaced.
func Plan(c *msv1.Canary, prev *msv1.RolloutStatus, obs Observation) Decision {
	if c == nil {
		return planRollingUpdate(obs)
	}
	p := &planner{c: c, obs: obs}
	if prev != nil {
		p.st = *prev.DeepCopy()
		p.prevWeight = prev.CanaryWeight
	}
	p.applyWebhookAnswers()
	if !p.gate() {
		p.st.TrafficRouting = p.routing()
		p.plan()
		p.startBackground()
	}
	p.requeueForWebhooks()
	p.requeueForBackground()
	return p.decision()
}

type planner struct {
	c   *msv1.Canary
	obs Observation
	st  msv1.RolloutStatus
	// prevWeight is the canary weight of the last reconcile, which the
	// route may still apply while this one decides.
	prevWeight int32

	updateStable   bool
	restoreStable  string
	hold           bool
	waiting        string
	canaryReplicas int32
	requeue        time.Duration
	events         []Event
}

func (p *planner) decision() Decision {
	return Decision{
		Status: p.st, UpdateStable: p.updateStable, RestoreStable: p.restoreStable, Hold: p.hold, Waiting: p.waiting,
		CanaryReplicas: p.canaryReplicas,
		RouteWeight:    RouteWeight(p.st.CanaryWeight, p.obs),
		CanaryMatches:  p.canaryMatches(),
		RequeueAfter:   p.requeue, Events: p.events,
	}
}

// canaryMatches says whether the matching requests, the mirror's copies
// and the sessions of spec.rollout.canary.sessionAffinity go to the canary
// now.
func (p *planner) canaryMatches() bool {
	return p.c != nil && (len(p.c.Matches) > 0 || p.c.Mirror != nil || p.c.SessionAffinity != nil) && p.canaryServes()
}

// canaryGetsRequests says whether requests reach the canary whatever its
// weight: the matching requests or the mirror's copies (sessions stick only
// to a track that the weight sent a user to).
func (p *planner) canaryGetsRequests() bool {
	return p.c != nil && (len(p.c.Matches) > 0 || p.c.Mirror != nil) && p.canaryServes()
}

// canaryServes says whether the canary may get requests beyond its weight:
// it runs with ready pods of the revision being delivered, behind a route.
func (p *planner) canaryServes() bool {
	switch {
	case !p.obs.HasRoute:
		return false
	case p.st.Phase != msv1.RolloutPhaseProgressing && p.st.Phase != msv1.RolloutPhasePaused:
		return false
	}
	return p.st.CanaryRevision == p.obs.DesiredRevision && p.obs.CanaryRevision == p.obs.DesiredRevision && p.obs.CanaryReadyReplicas > 0
}

// planRollingUpdate is the rolling update's whole plan: the stable
// Deployment follows the spec, unless the dependencies hold it.
func planRollingUpdate(obs Observation) Decision {
	deps := obs.Dependencies
	switch {
	case neverStarted(obs) && deps.StartBlocked():
		return Decision{UpdateStable: true, Hold: true}
	case !neverStarted(obs) && obs.StableRevision != obs.DesiredRevision && deps.RolloutBlocked():
		return Decision{Waiting: waitingFor(obs)}
	}
	return Decision{UpdateStable: true}
}

// neverStarted is true when the stable Deployment does not exist yet or is
// still held at zero replicas.
func neverStarted(obs Observation) bool { return obs.StableRevision == "" || obs.StableHeld }

func waitingFor(obs Observation) string {
	return "Revision " + obs.DesiredRevision + " waits for dependencies: " + obs.Dependencies.describe(obs.Dependencies.Gating)
}

// gate holds the canary strategy for dependencies, the way
// planRollingUpdate does, and reports whether it did: a service that has
// never started waits at zero replicas, and a new version that is not
// already being delivered waits with the stable track as it is.
func (p *planner) gate() bool {
	obs := p.obs
	deps := obs.Dependencies
	switch {
	case neverStarted(obs) && deps.StartBlocked():
		p.hold = true
		p.updateStable = true
		p.st.Phase = msv1.RolloutPhaseIdle
		p.st.Message = "Held at zero replicas until its required dependencies are available: " + deps.describe(deps.NotAvailable)
		p.st.CanaryRevision, p.st.CurrentStep, p.st.StepStartedAt = "", nil, nil
		p.st.TrafficRouting = p.routing()
		p.drainCanary()
		return true
	case !neverStarted(obs) && obs.StableRevision != obs.DesiredRevision && deps.RolloutBlocked() && !p.active():
		if p.st.Phase == "" {
			p.st.Phase = msv1.RolloutPhaseIdle
		}
		p.waiting = waitingFor(obs)
		if r := obs.Release; r != nil {
			// The release's other members wait for this one too.
			p.st.Release = &msv1.ReleaseMemberStatus{Name: r.Name, State: msv1.ReleaseWaiting, Message: p.waiting}
		}
		// A rolled-back or aborted rollout keeps the message that says why
		// (the Degraded condition shows it); the Reconciling condition
		// says what the new version waits for.
		if p.st.Phase == msv1.RolloutPhaseIdle || p.st.Phase == msv1.RolloutPhaseSucceeded {
			p.st.Message = p.waiting
		}
		p.st.StableRevision = obs.StableRevision
		p.st.TrafficRouting = p.routing()
		// No rollout runs while the new version waits: control values
		// written now are not requests for the rollout that starts once the
		// dependencies are back (as in plan, when nothing is delivered).
		p.st.HandledPromote, p.st.HandledPromoteFull = obs.Promote, obs.PromoteFull
		p.st.HandledAbort, p.st.HandledRetry = obs.Abort, obs.Retry
		p.drainCanary()
		return true
	}
	return false
}

// ReplicaRatio is the traffic routing of a canary without a route: the
// Service of the Microservice's name splits requests by pod count.
const ReplicaRatio = "ReplicaRatio"

// RoutedByWeight is true while a rollout's traffic is split by a router's
// weights rather than by pod count.
func RoutedByWeight(st *msv1.RolloutStatus) bool {
	return st != nil && st.TrafficRouting != "" && st.TrafficRouting != ReplicaRatio
}

func (p *planner) routing() string {
	switch {
	case !p.obs.HasRoute:
		return ReplicaRatio
	case p.obs.RouterName == "":
		return "GatewayAPI"
	}
	return p.obs.RouterName
}

// RouteWeight is the canary's share of the route's traffic for the status's
// weight: traffic never goes to a track with no ready pods while the other
// track has some, and a canary never carries more than its serving pods can
// take at the stable track's load per pod. A canary with no serving pods
// (they all crashed) gets no traffic until they are ready again, and with no
// serving pods on either track the stable track, the default, keeps it; one
// with fewer serving pods than its weight needs (pods crashed, or the HPA
// grew the stable track) carries the share of those it has; and a stable
// track with no ready pods sends its share to a ready canary. The status
// keeps the step's weight, which comes back as soon as the pods are there.
func RouteWeight(weight int32, obs Observation) int32 {
	switch {
	case weight <= 0 || obs.CanaryServingReplicas == 0:
		return 0
	case obs.StableServingReplicas == 0:
		return 100
	case obs.StableReplicas > 0 && obs.CanaryServingReplicas < CanaryReplicasFor(weight, obs.StableReplicas):
		return min(weight, obs.CanaryServingReplicas*100/obs.StableReplicas)
	}
	return weight
}

// canaryReplicasAt is the canary's replica count at weight: its share of
// the stable replicas, or all of them for a canary at full scale.
func (p *planner) canaryReplicasAt(weight int32) int32 {
	if p.c.Scale == msv1.FullCanaryScale {
		return max(p.obs.StableReplicas, 1)
	}
	return CanaryReplicasFor(weight, p.obs.StableReplicas)
}

func (p *planner) event(warning bool, reason, format string, args ...any) {
	p.events = append(p.events, Event{Warning: warning, Reason: reason, Message: fmt.Sprintf(format, args...)})
}

func (p *planner) now() *metav1.Time {
	t := metav1.NewTime(p.obs.Now)
	return &t
}

func (p *planner) plan() {
	obs := p.obs
	// The stable track may run the revision being delivered while the status
	// still has its canary at a step: the operator stopped between updating
	// the stable Deployment for a promotion and writing the status. Planning
	// again from that status, with the same controls, makes the same
	// decision, so the promotion goes on instead of settling as if no
	// rollout had happened.
	resuming := p.st.CanaryRevision == obs.DesiredRevision && p.active()
	// An aborted or rolled-back promotion may have left the new revision's
	// template on the stable track: it is not delivered, it is put back.
	restoring := p.restorePending()
	// A spec back at the revision a promotion replaces (or that an
	// interrupted one must put back) cancels it: the stable track gets the
	// spec's template, which is that revision's.
	backToStable := (p.st.Phase == msv1.RolloutPhasePromoting || restoring) && p.st.StableRevision != "" &&
		obs.DesiredRevision == p.st.StableRevision && obs.DesiredRevision != p.st.CanaryRevision
	// First version, or nothing to deliver: the stable track runs the spec.
	if neverStarted(obs) || backToStable || obs.StableRevision == obs.DesiredRevision && p.st.Phase != msv1.RolloutPhasePromoting && !resuming && !restoring {
		// Control values written while nothing is delivered (too late for
		// the last rollout) are not requests for the next one.
		p.st.HandledPromote, p.st.HandledPromoteFull = obs.Promote, obs.PromoteFull
		p.st.HandledAbort, p.st.HandledRetry = obs.Abort, obs.Retry
		p.settle(obs.DesiredRevision)
		return
	}
	// While a promotion runs, and until an interrupted one has given the
	// stable track its template back, the stable revision is the one the
	// promotion replaces.
	if p.st.Phase != msv1.RolloutPhasePromoting && !restoring {
		p.st.StableRevision = obs.StableRevision
	}

	// A new version in a release waits for the release's order, or is not
	// delivered when the release went back.
	if p.releaseStartBlocked() {
		return
	}
	// A revision the planner has not seen: start (or restart) the canary.
	if p.st.CanaryRevision != obs.DesiredRevision {
		restarted := p.st.CanaryRevision != "" && p.active()
		p.start()
		if restarted {
			p.event(false, "RolloutRestarted", "New revision %s replaces the canary; starting again from step 1", obs.DesiredRevision)
		} else {
			p.event(false, "RolloutStarted", "Delivering revision %s as a canary", obs.DesiredRevision)
		}
	}
	p.handleControls()

	switch {
	case p.releaseRollBack():
	case p.st.Phase == msv1.RolloutPhaseAborted || p.st.Phase == msv1.RolloutPhaseRolledBack:
		p.removeCanary()
	case p.st.Phase == msv1.RolloutPhasePromoting:
		p.promote()
	default:
		p.runSteps()
	}
	p.trackRelease()
	// An interrupted promotion's template comes off the stable track in
	// whatever phase the controls left: a retry in the same reconcile as
	// the abort runs the canary again beside the restored stable revision.
	if p.restorePending() {
		p.restoreStable = p.st.StableRevision
	}
}

// Active is true while a canary is being delivered: progressing, paused or promoting.
func Active(st *msv1.RolloutStatus) bool {
	if st == nil {
		return false
	}
	switch st.Phase {
	case msv1.RolloutPhaseProgressing, msv1.RolloutPhasePaused, msv1.RolloutPhasePromoting:
		return true
	}
	return false
}

func (p *planner) active() bool { return Active(&p.st) }

// settle is the state at rest: the stable track runs the spec, no canary
// traffic, no canary pods (once traffic has left them).
func (p *planner) settle(revision string) {
	if p.active() && p.st.CanaryRevision != revision {
		p.event(false, "RolloutCancelled", "The spec is back at the stable revision %s; removing the canary", revision)
		p.st.Message = "The spec is back at the stable revision; canary removed"
	}
	cancelled := p.active() && p.st.CanaryRevision != revision
	if p.st.Phase == "" || p.active() {
		p.st.Phase = msv1.RolloutPhaseIdle
	}
	// Whatever the last message said (a wait for dependencies, a hold),
	// nothing is being delivered now.
	switch {
	case cancelled:
	case p.st.Phase == msv1.RolloutPhaseIdle:
		p.st.Message = "No rollout in progress"
	case p.st.Phase == msv1.RolloutPhaseSucceeded:
		p.st.Message = "Revision " + revision + " promoted"
	}
	p.updateStable = true
	p.st.StableRevision = revision
	p.st.CanaryRevision = ""
	p.st.CurrentStep = nil
	p.st.StepStartedAt = nil
	p.drainCanary()
}

// drainCanary moves traffic to stable, and scales the canary to zero once the
// weight it runs at is already zero (applied in an earlier reconcile), so
// traffic never reaches a track without pods. The weight of the last
// reconcile counts too: a new revision zeroes the weight in this one (see
// start), and an abort in the same reconcile must not scale the canary to
// zero while the route still sends it that weight. So does the live
// route's: the status write of the reconcile that raised it may be lost.
//
// Once the route sends it nothing, the canary still keeps its serving pods
// until the router reports the route applied: the data plane may still
// send requests by the route's previous version.
func (p *planner) drainCanary() {
	w := max(p.st.CanaryWeight, p.prevWeight, p.obs.RoutedCanaryWeight)
	p.st.CanaryWeight = 0
	if w > 0 && p.obs.HasRoute {
		p.canaryReplicas = p.canaryReplicasAt(w)
		p.drainAgain()
		return
	}
	if p.routeUnapplied() {
		p.canaryReplicas = p.unappliedReplicas()
		p.drainAgain()
		return
	}
	p.canaryReplicas = 0
}

// routeUnapplied is true while the router has not yet applied the live route.
func (p *planner) routeUnapplied() bool { return p.obs.HasRoute && !p.obs.RouteApplied }

// unappliedReplicas keeps the canary's serving pods (at least one, or the
// stable track's count at full scale) while the route that took its traffic
// away is not applied yet. A canary at zero replicas stays there: a pod
// started now could not serve what the old route still sends, and a service
// held for its dependencies (whose new route the router has not applied
// yet) must have no pod at all.
func (p *planner) unappliedReplicas() int32 {
	if p.obs.CanaryReplicas == 0 {
		return 0
	}
	return max(p.canaryReplicasAt(0), p.obs.CanaryServingReplicas)
}

func (p *planner) drainAgain() {
	if p.requeue == 0 || p.requeue > drainCheck {
		p.requeue = drainCheck
	}
}

func (p *planner) start() {
	p.st.CanaryRevision = p.obs.DesiredRevision
	p.st.Phase = msv1.RolloutPhaseProgressing
	p.st.CurrentStep = ptr.To[int32](0)
	p.st.StepStartedAt = p.now()
	p.st.Analysis = nil
	p.st.BackgroundAnalysis = nil
	p.st.Webhooks = nil
	// A measurement taken in this reconcile judged the previous attempt.
	p.obs.Measurement, p.obs.Measuring = nil, false
	p.obs.Background, p.obs.BackgroundMeasuring = nil, false
	p.st.Message = "Starting the canary"
	p.st.Release = nil
	if r := p.obs.Release; r != nil {
		p.st.Release = &msv1.ReleaseMemberStatus{Name: r.Name, State: msv1.ReleaseProgressing}
	}
	// The canary's pods are being replaced by the new template: no traffic
	// until they are ready.
	p.st.CanaryWeight = 0
}

func (p *planner) handleControls() {
	obs := p.obs
	if obs.Abort != "" && obs.Abort != p.st.HandledAbort {
		p.st.HandledAbort = obs.Abort
		switch p.st.Phase {
		case msv1.RolloutPhaseProgressing, msv1.RolloutPhasePaused:
			p.st.Phase = msv1.RolloutPhaseAborted
			p.st.Message = "Aborted by request; traffic is back on stable"
			p.event(true, "RolloutAborted", "Rollout of revision %s aborted by request", p.st.CanaryRevision)
			p.postRollout()
		case msv1.RolloutPhasePromoting:
			if !p.obs.StableSaved {
				// The promotion began before the operator kept the
				// template it replaces: there is nothing to go back to.
				p.event(true, "AbortIgnored", "Revision %s is already being promoted to stable and the previous template was not saved; abort ignored (change the spec back to roll back)", p.st.CanaryRevision)
				break
			}
			p.st.Phase = msv1.RolloutPhaseAborted
			p.st.Message = "Aborted by request during the promotion; traffic is back on stable and the stable track goes back to revision " + p.st.StableRevision
			p.event(true, "RolloutAborted", "Promotion of revision %s aborted by request; the stable track goes back to revision %s", p.st.CanaryRevision, p.st.StableRevision)
			p.postRollout()
		}
	}
	if obs.Retry != "" && obs.Retry != p.st.HandledRetry {
		p.st.HandledRetry = obs.Retry
		if p.st.Phase == msv1.RolloutPhaseAborted || p.st.Phase == msv1.RolloutPhaseRolledBack {
			p.start()
			p.event(false, "RolloutRetried", "Retrying revision %s from step 1", p.st.CanaryRevision)
		}
	}
	if obs.PromoteFull != "" && obs.PromoteFull != p.st.HandledPromoteFull {
		p.st.HandledPromoteFull = obs.PromoteFull
		if p.st.Phase == msv1.RolloutPhaseProgressing || p.st.Phase == msv1.RolloutPhasePaused {
			p.st.CurrentStep = ptr.To(int32(len(p.c.Steps)))
			p.st.StepStartedAt = p.now()
			p.st.Phase = msv1.RolloutPhasePromoting
			p.event(false, "RolloutPromotedFull", "Skipping the remaining steps of revision %s by request", p.st.CanaryRevision)
		}
	}
	if obs.Promote != "" && obs.Promote != p.st.HandledPromote {
		p.st.HandledPromote = obs.Promote
		switch {
		case p.st.Phase == msv1.RolloutPhasePaused && !obs.Paused:
			if p.resumeBackground() {
				break
			}
			p.event(false, "RolloutPromoted", "Step %d of revision %s promoted by request", *p.st.CurrentStep+1, p.st.CanaryRevision)
			p.nextStep()
		case p.active():
			// Say so, or the user waits for a promote that was used up.
			p.event(true, "PromoteIgnored", "Promote ignored: the rollout of revision %s is not waiting at a pause (set a new value once it is)", p.st.CanaryRevision)
		}
	}
}

func (p *planner) nextStep() {
	p.st.CurrentStep = ptr.To(ptr.Deref(p.st.CurrentStep, 0) + 1)
	p.st.StepStartedAt = p.now()
	p.st.Phase = msv1.RolloutPhaseProgressing
}

// runSteps runs steps until one has to wait, with the webhooks around
// them: the start's (see startWebhooks), confirm-traffic-increase before a
// weight increase, rollout after a setWeight step, confirm-promotion after
// the last step, and the rollback hooks throughout.
func (p *planner) runSteps() {
	if p.rollbackRequested() {
		return
	}
	if p.obs.Paused {
		p.st.Phase = msv1.RolloutPhasePaused
		p.st.Message = "Paused by the " + msv1.PausedAnnotation + " annotation"
		p.holdCanary()
		return
	}
	if !p.startWebhooks() {
		return
	}
	if !p.background() {
		return
	}
	n := len(p.c.Steps)
	for guard := 0; guard <= len(p.c.Steps); guard++ {
		i := int(ptr.Deref(p.st.CurrentStep, 0))
		step := ptr.To(int32(i))
		if i >= len(p.c.Steps) {
			if p.releaseHold() {
				return
			}
			if !p.webhooksPass(msv1.WebhookConfirmPromotion, nil, n-1, "before the promotion") {
				p.holdCanary()
				return
			}
			p.st.Phase = msv1.RolloutPhasePromoting
			p.event(false, "RolloutPromoting", "All steps of revision %s passed; promoting it to stable", p.st.CanaryRevision)
			p.promote()
			return
		}
		s := p.c.Steps[i]
		if s.SetWeight != nil && *s.SetWeight > p.st.CanaryWeight &&
			!p.webhooksPass(msv1.WebhookConfirmTrafficIncrease, step, i, fmt.Sprintf("step %d/%d, before the weight goes to %d%%", i+1, n, *s.SetWeight)) {
			p.holdCanary()
			return
		}
		if !p.runStep(i, s) {
			return
		}
		if s.SetWeight != nil && !p.webhooksPass(msv1.WebhookRollout, step, i, fmt.Sprintf("step %d/%d, at %d%%", i+1, n, *s.SetWeight)) {
			p.holdCanary()
			return
		}
		p.nextStep()
	}
}

// holdCanary keeps the canary at the replicas of its current weight.
func (p *planner) holdCanary() {
	p.canaryReplicas = p.canaryReplicasAt(p.st.CanaryWeight)
}

// runStep runs step i and reports whether it is done.
func (p *planner) runStep(i int, s msv1.CanaryStep) bool {
	n := len(p.c.Steps)
	switch {
	case s.SetWeight != nil:
		w := *s.SetWeight
		p.canaryReplicas = p.canaryReplicasAt(max(w, p.st.CanaryWeight))
		if !p.canaryReady(p.canaryReplicas) {
			p.waitForPods(i, w)
			return false
		}
		if w != p.st.CanaryWeight {
			p.event(false, "CanaryWeightChanged", "Step %d/%d: canary weight %d%%", i+1, n, w)
		}
		p.st.CanaryWeight = w
		return true

	case s.Pause != nil:
		p.holdCanary()
		if s.Pause.Duration == nil {
			p.st.Phase = msv1.RolloutPhasePaused
			p.st.Message = fmt.Sprintf("Step %d/%d: waiting for a promote (kubectl annotate ms NAME --overwrite %s=$(date +%%s))", i+1, n, msv1.PromoteAnnotation)
			return false
		}
		started := p.obs.Now
		if p.st.StepStartedAt != nil {
			started = p.st.StepStartedAt.Time
		}
		left := started.Add(s.Pause.Duration.Duration).Sub(p.obs.Now)
		if left > 0 {
			p.st.Phase = msv1.RolloutPhasePaused
			p.st.Message = fmt.Sprintf("Step %d/%d: pausing for %s", i+1, n, s.Pause.Duration.Duration)
			p.requeue = left
			return false
		}
		return true

	default: // analysis
		p.holdCanary()
		if p.c.Analysis == nil {
			// Admission refuses this; never block a rollout on it.
			return true
		}
		return p.analyse(i)
	}
}

// drainCheck is how soon a reconcile that moved traffic off the canary looks
// again, to scale the canary down once the live route sends it nothing. The
// route's own watch event usually comes first; when the route was already
// there (its earlier write's status was lost), no event comes at all.
const drainCheck = time.Second

// DefaultProgressDeadline is how long a setWeight step waits for its canary
// pods when the spec says nothing.
const DefaultProgressDeadline = 10 * time.Minute

// ProgressDeadline is the canary's progress deadline, or its default.
func ProgressDeadline(c *msv1.Canary) time.Duration {
	if c.ProgressDeadline != nil {
		return c.ProgressDeadline.Duration
	}
	return DefaultProgressDeadline
}

// waitForPods keeps a setWeight step waiting for its canary pods, and rolls
// the canary back once they are past the progress deadline, or once the
// canary Deployment says so itself.
func (p *planner) waitForPods(i int, w int32) {
	n := len(p.c.Steps)
	if msg := p.obs.CanaryProgressDeadlineExceeded; msg != "" {
		p.rollBackStuck(i, "the canary Deployment exceeded its progress deadline: "+msg)
		return
	}
	started := p.obs.Now
	if p.st.StepStartedAt != nil {
		started = p.st.StepStartedAt.Time
	}
	deadline := ProgressDeadline(p.c)
	waited := p.obs.Now.Sub(started)
	if waited >= deadline {
		p.rollBackStuck(i, fmt.Sprintf("%d of %d canary pods ready after %s, past spec.rollout.canary.progressDeadline (%s)",
			p.obs.CanaryReadyReplicas, p.canaryReplicas, waited.Round(time.Second), deadline))
		return
	}
	p.st.Phase = msv1.RolloutPhaseProgressing
	p.st.Message = fmt.Sprintf("Step %d/%d: waiting for %d ready canary pods before sending %d%% of traffic", i+1, n, p.canaryReplicas, w)
	if left := deadline - waited; p.requeue == 0 || left < p.requeue {
		p.requeue = left
	}
}

// rollBack removes the canary of a step that cannot progress: traffic
// first, then pods.
func (p *planner) rollBack(i int, message, why string) {
	p.st.Phase = msv1.RolloutPhaseRolledBack
	p.st.Message = message
	p.event(true, "RolloutRolledBack", "Revision %s rolled back at step %d/%d: %s", p.st.CanaryRevision, i+1, len(p.c.Steps), why)
	p.postRollout()
	p.removeCanary()
}

// restorePending is true while an aborted or rolled-back promotion has left
// the stable Deployment on another revision than the stable one, and the
// stable revision's template is saved to give it back.
func (p *planner) restorePending() bool {
	return p.st.Phase != msv1.RolloutPhasePromoting && p.st.Phase != msv1.RolloutPhaseSucceeded &&
		p.st.StableRevision != "" && p.obs.StableRevision != p.st.StableRevision && p.obs.StableSaved
}

// rollBackStuck rolls back the canary of a step that cannot progress.
func (p *planner) rollBackStuck(i int, why string) {
	p.rollBack(i, fmt.Sprintf("Rolled back at step %d/%d: %s", i+1, len(p.c.Steps), why), why)
}

// canaryReady is true when the canary runs the revision being delivered with
// at least want ready pods.
func (p *planner) canaryReady(want int32) bool {
	return p.obs.CanaryRevision == p.st.CanaryRevision && p.obs.CanaryReadyReplicas >= want
}

func (p *planner) analyse(i int) bool {
	n := len(p.c.Steps)
	a := p.c.Analysis
	if p.st.Analysis == nil || p.st.Analysis.Step != int32(i) {
		// The last step's values stay visible until this step measures.
		p.st.Analysis = &msv1.AnalysisStatus{Step: int32(i)}
	}
	as := p.st.Analysis
	// The measurement belongs to the step that was current when it was due;
	// a step this reconcile moves on to takes its own, one interval in.
	m, measuring := p.obs.Measurement, p.obs.Measuring
	p.obs.Measurement, p.obs.Measuring = nil, false
	p.count(as, m)
	switch {
	case as.Failures > ptr.Deref(a.FailureLimit, 0):
		p.rollBack(i, fmt.Sprintf("Analysis failed %d of %d measurements: %s", as.Failures, as.Measurements, failing(as.Metrics)), failing(as.Metrics))
		return false
	case as.Inconclusives > ptr.Deref(a.InconclusiveLimit, 0):
		p.st.Phase = msv1.RolloutPhasePaused
		p.st.Message = fmt.Sprintf("Analysis inconclusive %d times (%s); promote to go on or abort", as.Inconclusives, failing(as.Metrics))
		if m != nil {
			p.event(true, "AnalysisInconclusive", "Step %d/%d: %s", i+1, n, p.st.Message)
		}
		return false
	// Only conclusive measurements count: no data or a Prometheus that is
	// down can never promote a canary.
	case as.Measurements-as.Inconclusives >= ptr.Deref(a.Count, DefaultCount):
		p.event(false, "AnalysisPassed", "Step %d/%d: analysis passed %d of %d measurements", i+1, n, as.Measurements-as.Failures-as.Inconclusives, as.Measurements)
		return true
	}
	p.st.Phase = msv1.RolloutPhaseProgressing
	p.st.Message = fmt.Sprintf("Step %d/%d: analysis, %d of %d conclusive measurements taken", i+1, n, as.Measurements-as.Inconclusives, ptr.Deref(a.Count, DefaultCount))
	if m == nil && measuring {
		// The measurement's end wakes the reconciler.
		return false
	}
	p.requeue = max(nextMeasurement(p.c, &p.st).Sub(p.obs.Now), time.Second)
	return false
}

// count adds measurement m, if any, to the tally as.
func (p *planner) count(as *msv1.AnalysisStatus, m *Measurement) {
	if m == nil {
		return
	}
	as.Measurements++
	as.LastMeasuredAt = p.now()
	as.Metrics = m.Metrics
	switch m.Phase {
	case PhaseFailed:
		as.Failures++
	case PhaseInconclusive:
		as.Inconclusives++
	}
}

// failing lists the metrics of a measurement that did not pass.
func failing(ms []msv1.MetricResult) string {
	var out []string
	for _, m := range ms {
		if m.Phase != PhaseSuccessful {
			out = append(out, fmt.Sprintf("%s=%s (%s)", m.Name, valueOrNone(m.Value), m.Message))
		}
	}
	if len(out) == 0 {
		return "no metric failed"
	}
	return strings.Join(out, ", ")
}

func valueOrNone(v string) string {
	if v == "" {
		return "none"
	}
	return v
}

// promote gives the stable track the new revision, waits until it has fully
// rolled out, then moves traffic back to stable and removes the canary.
func (p *planner) promote() {
	p.updateStable = true
	if p.obs.StableRevision != p.st.CanaryRevision || !p.obs.StableReady {
		p.holdCanary()
		p.st.Message = "Promoting: waiting for the stable Deployment to roll out revision " + p.st.CanaryRevision
		p.promotionDeadline()
		return
	}
	if (p.st.CanaryWeight > 0 || p.obs.RoutedCanaryWeight > 0) && p.obs.HasRoute {
		p.canaryReplicas = p.canaryReplicasAt(max(p.st.CanaryWeight, p.obs.RoutedCanaryWeight))
		p.st.CanaryWeight = 0
		p.st.Message = "Promoting: traffic moved back to stable"
		p.drainAgain()
		return
	}
	if p.routeUnapplied() {
		p.canaryReplicas = p.unappliedReplicas()
		p.st.Message = "Promoting: waiting for " + p.routing() + " to apply the route that moves traffic back to stable"
		p.drainAgain()
		return
	}
	p.event(false, "RolloutSucceeded", "Revision %s promoted to stable", p.st.CanaryRevision)
	p.postRollout()
	p.st.Phase = msv1.RolloutPhaseSucceeded
	p.st.Message = "Revision " + p.st.CanaryRevision + " promoted"
	p.st.StableRevision = p.st.CanaryRevision
	p.st.CanaryRevision = ""
	p.st.CurrentStep = nil
	p.st.StepStartedAt = nil
	p.st.CanaryWeight = 0
	p.canaryReplicas = 0
}

// promotionDeadline rolls back a promotion whose stable Deployment does not
// roll out within the progress deadline (or says so itself): the stable
// track gets its saved template back. Without one (a promotion begun by an
// operator that did not save it), the promotion keeps waiting and says why.
func (p *planner) promotionDeadline() {
	why := ""
	started := p.obs.Now
	if p.st.StepStartedAt != nil {
		started = p.st.StepStartedAt.Time
	}
	deadline := ProgressDeadline(p.c)
	waited := p.obs.Now.Sub(started)
	switch {
	case p.obs.StableProgressDeadlineExceeded != "":
		why = "the stable Deployment exceeded its progress deadline: " + p.obs.StableProgressDeadlineExceeded
	case waited >= deadline:
		why = fmt.Sprintf("the stable Deployment has not rolled out revision %s after %s, past spec.rollout.canary.progressDeadline (%s)",
			p.st.CanaryRevision, waited.Round(time.Second), deadline)
	default:
		if left := deadline - waited; p.requeue == 0 || left < p.requeue {
			p.requeue = left
		}
		return
	}
	if !p.obs.StableSaved {
		p.st.Message += "; " + why + ", and the previous template was not saved: change the spec back to roll back"
		return
	}
	p.st.Phase = msv1.RolloutPhaseRolledBack
	p.st.Message = "Rolled back during the promotion: " + why
	p.event(true, "RolloutRolledBack", "Promotion of revision %s rolled back, the stable track goes back to revision %s: %s", p.st.CanaryRevision, p.st.StableRevision, why)
	p.postRollout()
	p.removeCanary()
	p.restoreStable = p.st.StableRevision
}

// removeCanary moves traffic to stable first, then scales the canary down.
func (p *planner) removeCanary() {
	p.updateStable = false
	p.drainCanary()
}
