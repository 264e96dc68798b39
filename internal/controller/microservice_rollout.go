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
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
	"github.com/msvc-dev/msvc-operator/internal/analysis"
	"github.com/msvc-dev/msvc-operator/internal/builder"
	"github.com/msvc-dev/msvc-operator/internal/rollout"
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
		obs.plan = rollout.Plan(nil, nil, o)
		return nil
	}

	canary := &appsv1.Deployment{}
	canaryFound, err := r.getLive(ctx, ms, builder.CanaryDeploymentName(ms), canary)
	if err != nil {
		return err
	}
	if ms.Spec.Route != nil || builder.IsMeshRouted(ms) {
		if o.HasRoute, err = r.router.Available(ctx); err != nil {
			return err
		}
	}
	if o.HasRoute {
		if o.RoutedCanaryWeight, err = r.router.CanaryWeight(ctx, ms); err != nil {
			return err
		}
	}
	o.RouterName = r.router.Name()
	if builder.IsMeshRouted(ms) {
		o.RouterName = string(msv1.MeshTrafficRouting)
	}
	o.Paused = ms.Annotations[msv1.PausedAnnotation] == "true"
	o.Promote = ms.Annotations[msv1.PromoteAnnotation]
	o.PromoteFull = ms.Annotations[msv1.PromoteFullAnnotation]
	o.Abort = ms.Annotations[msv1.AbortAnnotation]
	o.Retry = ms.Annotations[msv1.RetryAnnotation]
	if canaryFound {
		o.CanaryRevision = canary.Annotations[builder.AnnotationRevision]
		o.CanaryServingReplicas = canary.Status.ReadyReplicas
		// Only pods of the current template count: while the canary
		// Deployment replaces old pods, none of its pods count as ready.
		if canary.Status.ObservedGeneration >= canary.Generation && canary.Status.Replicas == canary.Status.UpdatedReplicas {
			o.CanaryReadyReplicas = canary.Status.ReadyReplicas
		}
		o.CanaryProgressDeadlineExceeded = progressDeadlineExceeded(canary)
	}
	if rollout.MeasurementDue(ms.Spec.Rollout.Canary, ms.Status.Rollout, o.Now) {
		// The measurement runs off the reconcile workers; the reconcile
		// its end triggers plans with its result.
		measured, revision := ms.DeepCopy(), o.DesiredRevision
		o.Measurement, o.Measuring = r.analyses.measurement(ms, analysisKeyOf(ms), func(ctx context.Context) *rollout.Measurement {
			return r.measure(ctx, measured, revision)
		})
	} else {
		r.analyses.forget(client.ObjectKeyFromObject(ms))
	}
	if stableFound {
		o.StableProgressDeadlineExceeded = progressDeadlineExceeded(stable)
	}
	// Around a promotion the stable track may run another template than
	// the stable revision's: is that one saved, to go back to?
	if prev := ms.Status.Rollout; prev != nil && stableFound && prev.StableRevision != "" && o.StableRevision != prev.StableRevision {
		switch prev.Phase {
		case msv1.RolloutPhasePromoting, msv1.RolloutPhaseAborted, msv1.RolloutPhaseRolledBack:
			if o.StableSaved, err = r.stableTemplateSaved(ctx, ms, prev.StableRevision); err != nil {
				return err
			}
		}
	}
	obs.plan = rollout.Plan(ms.Spec.Rollout.Canary, ms.Status.Rollout, o)
	obs.rollout = &obs.plan.Status
	return nil
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

// measure queries every metric of the analysis once for the canary track,
// all at once, each within the analysis timeout.
func (r *MicroserviceReconciler) measure(ctx context.Context, ms *msv1.Microservice, revision string) *rollout.Measurement {
	a := ms.Spec.Rollout.Canary.Analysis
	var sinceStep time.Duration
	if st := ms.Status.Rollout; st != nil && st.StepStartedAt != nil {
		sinceStep = r.now().Sub(st.StepStartedAt.Time)
	}
	window := analysis.RateWindow(rollout.AnalysisInterval(ms.Spec.Rollout.Canary), sinceStep)
	vars := analysis.QueryVars{Name: ms.Name, Namespace: ms.Namespace, Track: builder.TrackCanary, Revision: revision, Interval: window}
	backend, providerErr := r.backends.For(a, vars)
	impl := analysis.Implementation(a.Implementation)
	if impl == "" {
		impl = analysis.Implementation(r.DefaultGatewayImplementation)
	}
	target := analysis.Target{
		Namespace: ms.Namespace,
		Service:   builder.TrackServiceName(ms, builder.TrackCanary),
		Workload:  builder.CanaryDeploymentName(ms),
		Window:    window,
	}

	timeout := rollout.AnalysisTimeout(ms.Spec.Rollout.Canary)

	m := &rollout.Measurement{Phase: rollout.PhaseSuccessful, Metrics: make([]msv1.MetricResult, len(a.Metrics))}
	var wg sync.WaitGroup
	for i, metric := range a.Metrics {
		var query string
		var err error
		if metric.Template != "" {
			query, err = analysis.TemplateQuery(impl, analysis.Template(metric.Template), target)
		} else if providerErr == nil {
			query, err = backend.Render(metric.Query, vars)
		}
		wg.Go(func() {
			phase, value, msg := r.measureOne(ctx, timeout, backend, providerErr, metric, query, err)
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

// measureOne runs one metric's query (rendered from its query or its
// template; renderErr when that failed) within timeout and judges the value.
func (r *MicroserviceReconciler) measureOne(ctx context.Context, timeout time.Duration, provider analysis.Provider, providerErr error, metric msv1.Metric, query string, renderErr error) (analysis.Phase, string, string) {
	if renderErr != nil {
		return analysis.PhaseInconclusive, "", renderErr.Error()
	}
	if providerErr != nil {
		return analysis.PhaseInconclusive, "", providerErr.Error()
	}
	lo, err := analysis.ParseBound(ptr.Deref(metric.SuccessCondition.Min, ""))
	if err != nil {
		return analysis.PhaseInconclusive, "", err.Error()
	}
	hi, err := analysis.ParseBound(ptr.Deref(metric.SuccessCondition.Max, ""))
	if err != nil {
		return analysis.PhaseInconclusive, "", err.Error()
	}
	qctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	v, qerr := provider.Query(qctx, query)
	if qerr != nil && errors.Is(qctx.Err(), context.DeadlineExceeded) {
		qerr = fmt.Errorf("no answer within %v (spec.rollout.canary.analysis.timeout)", timeout)
	}
	phase, msg := analysis.Evaluate(v, qerr, analysis.Condition{Min: lo, Max: hi}, analysis.NoDataPolicy(metric.NoData))
	value := ""
	if qerr == nil && !v.NoData {
		value = strconv.FormatFloat(v.Number, 'g', 6, 64)
	}
	return phase, value, msg
}
