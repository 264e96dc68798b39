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
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
	"github.com/msvc-dev/msvc-operator/internal/analysis"
	"github.com/msvc-dev/msvc-operator/internal/builder"
	"github.com/msvc-dev/msvc-operator/internal/rollout"
	"github.com/msvc-dev/msvc-operator/internal/traffic"
)

// planRollout observes both tracks and the dependencies, asks the analysis
// runner for the measurement that is due, if any, and asks the planner what
// to do: hold a new service at zero replicas, let a new version wait, or
// deliver it (a rolling update of the stable Deployment, or canary steps).
func (r *MicroserviceReconciler) planRollout(ctx context.Context, ms *msv1.Microservice, obs *observation) error {
	stable := &appsv1.Deployment{}
	stableFound, err := r.getLive(ctx, ms, builder.DeploymentName(ms), stable)
	if err != nil {
		return err
	}
	o := rollout.Observation{
		Now:             r.now(),
		DesiredRevision: builder.Revision(ms, obs.podInputs()),
		Dependencies: rollout.Dependencies{
			NotAvailable: obs.deps.notReady,
			Gating:       obs.deps.gating,
			Cycle:        obs.deps.cycle,
		},
	}
	if stableFound {
		o.StableRevision = stable.Annotations[builder.AnnotationRevision]
		// A stable Deployment still held at zero replicas for its
		// dependencies has never served: its first version needs no canary.
		o.StableHeld = stable.Annotations[builder.AnnotationHeld] == "true"
		o.StableReady = rolledOut(stable)
		o.StableReplicas = ptr.Deref(stable.Spec.Replicas, 1)
		o.StableServingReplicas = stable.Status.ReadyReplicas
	}
	if !builder.IsCanary(ms) {
		r.analyses.forget(client.ObjectKeyFromObject(ms))
		r.webhooks.forget(client.ObjectKeyFromObject(ms))
		obs.plan = rollout.Plan(nil, nil, o)
		return nil
	}

	ca, err := r.resolveCanary(ctx, ms)
	if err != nil {
		return err
	}
	canary := &appsv1.Deployment{}
	canaryFound, err := r.getLive(ctx, ms, builder.CanaryDeploymentName(ms), canary)
	if err != nil {
		return err
	}
	router := r.routers.For(ms)
	if ms.Spec.Route != nil || builder.IsMeshRouted(ms) {
		if o.HasRoute, err = router.Available(ctx); err != nil {
			return err
		}
	}
	if o.HasRoute {
		routed, err := router.Observe(ctx, ms)
		if err != nil {
			return err
		}
		o.RoutedCanaryWeight, o.RouteApplied = routed.CanaryWeight, routed.Applied
	}
	o.RouterName = string(traffic.RoutingOf(ms))
	o.Paused = ms.Annotations[msv1.PausedAnnotation] == "true"
	o.Promote = ms.Annotations[msv1.PromoteAnnotation]
	o.PromoteFull = ms.Annotations[msv1.PromoteFullAnnotation]
	o.Abort = ms.Annotations[msv1.AbortAnnotation]
	o.Retry = ms.Annotations[msv1.RetryAnnotation]
	if canaryFound {
		o.CanaryRevision = canary.Annotations[builder.AnnotationRevision]
		o.CanaryServingReplicas = canary.Status.ReadyReplicas
		o.CanaryReplicas = ptr.Deref(canary.Spec.Replicas, 1)
		// Only pods of the current template count: while the canary
		// Deployment replaces old pods, none of its pods count as ready.
		if canary.Status.ObservedGeneration >= canary.Generation && canary.Status.Replicas == canary.Status.UpdatedReplicas {
			o.CanaryReadyReplicas = canary.Status.ReadyReplicas
		}
		o.CanaryProgressDeadlineExceeded = progressDeadlineExceeded(canary)
	}
	if canaryFound && o.HasRoute && hasTrackServices(ms) && o.CanaryServingReplicas > 0 {
		// The Gateway sends the canary's weight to its track Service's
		// endpoints, not to its pods: a pod is Ready a moment before the
		// EndpointSlice controller lists it, and a weight given in between
		// is answered 503 (seen on Traefik). Count only the pods the
		// Service has; the slice that lists them wakes the reconcile.
		ready, known, err := r.readyEndpoints(ctx, ms.Namespace, builder.TrackServiceName(ms, builder.TrackCanary))
		if err != nil {
			return err
		}
		if known && ready < o.CanaryServingReplicas {
			o.CanaryServingReplicas = ready
			o.CanaryReadyReplicas = min(o.CanaryReadyReplicas, ready)
		}
	}
	// Measurements run off the reconcile workers; the reconcile their end
	// triggers plans with their result. An analysis step's and the
	// background analysis's have a slot each.
	var measuring []string
	take := func(slot string, key analysisKey, since *metav1.Time) (*rollout.Measurement, bool) {
		measured, revision := ms.DeepCopy(), o.DesiredRevision
		measured.Spec.Rollout.Canary = ca.canary
		measuring = append(measuring, slot)
		return r.analyses.get(ms, slot, key, func(ctx context.Context) *rollout.Measurement {
			return r.measure(ctx, measured, revision, since, ca.args, ca.err)
		})
	}
	if st := ms.Status.Rollout; rollout.MeasurementDue(ca.canary, st, o.Now) {
		o.Measurement, o.Measuring = take("", analysisKeyOf(ms), st.StepStartedAt)
	}
	if st := ms.Status.Rollout; rollout.BackgroundMeasurementDue(ca.canary, st, o.Now) {
		o.Background, o.BackgroundMeasuring = take(backgroundSlot, backgroundKeyOf(ms), st.BackgroundAnalysis.StartedAt)
	}
	r.analyses.keep(client.ObjectKeyFromObject(ms), measuring)
	// Webhook calls run off the reconcile workers too.
	r.callWebhooks(ms, ca.canary, &o)
	if stableFound {
		o.StableProgressDeadlineExceeded = progressDeadlineExceeded(stable)
	}
	// Around a promotion the stable track may run another template than
	// the stable revision's: is that one saved, to go back to?
	if prev := ms.Status.Rollout; prev != nil && stableFound && prev.StableRevision != "" && o.StableRevision != prev.StableRevision && prev.Phase != msv1.RolloutPhaseSucceeded {
		if o.StableSaved, err = r.stableTemplateSaved(ctx, ms, prev.StableRevision); err != nil {
			return err
		}
	}
	if o.Release, err = r.viewRelease(ctx, ms); err != nil {
		return err
	}
	obs.release = o.Release
	obs.plan = rollout.Plan(ca.canary, ms.Status.Rollout, o)
	obs.rollout = &obs.plan.Status
	return nil
}

