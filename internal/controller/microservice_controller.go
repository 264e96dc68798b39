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

// Package controller holds the reconcilers of the operator.
package controller

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/discovery"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
	"github.com/msvc-dev/msvc-operator/internal/analysis"
	"github.com/msvc-dev/msvc-operator/internal/notify"
	"github.com/msvc-dev/msvc-operator/internal/rollout"
	"github.com/msvc-dev/msvc-operator/internal/shard"
	"github.com/msvc-dev/msvc-operator/internal/ssa"
	"github.com/msvc-dev/msvc-operator/internal/traffic"
)

// replicasHandoffManager is the field manager that holds spec.replicas of a
// Deployment while it passes from the operator to the autoscaler.
const replicasHandoffManager = "msvc-operator-replicas-handoff"

// gatewayAPIRecheckInterval is how often a Microservice with a route checks
// again whether the Gateway API has been installed.
const gatewayAPIRecheckInterval = 2 * time.Minute

// MicroserviceReconciler turns a Microservice into a Deployment, a Service, an
// optional HorizontalPodAutoscaler and an optional Gateway API HTTPRoute.
type MicroserviceReconciler struct {
	client.Client
	// APIReader reads from the API server, past the cache; optional.
	APIReader client.Reader
	Recorder  events.EventRecorder

	// DefaultPrometheusAddress is used by analyses that name no metrics
	// backend.
	DefaultPrometheusAddress string
	// DefaultPrometheusCredentials are sent to DefaultPrometheusAddress
	// only, never to an address a spec names.
	DefaultPrometheusCredentials analysis.Credentials
	// DefaultGatewayImplementation is whose metrics the metric templates
	// query when an analysis names no implementation; traefik when empty.
	DefaultGatewayImplementation string
	// NetworkIsolation gives every Microservice a NetworkPolicy unless its
	// spec.networkPolicy.enabled says otherwise.
	NetworkIsolation bool
	// MonitoringNamespace may scrape the ports named "metrics" of isolated services.
	MonitoringNamespace string
	// Alerts sends rollout transitions to the receivers Microservices name in
	// spec.rollout.canary.alerts; nil when the operator has none.
	Alerts *notify.Sender
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Shards, when set, limits this manager to the Microservices of the
	// shards it holds (--shards); the caller runs it, and sets its Acquired
	// callback to ShardAcquired.
	Shards *shard.Coordinator

	shardEvents chan event.TypedGenericEvent[*msv1.Microservice]

	applier  *ssa.Applier
	handoff  *ssa.Applier
	routers  *traffic.Factory
	statuses statusFence
	analyses *analysisRunner
	webhooks *webhookRunner
	backends *analysis.Factory
}

// +kubebuilder:rbac:groups=apps.msvc.dev,resources=microservices,verbs=get;list;watch
// +kubebuilder:rbac:groups=apps.msvc.dev,resources=microservices/status,verbs=get;patch;update
// +kubebuilder:rbac:groups=apps,resources=deployments,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups="",resources=services,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups=autoscaling,resources=horizontalpodautoscalers,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups=gateway.networking.k8s.io,resources=httproutes,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups=gateway.networking.k8s.io,resources=gateways;gatewayclasses,verbs=get
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=discovery.k8s.io,resources=endpointslices,verbs=list;watch
// +kubebuilder:rbac:groups="",resources=configmaps;secrets,verbs=get;list;watch
// +kubebuilder:rbac:groups=networking.k8s.io,resources=networkpolicies,verbs=get;list;watch;create;patch;delete

