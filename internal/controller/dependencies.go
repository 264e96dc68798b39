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
	"fmt"
	"slices"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
	"github.com/msvc-dev/msvc-operator/internal/builder"
	"github.com/msvc-dev/msvc-operator/internal/graph"
	"github.com/msvc-dev/msvc-operator/internal/rollout"
)

// dependencyIndex indexes Microservices by the Microservices they depend on ("namespace/name").
const dependencyIndex = "spec.dependencies"

func indexDependencies(obj client.Object) []string {
	ms, ok := obj.(*msv1.Microservice)
	if !ok {
		return nil
	}
	out := make([]string, 0, len(ms.Spec.Dependencies))
	for _, d := range ms.Spec.Dependencies {
		out = append(out, builder.DependencyKey(ms, d).String())
	}
	return out
}

// dependencies is what a reconcile saw of a Microservice's place in the graph.
type dependencies struct {
	resolved []builder.ResolvedDependency
	statuses []msv1.DependencyStatus
	env      []corev1.EnvVar
	// notReady lists the required dependencies that hold back start-up.
	notReady []string
	// gating lists the dependencies that hold back a new rollout.
	gating []string
	// cycle spells out a dependency cycle through this Microservice.
	cycle string
	// dependents declare this Microservice as a dependency; consumers are
	// those of them that its network policy admits.
	dependents []graph.Key
	consumers  []graph.Key
}

// isolated reports whether ms's pods get a NetworkPolicy.
func (r *MicroserviceReconciler) isolated(ms *msv1.Microservice) bool {
	if np := ms.Spec.NetworkPolicy; np != nil && np.Enabled != nil {
		return *np.Enabled
	}
	return r.NetworkIsolation
}

// admits reports whether ms's network policy lets a Microservice of namespace ns call it.
func (r *MicroserviceReconciler) admits(ms *msv1.Microservice, ns string) bool {
	if ns == ms.Namespace || !r.isolated(ms) {
		return true
	}
	return ms.Spec.NetworkPolicy != nil && slices.Contains(ms.Spec.NetworkPolicy.AllowedNamespaces, ns)
}

// observeDependencies resolves each dependency from the cache, decides what
// holds this service back, finds a cycle through it and lists its dependents.
func (r *MicroserviceReconciler) observeDependencies(ctx context.Context, ms *msv1.Microservice, obs *observation) error {
	d := dependencies{}
	for _, dep := range ms.Spec.Dependencies {
		res, st, sameRelease, err := r.resolve(ctx, ms, dep)
		if err != nil {
			return err
		}
		d.resolved = append(d.resolved, res)
		d.statuses = append(d.statuses, st)
		if dep.Optional || st.State == msv1.DependencyReady {
			continue
		}
		what := fmt.Sprintf("%s (%s)", res.Key.ShortIn(ms.Namespace), st.State)
		if st.State != msv1.DependencyRollingOut {
			d.notReady = append(d.notReady, what)
		}
		// A dependency rolling out in this Microservice's release does not
		// gate it: the release orders them (see rollout.ViewRelease).
		if !dep.IgnoreRollouts && (st.State != msv1.DependencyRollingOut || !sameRelease) {
			d.gating = append(d.gating, what)
		}
	}
	d.env = builder.DependencyEnv(d.resolved)

	self := graph.Key{Namespace: ms.Namespace, Name: ms.Name}
	var lookupErr error
	cycle := graph.FindCycle(self, func(k graph.Key) []graph.Key {
		node := ms
		if k != self {
			node = &msv1.Microservice{}
			if err := r.Get(ctx, client.ObjectKey{Namespace: k.Namespace, Name: k.Name}, node, client.UnsafeDisableDeepCopy); err != nil {
				if !apierrors.IsNotFound(err) {
					lookupErr = err
				}
				return nil
			}
		}
		keys := make([]graph.Key, len(node.Spec.Dependencies))
		for i, dep := range node.Spec.Dependencies {
			keys[i] = builder.DependencyKey(node, dep)
		}
		return keys
	})
	if lookupErr != nil {
		return fmt.Errorf("walking the dependency graph: %w", lookupErr)
	}
	if cycle != nil {
		d.cycle = graph.FormatCycle(cycle, ms.Namespace)
	}

	list := &msv1.MicroserviceList{}
	if err := r.List(ctx, list, client.MatchingFields{dependencyIndex: self.String()}, client.UnsafeDisableDeepCopy); err != nil {
		return fmt.Errorf("listing the dependents of %s: %w", self, err)
	}
	for i := range list.Items {
		k := graph.Key{Namespace: list.Items[i].Namespace, Name: list.Items[i].Name}
		d.dependents = append(d.dependents, k)
		if r.admits(ms, k.Namespace) {
			d.consumers = append(d.consumers, k)
		}
	}
	sort.Slice(d.dependents, func(i, j int) bool { return d.dependents[i].String() < d.dependents[j].String() })
	sort.Slice(d.consumers, func(i, j int) bool { return d.consumers[i].String() < d.consumers[j].String() })
	obs.deps = d
	return nil
}