// readyEndpoints counts the ready endpoints of Service name's EndpointSlices
// in the cache, which keeps the canary track Services' slices (see
// CacheOptions). known is false when the Service has no EndpointSlice at
// all: no EndpointSlice controller runs (envtest), and the pods' readiness
// is all there is to go by.
func (r *MicroserviceReconciler) readyEndpoints(ctx context.Context, namespace, name string) (ready int32, known bool, err error) {
	list := &discoveryv1.EndpointSliceList{}
	if err := r.List(ctx, list, client.InNamespace(namespace), client.MatchingLabels{discoveryv1.LabelServiceName: name}, client.UnsafeDisableDeepCopy); err != nil {
		return 0, false, fmt.Errorf("listing the EndpointSlices of Service %s/%s: %w", namespace, name, err)
	}
	for _, s := range list.Items {
		for _, e := range s.Endpoints {
			if e.Conditions.Ready == nil || *e.Conditions.Ready {
				ready++
			}
		}
	}
	return ready, len(list.Items) > 0, nil
}

// progressDeadlineExceeded is the message of the Deployment's own verdict
// that its current template is not progressing, or empty.
func progressDeadlineExceeded(d *appsv1.Deployment) string {
	if d.Status.ObservedGeneration < d.Generation {
		return ""
	}
	for _, c := range d.Status.Conditions {
		if c.Type == appsv1.DeploymentProgressing && c.Status == corev1.ConditionFalse && c.Reason == "ProgressDeadlineExceeded" {
			return c.Message
		}
	}
	return ""
}