// Reconcile brings the children of one Microservice to the desired state and
// writes its status, once, at the end. A reconcile that fails on an error
// that may pass keeps every observed field of the status as the last complete
// reconcile left it, and only says that it retries; events and rollout
// metrics are told once the status that records them is written.
func (r *MicroserviceReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	log := logf.FromContext(ctx)

	release, mine, err := r.claim(ctx, req)
	if err != nil || !mine {
		return ctrl.Result{}, err
	}
	defer release()
	ms, err := r.readCaughtUp(ctx, req.NamespacedName)
	if err != nil || ms == nil {
		return ctrl.Result{}, err
	}
	// A blue-green is delivered as the full-scale canary it amounts to.
	ms = asCanary(ms)
	if !ms.DeletionTimestamp.IsZero() {
		// Owner references let the garbage collector remove the children.
		return ctrl.Result{}, nil
	}

	base := ms.DeepCopy()
	obs, syncErr := r.syncChildren(ctx, ms)
	refused := syncErr != nil && obs.applyErr != nil
	if syncErr == nil || refused {
		computeStatus(ms, obs)
	} else {
		setRetrying(ms, syncErr)
	}
	if err := r.patchStatus(ctx, base, ms); err != nil {
		return ctrl.Result{}, errors.Join(syncErr, err)
	}
	r.recordTransitions(base, ms)
	switch {
	case refused:
		log.Error(syncErr, "Child refused by the API server; waiting for a spec change")
		return ctrl.Result{}, reconcile.TerminalError(syncErr)
	case syncErr != nil:
		return ctrl.Result{}, syncErr
	}
	r.recordRolloutEvents(ms, obs.plan.Events, obs.rollout)
	requeue := obs.plan.RequeueAfter
	if obs.gatewayAPIMissing && (requeue == 0 || requeue > gatewayAPIRecheckInterval) {
		requeue = gatewayAPIRecheckInterval
	}
	return ctrl.Result{RequeueAfter: requeue}, nil
}

// cacheCatchUpTimeout bounds how long a reconcile waits for the cache to
// hold the operator's last status write.
const cacheCatchUpTimeout = 5 * time.Second

// readCaughtUp reads the Microservice from the cache, waiting until the
// cache holds the last status this reconciler wrote. It returns nil when the
// Microservice is gone.
func (r *MicroserviceReconciler) readCaughtUp(ctx context.Context, key types.NamespacedName) (*msv1.Microservice, error) {
	ms := &msv1.Microservice{}
	behind := false
	err := wait.PollUntilContextTimeout(ctx, 5*time.Millisecond, cacheCatchUpTimeout, true, func(ctx context.Context) (bool, error) {
		if err := r.Get(ctx, key, ms); err != nil {
			return false, err
		}
		behind = r.statuses.behind(ms)
		return !behind, nil
	})
	switch {
	case apierrors.IsNotFound(err):
		r.statuses.forget(key)
		r.analyses.forget(key)
		r.webhooks.forget(key)
		forgetRolloutMetrics(key.Namespace, key.Name)
		return nil, nil
	case behind:
		return nil, fmt.Errorf("the cache has not caught up with the last status written to %s within %v", key, cacheCatchUpTimeout)
	case err != nil:
		return nil, err
	}
	return ms, nil
}

// setRetrying records, in the Reconciling condition only, that the last
// reconcile failed on an error that may pass.
func setRetrying(ms *msv1.Microservice, err error) {
	setCondition(ms, msv1.ReconcilingCondition, metav1.ConditionTrue, msv1.ReasonRetrying,
		"Retrying after an error: "+err.Error())
}

func (r *MicroserviceReconciler) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// recordRolloutEvents tells users about every rollout transition, and
// counts them in the operator's metrics.
func (r *MicroserviceReconciler) recordRolloutEvents(ms *msv1.Microservice, evs []rollout.Event, st *msv1.RolloutStatus) {
	reasons := make([]string, len(evs))
	for i, e := range evs {
		reasons[i] = e.Reason
	}
	var weight *int32
	if st != nil {
		weight = &st.CanaryWeight
	}
	observeRolloutMetrics(ms, reasons, weight)
	if r.Recorder == nil {
		return
	}
	for _, e := range evs {
		t := corev1.EventTypeNormal
		if e.Warning {
			t = corev1.EventTypeWarning
		}
		r.Recorder.Eventf(ms, nil, t, e.Reason, "Rollout", "%s", e.Message)
	}
	r.sendAlerts(ms, evs, st)
}