// resolve finds the Microservice a dependency names and judges its state.
// sameRelease is true when the dependency delivers a change in the release
// of ms.
func (r *MicroserviceReconciler) resolve(ctx context.Context, ms *msv1.Microservice, dep msv1.Dependency) (res builder.ResolvedDependency, st msv1.DependencyStatus, sameRelease bool, err error) {
	key := builder.DependencyKey(ms, dep)
	res = builder.ResolvedDependency{Dep: dep, Key: key}
	st = msv1.DependencyStatus{Name: key.Name, Namespace: key.Namespace}

	target := &msv1.Microservice{}
	// Read in place: the cached object is only read, and what is kept of
	// it (its ports) is copied.
	err = r.Get(ctx, client.ObjectKey{Namespace: key.Namespace, Name: key.Name}, target, client.UnsafeDisableDeepCopy)
	switch {
	case apierrors.IsNotFound(err):
		st.State, st.Message = msv1.DependencyMissing, fmt.Sprintf("Microservice %s does not exist", key)
		return res, st, false, nil
	case err != nil:
		return res, st, false, fmt.Errorf("reading dependency %s: %w", key, err)
	}

	port, ok := dependencyPort(target, dep.Port)
	switch {
	case !ok && len(target.Spec.Ports) == 0:
		st.State = msv1.DependencyPortNotFound
		st.Message = fmt.Sprintf("Microservice %s has no ports, so nothing can call it: remove it from spec.dependencies, or give it a port", key)
		return res, st, false, nil
	case !ok:
		names := make([]string, len(target.Spec.Ports))
		for i, p := range target.Spec.Ports {
			names[i] = p.Name
		}
		st.State = msv1.DependencyPortNotFound
		st.Message = fmt.Sprintf("Microservice %s has no port %q (its ports: %s): set spec.dependencies[].port to one of them",
			key, dep.Port, strings.Join(names, ", "))
		return res, st, false, nil
	}
	sameRelease = releaseOf(ms) != "" && releaseOf(target) == releaseOf(ms) && target.Namespace == ms.Namespace
	res.Found, res.Port, res.Ports, res.Scheme = true, port.Port, slices.Clone(target.Spec.Ports), builder.Scheme(port)
	st.Address = res.Address(msv1.AddressURL, false)

	available := apimeta.FindStatusCondition(target.Status.Conditions, msv1.AvailableCondition)
	switch {
	case !r.admits(target, ms.Namespace):
		st.State = msv1.DependencyDenied
		st.Message = fmt.Sprintf("%s admits no Microservices of namespace %s: add %s to its spec.networkPolicy.allowedNamespaces", key, ms.Namespace, ms.Namespace)
	case available == nil || available.Status != "True":
		st.State = msv1.DependencyUnavailable
		// Neither the dependency's message nor its reason: they count pods
		// and say what it waits for, and copying them would rewrite the
		// status of every dependent each time the dependency moves on (a new
		// one first has no status, then Progressing). Its own Available
		// condition says why; this state changes only when the state does.
		st.Message = fmt.Sprintf("%s is not available yet", key)
	case rollingOut(target):
		st.State, st.Message = msv1.DependencyRollingOut, fmt.Sprintf("%s is rolling out a new version", key)
	default:
		st.State = msv1.DependencyReady
	}
	return res, st, sameRelease, nil
}

func dependencyPort(ms *msv1.Microservice, name string) (msv1.ServicePort, bool) {
	for _, p := range ms.Spec.Ports {
		if name == "" || p.Name == name {
			return p, true
		}
	}
	return msv1.ServicePort{}, false
}

// rollingOut reports whether a Microservice is delivering a new version.
func rollingOut(ms *msv1.Microservice) bool {
	if rollout.Active(ms.Status.Rollout) {
		return true
	}
	c := apimeta.FindStatusCondition(ms.Status.Conditions, msv1.ReconcilingCondition)
	return ms.Status.ObservedGeneration < ms.Generation || c != nil && c.Status == "True"
}

// related maps a Microservice to the ones whose reconcile depends on it: its
// dependents (their gates and addresses), its dependencies (their lists of
// dependents and network policies) and the other members of its release.
func (r *MicroserviceReconciler) related(ctx context.Context, obj client.Object) []reconcile.Request {
	ms, ok := obj.(*msv1.Microservice)
	if !ok {
		return nil
	}
	var reqs []reconcile.Request
	list := &msv1.MicroserviceList{}
	if err := r.List(ctx, list, client.MatchingFields{dependencyIndex: ms.Namespace + "/" + ms.Name}, client.UnsafeDisableDeepCopy); err == nil {
		for i := range list.Items {
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
		}
	}
	for _, d := range ms.Spec.Dependencies {
		k := builder.DependencyKey(ms, d)
		reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKey{Namespace: k.Namespace, Name: k.Name}})
	}
	return append(reqs, r.releaseMates(ctx, ms)...)
}

// graphChanged passes the Microservice events that matter to its neighbours:
// creation, deletion, a spec change, a change of availability or rollout,
// and of its release or its state in it.
var graphChanged = predicate.Funcs{
	UpdateFunc: func(e event.UpdateEvent) bool {
		o, okOld := e.ObjectOld.(*msv1.Microservice)
		n, okNew := e.ObjectNew.(*msv1.Microservice)
		if !okOld || !okNew {
			return false
		}
		return o.Generation != n.Generation ||
			conditionStatus(o, msv1.AvailableCondition) != conditionStatus(n, msv1.AvailableCondition) ||
			rollingOut(o) != rollingOut(n) ||
			releaseOf(o) != releaseOf(n) || releaseStateOf(o) != releaseStateOf(n)
	},
}

func conditionStatus(ms *msv1.Microservice, t string) string {
	if c := apimeta.FindStatusCondition(ms.Status.Conditions, t); c != nil {
		return string(c.Status)
	}
	return ""
}