// rolledOut is true when every pod of the Deployment runs its current template and is available.
func rolledOut(d *appsv1.Deployment) bool {
	want := ptr.Deref(d.Spec.Replicas, 1)
	s := d.Status
	return s.ObservedGeneration >= d.Generation && s.UpdatedReplicas == want && s.Replicas == want && s.AvailableReplicas >= want
}

// measure queries every metric of the analysis once for the canary track
// (and for the stable track too, for a metric judged relative to it), all
// at once, each within the analysis timeout. Rates are taken over the
// analysis interval, or the time since since (the step's start, or the
// background analysis's) when that is shorter.
//
// ms carries the analysis to run (its own, or its template's, with args);
// templateErr says why the template cannot be used, and makes the
// measurement Inconclusive with that message.
func (r *MicroserviceReconciler) measure(ctx context.Context, ms *msv1.Microservice, revision string, since *metav1.Time, args map[string]string, templateErr error) *rollout.Measurement {
	if templateErr != nil {
		return &rollout.Measurement{Phase: rollout.PhaseInconclusive, Metrics: []msv1.MetricResult{{
			Name: "analysisTemplate", Phase: string(analysis.PhaseInconclusive), Message: templateErr.Error(),
		}}}
	}
	a := ms.Spec.Rollout.Canary.Analysis
	var sinceStart time.Duration
	if since != nil {
		sinceStart = r.now().Sub(since.Time)
	}
	window := analysis.RateWindow(rollout.AnalysisInterval(ms.Spec.Rollout.Canary), sinceStart)
	impl := analysis.Implementation(a.Implementation)
	if impl == "" {
		impl = analysis.Implementation(r.DefaultGatewayImplementation)
	}
	// The stable track is measured only for metrics judged relative to it.
	measured := []string{builder.TrackCanary}
	for _, m := range a.Metrics {
		if m.SuccessCondition.RelativeTo == msv1.RelativeToStable {
			measured = append(measured, builder.TrackStable)
			break
		}
	}
	tracks := map[string]trackQuery{}
	for _, track := range measured {
		vars := analysis.QueryVars{Name: ms.Name, Namespace: ms.Namespace, Track: track, Revision: revision, Interval: window, Args: args}
		q := trackQuery{vars: vars, target: analysis.Target{
			Namespace: ms.Namespace, Service: builder.TrackServiceName(ms, track), Workload: builder.CanaryDeploymentName(ms), Window: window,
		}}
		if track == builder.TrackStable {
			q.target.Workload = builder.DeploymentName(ms)
		}
		q.backend, q.backendErr = r.backends.For(a, vars)
		tracks[track] = q
	}
	timeout := rollout.AnalysisTimeout(ms.Spec.Rollout.Canary)

	m := &rollout.Measurement{Phase: rollout.PhaseSuccessful, Metrics: make([]msv1.MetricResult, len(a.Metrics))}
	var wg sync.WaitGroup
	for i, metric := range a.Metrics {
		wg.Go(func() {
			phase, value, msg := r.measureOne(ctx, timeout, impl, metric, tracks)
			m.Metrics[i] = msv1.MetricResult{Name: metric.Name, Value: value, Phase: string(phase), Message: msg}
		})
	}
	wg.Wait()
	for _, res := range m.Metrics {
		switch {
		case res.Phase == string(analysis.PhaseFailed):
			m.Phase = rollout.PhaseFailed
		case res.Phase == string(analysis.PhaseInconclusive) && m.Phase == rollout.PhaseSuccessful:
			m.Phase = rollout.PhaseInconclusive
		}
	}
	return m
}