// sendAlerts queues each transition for the receivers the Microservice
// names; it never waits for one. Only persisted transitions get here, once.
func (r *MicroserviceReconciler) sendAlerts(ms *msv1.Microservice, evs []rollout.Event, st *msv1.RolloutStatus) {
	if len(evs) == 0 || ms.Spec.Rollout == nil || ms.Spec.Rollout.Canary == nil || len(ms.Spec.Rollout.Canary.Alerts) == 0 {
		return
	}
	for _, to := range ms.Spec.Rollout.Canary.Alerts {
		for _, e := range evs {
			if to.Severity == msv1.AlertSeverityWarning && !e.Warning {
				continue
			}
			a := notify.Alert{Namespace: ms.Namespace, Name: ms.Name, Reason: e.Reason, Message: e.Message, Warning: e.Warning, Time: r.now()}
			if st != nil {
				a.Revision, a.Phase = st.CanaryRevision, string(st.Phase)
			}
			var err error
			if r.Alerts == nil {
				err = fmt.Errorf("alert provider %q: the operator runs without --alert-providers-file", to.Provider)
			} else {
				err = r.Alerts.Send(to.Provider, a)
			}
			if err != nil && r.Recorder != nil {
				r.Recorder.Eventf(ms, nil, corev1.EventTypeWarning, "AlertNotSent", "Rollout", "%s", err.Error())
				break
			}
		}
	}
}

// syncChildren applies every child ms asks for and deletes the ones it no
// longer asks for, in a fixed order, stopping at the first error.
func (r *MicroserviceReconciler) syncChildren(ctx context.Context, ms *msv1.Microservice) (observation, error) {
	var obs observation
	steps := []func(context.Context, *msv1.Microservice, *observation) error{
		r.observeDependencies,
		r.observeConfig,
		r.planRollout,
		r.syncDeployment,
		r.syncCanary,
		r.syncNetworkPolicy,
		r.syncService,
		r.syncAutoscaler,
		r.syncDisruptionBudget,
		r.syncRoute,
		r.removeCanary,
	}
	for _, step := range steps {
		if err := step(ctx, ms, &obs); err != nil {
			if isRefused(err) {
				obs.applyErr = err
			}
			return obs, err
		}
	}
	return obs, nil
}

// isRefused tells errors that only a spec change can fix from transient ones.
func isRefused(err error) bool {
	return apierrors.IsInvalid(err) || apierrors.IsBadRequest(err)
}

// getLive reads obj from the cache; a missing object leaves obj at its zero value.
func (r *MicroserviceReconciler) getLive(ctx context.Context, ms *msv1.Microservice, name string, obj client.Object) (bool, error) {
	err := r.Get(ctx, client.ObjectKey{Namespace: ms.Namespace, Name: name}, obj)
	switch {
	case apierrors.IsNotFound(err):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("reading %T %s/%s: %w", obj, ms.Namespace, name, err)
	}
	return true, nil
}

// deleteIfOwned deletes a child that ms no longer asks for.
func (r *MicroserviceReconciler) deleteIfOwned(ctx context.Context, ms *msv1.Microservice, kind string, obj client.Object) error {
	if !metav1.IsControlledBy(obj, ms) {
		return nil
	}
	logf.FromContext(ctx).Info("Deleting child that the spec no longer asks for", "kind", kind, "name", obj.GetName())
	uid := obj.GetUID()
	if err := r.Delete(ctx, obj, client.Preconditions{UID: &uid}); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("deleting %s %s/%s: %w", kind, obj.GetNamespace(), obj.GetName(), err)
	}
	r.applier.Forget(ssa.RefOf(kind, obj))
	return nil
}

func (r *MicroserviceReconciler) patchStatus(ctx context.Context, base, ms *msv1.Microservice) error {
	if equality.Semantic.DeepEqual(base.Status, ms.Status) {
		return nil
	}
	if err := r.Status().Patch(ctx, ms, client.MergeFrom(base)); err != nil {
		if apierrors.IsNotFound(err) {
			// Deleted during the reconcile: there is no status left to write.
			return nil
		}
		if r.servedAnyway(ctx, ms) {
			return nil
		}
		return fmt.Errorf("patching status of %s/%s: %w", ms.Namespace, ms.Name, err)
	}
	r.statuses.wrote(ms)
	return nil
}