// trackQuery is how the metrics of one track are queried.
type trackQuery struct {
	vars       analysis.QueryVars
	target     analysis.Target
	backend    analysis.Backend
	backendErr error
}

// value runs metric's query (its own, or its template's) for the track
// within timeout.
func (q trackQuery) value(ctx context.Context, timeout time.Duration, impl analysis.Implementation, metric msv1.Metric) (analysis.Value, error) {
	if q.backendErr != nil {
		return analysis.Value{}, q.backendErr
	}
	var query string
	var err error
	if metric.Template != "" {
		query, err = analysis.TemplateQuery(impl, analysis.Template(metric.Template), q.target)
	} else {
		query, err = q.backend.Render(metric.Query, q.vars)
	}
	if err != nil {
		return analysis.Value{}, err
	}
	qctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	v, err := q.backend.Query(qctx, query)
	if err != nil && errors.Is(qctx.Err(), context.DeadlineExceeded) {
		err = fmt.Errorf("no answer within %v (spec.rollout.canary.analysis.timeout)", timeout)
	}
	return v, err
}

// measureOne measures one metric and judges its value: the canary's, or
// with relativeTo: Stable the canary's minus the stable track's, both
// queried at once.
func (r *MicroserviceReconciler) measureOne(ctx context.Context, timeout time.Duration, impl analysis.Implementation, metric msv1.Metric, tracks map[string]trackQuery) (analysis.Phase, string, string) {
	lo, err := analysis.ParseBound(ptr.Deref(metric.SuccessCondition.Min, ""))
	if err != nil {
		return analysis.PhaseInconclusive, "", err.Error()
	}
	hi, err := analysis.ParseBound(ptr.Deref(metric.SuccessCondition.Max, ""))
	if err != nil {
		return analysis.PhaseInconclusive, "", err.Error()
	}
	cond := analysis.Condition{Min: lo, Max: hi}
	policy := analysis.NoDataPolicy(metric.NoData)
	if metric.SuccessCondition.RelativeTo != msv1.RelativeToStable {
		v, qerr := tracks[builder.TrackCanary].value(ctx, timeout, impl, metric)
		phase, msg := analysis.Evaluate(v, qerr, cond, policy)
		return phase, formatValue(v, qerr), msg
	}
	var canary, stable analysis.Value
	var canaryErr, stableErr error
	var wg sync.WaitGroup
	wg.Go(func() { canary, canaryErr = tracks[builder.TrackCanary].value(ctx, timeout, impl, metric) })
	wg.Go(func() { stable, stableErr = tracks[builder.TrackStable].value(ctx, timeout, impl, metric) })
	wg.Wait()
	diff, qerr := analysis.Difference(canary, canaryErr, stable, stableErr)
	phase, msg := analysis.Evaluate(diff, qerr, cond, policy)
	if qerr == nil && !diff.NoData {
		msg = fmt.Sprintf("canary %s minus stable %s: %s", formatValue(canary, nil), formatValue(stable, nil), msg)
	}
	return phase, formatValue(diff, qerr), msg
}

func formatValue(v analysis.Value, err error) string {
	if err != nil || v.NoData {
		return ""
	}
	return strconv.FormatFloat(v.Number, 'g', 6, 64)
}

// byMicroserviceLabel maps an object the operator does not own but that
// carries its Microservice's label (an EndpointSlice, labelled as its
// Service is) to that Microservice.
func byMicroserviceLabel(_ context.Context, obj client.Object) []reconcile.Request {
	name := obj.GetLabels()[builder.LabelMicroservice]
	if name == "" {
		return nil
	}
	return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: obj.GetNamespace(), Name: name}}}
}