// servedAnyway tells a status write whose reply was lost (a timeout, a
// broken connection) from one that was not served, by reading the
// Microservice from the API server: the transitions of a status that was
// written must be told, and only once.
func (r *MicroserviceReconciler) servedAnyway(ctx context.Context, ms *msv1.Microservice) bool {
	if r.APIReader == nil {
		return false
	}
	live := &msv1.Microservice{}
	// The read can fail like the write did; a read that fails is tried
	// again (3 reads at most, 100 ms apart), since a written status whose
	// transitions go untold loses its events for good.
	var err error
	for try := 0; try < 3; try++ {
		if try > 0 {
			select {
			case <-ctx.Done():
				return false
			case <-time.After(100 * time.Millisecond):
			}
		}
		if err = r.APIReader.Get(ctx, client.ObjectKeyFromObject(ms), live); err == nil || apierrors.IsNotFound(err) {
			break
		}
	}
	if err != nil || live.UID != ms.UID {
		return false
	}
	// Compared as the API server stores them: times in whole seconds.
	want, err1 := json.Marshal(ms.Status)
	got, err2 := json.Marshal(live.Status)
	if err1 != nil || err2 != nil || !bytes.Equal(want, got) {
		return false
	}
	ms.ResourceVersion = live.ResourceVersion
	r.statuses.wrote(ms)
	return true
}

// recordTransitions emits events for users when the Microservice becomes
// Stalled, recovers, or becomes Ready. Steady states emit nothing.
func (r *MicroserviceReconciler) recordTransitions(before, after *msv1.Microservice) {
	if r.Recorder == nil {
		return
	}
	was := apimeta.FindStatusCondition(before.Status.Conditions, msv1.StalledCondition)
	now := apimeta.FindStatusCondition(after.Status.Conditions, msv1.StalledCondition)
	// A rollback or an abort has its own event.
	rollout := now != nil && (now.Reason == msv1.ReasonRolledBack || now.Reason == msv1.ReasonAborted)
	if now != nil && now.Status == "True" && !rollout && (was == nil || was.Status != "True" || was.Message != now.Message) {
		r.Recorder.Eventf(after, nil, corev1.EventTypeWarning, now.Reason, "Reconcile", "%s", now.Message)
	}
}

// SetupWithManager registers the controller and its watches.
func (r *MicroserviceReconciler) SetupWithManager(mgr ctrl.Manager, opts controller.Options) error {
	// Every request of the reconciler goes through r.Client (the manager's
	// client, or one a test wraps to fail requests).
	r.applier = &ssa.Applier{Client: r.Client, Owner: ssa.FieldManager}
	r.handoff = &ssa.Applier{Client: r.Client, Owner: replicasHandoffManager}
	// The cache drops managed fields, and a promotion saves the stable
	// template from them: without a reader past the cache every promotion
	// would fail ("no pod template applied by msvc-operator to save").
	if r.APIReader == nil {
		r.APIReader = mgr.GetAPIReader()
	}

	// A child deleted by hand must be recreated: forget that it was applied.
	forgetOnDelete := func(kind string) builder.Predicates {
		return builder.WithPredicates(predicate.Funcs{DeleteFunc: func(e event.DeleteEvent) bool {
			r.applier.Forget(ssa.RefOf(kind, e.Object))
			return true
		}})
	}
	// Status-only updates of the Microservice (our own patches) need no reconcile.
	specOrMetadataChanged := predicate.Or(predicate.GenerationChangedPredicate{}, predicate.LabelChangedPredicate{}, predicate.AnnotationChangedPredicate{})

	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &msv1.Microservice{}, configRefIndex, indexConfigRefs); err != nil {
		return err
	}
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &msv1.Microservice{}, dependencyIndex, indexDependencies); err != nil {
		return err
	}
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &msv1.Microservice{}, analysisTemplateIndex, indexAnalysisTemplate); err != nil {
		return err
	}
	// The status fence forgets a write once the cache has it.
	informer, err := mgr.GetCache().GetInformer(context.Background(), &msv1.Microservice{})
	if err != nil {
		return err
	}
	if _, err := informer.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		UpdateFunc: func(_, obj any) {
			if ms, ok := obj.(*msv1.Microservice); ok {
				r.statuses.observe(ms)
			}
		},
	}); err != nil {
		return err
	}
	analysesDone, err := r.setupAnalyses(mgr)
	if err != nil {
		return err
	}
	b := ctrl.NewControllerManagedBy(mgr)
	if r.Shards != nil {
		b = b.WatchesRawSource(r.shardSource())
	}
	c, err := b.
		For(&msv1.Microservice{}, builder.WithPredicates(specOrMetadataChanged)).
		Owns(&appsv1.Deployment{}, forgetOnDelete("Deployment")).
		Owns(&corev1.Service{}, forgetOnDelete("Service")).
		Owns(&autoscalingv2.HorizontalPodAutoscaler{}, forgetOnDelete("HorizontalPodAutoscaler")).
		Owns(&networkingv1.NetworkPolicy{}, forgetOnDelete("NetworkPolicy")).
		Owns(&policyv1.PodDisruptionBudget{}, forgetOnDelete("PodDisruptionBudget")).
		// A Microservice's neighbours in the dependency graph react at once
		// to its availability, rollouts and spec: no polling.
		Watches(&msv1.Microservice{}, handler.EnqueueRequestsFromMapFunc(r.related), builder.WithPredicates(graphChanged)).
		// Only the metadata of ConfigMaps and Secrets: a new resourceVersion
		// is all a rollout needs to know.
		WatchesMetadata(&corev1.ConfigMap{}, handler.EnqueueRequestsFromMapFunc(r.referencing("ConfigMap"))).
		WatchesMetadata(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(r.referencing("Secret"))).
		// A changed AnalysisTemplate changes the analyses that use it.
		Watches(&msv1.AnalysisTemplate{}, handler.EnqueueRequestsFromMapFunc(r.usingTemplate)).
		// A canary track Service's EndpointSlice that lists its ready pods
		// lets the canary's weight move.
		Watches(&discoveryv1.EndpointSlice{}, handler.EnqueueRequestsFromMapFunc(byMicroserviceLabel)).
		// A finished analysis measurement wakes its Microservice.
		WatchesRawSource(analysesDone).
		WithOptions(opts).
		Named("microservice").
		Build(r)
	if err != nil {
		return err
	}
	disco, err := discovery.NewDiscoveryClientForConfig(mgr.GetConfig())
	if err != nil {
		return err
	}
	r.routers = traffic.NewFactory(traffic.Deps{
		Client:  r.Client,
		Reader:  mgr.GetAPIReader(),
		Mapper:  mgr.GetRESTMapper(),
		Applier: r.applier,
		Watch: func(obj client.Object) error {
			gvk, err := apiutil.GVKForObject(obj, mgr.GetScheme())
			if err != nil {
				return err
			}
			return c.Watch(source.Kind(mgr.GetCache(), obj,
				handler.EnqueueRequestForOwner(mgr.GetScheme(), mgr.GetRESTMapper(), &msv1.Microservice{}, handler.OnlyControllerOwner()),
				predicate.Funcs{DeleteFunc: func(e event.DeleteEvent) bool { r.applier.Forget(ssa.RefOf(gvk.Kind, e.Object)); return true }}))
		},
		Serves: func(_ context.Context, groupVersion, resource string) (bool, error) {
			return serves(disco, groupVersion, resource)
		},
	})
	// Start the watches of the routers' kinds that are installed with the others.
	for _, router := range r.routers.All() {
		if _, err := router.Available(context.Background()); err != nil {
			return err
		}
	}
	return nil
}

// serves asks the API server's discovery whether it serves resource (a
// plural name) of groupVersion now.
func serves(disco discovery.DiscoveryInterface, groupVersion, resource string) (bool, error) {
	list, err := disco.ServerResourcesForGroupVersion(groupVersion)
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	for _, res := range list.APIResources {
		if res.Name == resource {
			return true, nil
		}
	}
	return false, nil
}
