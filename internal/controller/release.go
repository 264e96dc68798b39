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

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
	"github.com/msvc-dev/msvc-operator/internal/builder"
	"github.com/msvc-dev/msvc-operator/internal/graph"
	"github.com/msvc-dev/msvc-operator/internal/rollout"
)

// releaseOf is the release a Microservice's changes belong to, "" when none.
func releaseOf(ms *msv1.Microservice) string { return ms.Labels[msv1.ReleaseLabel] }

// releaseStateOf is a Microservice's state in its release, "" when it
// delivers no change in it.
func releaseStateOf(ms *msv1.Microservice) msv1.ReleaseMemberState {
	r := releaseOf(ms)
	if st := ms.Status.Rollout; r != "" && st != nil && st.Release != nil && st.Release.Name == r {
		return st.Release.State
	}
	return ""
}

// releaseMember is what a Microservice shows the other members of its release.
func releaseMember(ms *msv1.Microservice) rollout.ReleaseMember {
	m := rollout.ReleaseMember{
		Key:     graph.Key{Namespace: ms.Namespace, Name: ms.Name}.String(),
		Pending: ms.Status.ObservedGeneration < ms.Generation,
	}
	for _, d := range ms.Spec.Dependencies {
		m.Dependencies = append(m.Dependencies, builder.DependencyKey(ms, d).String())
	}
	if st := ms.Status.Rollout; st != nil && st.Release != nil {
		m.Status = st.Release.DeepCopy()
	}
	return m
}

// members lists the Microservices of release name in namespace ns, read in
// place. A release is a namespace's: two teams that both name a release
// "v2" in their own namespaces deliver two releases.
func (r *MicroserviceReconciler) members(ctx context.Context, ns, name string) ([]msv1.Microservice, error) {
	list := &msv1.MicroserviceList{}
	if err := r.List(ctx, list, client.InNamespace(ns), client.MatchingLabels{msv1.ReleaseLabel: name}, client.UnsafeDisableDeepCopy); err != nil {
		return nil, fmt.Errorf("listing the members of release %s in %s: %w", name, ns, err)
	}
	return list.Items, nil
}

// viewRelease is the release of ms as its members' statuses show it, nil
// when ms carries no release label.
func (r *MicroserviceReconciler) viewRelease(ctx context.Context, ms *msv1.Microservice) (*rollout.ReleaseView, error) {
	name := releaseOf(ms)
	if name == "" {
		return nil, nil
	}
	items, err := r.members(ctx, ms.Namespace, name)
	if err != nil {
		return nil, err
	}
	members := make([]rollout.ReleaseMember, 0, len(items))
	for i := range items {
		members = append(members, releaseMember(&items[i]))
	}
	return rollout.ViewRelease(name, releaseMember(ms), members), nil
}

// canaryPodInputs are the pod inputs of the canary track: the same as the
// stable track's, except that a dependency of the same release whose
// canary runs is called at its canary track's Service. The canary
// Deployment's revision stays that of the stable inputs, so the switch
// back to the stable address once the dependency is promoted changes the
// canary's pods, not the revision being delivered.
func (o *observation) canaryPodInputs() builder.PodInputs {
	in := o.podInputs()
	if o.release == nil || len(o.release.CanaryCalls) == 0 {
		return in
	}
	resolved := slices.Clone(o.deps.resolved)
	for i := range resolved {
		if slices.Contains(o.release.CanaryCalls, resolved[i].Key.String()) {
			dep := &msv1.Microservice{ObjectMeta: metav1.ObjectMeta{Name: resolved[i].Key.Name}}
			resolved[i].Service = builder.TrackServiceName(dep, builder.TrackCanary)
		}
	}
	in.DependencyEnv = builder.DependencyEnv(resolved)
	return in
}

// releaseMates maps a Microservice of a release to every other member:
// a member's state decides what the others may do.
func (r *MicroserviceReconciler) releaseMates(ctx context.Context, ms *msv1.Microservice) []reconcile.Request {
	name := releaseOf(ms)
	if name == "" {
		return nil
	}
	items, err := r.members(ctx, ms.Namespace, name)
	if err != nil {
		return nil
	}
	var reqs []reconcile.Request
	for i := range items {
		if items[i].Namespace != ms.Namespace || items[i].Name != ms.Name {
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&items[i])})
		}
	}
	return reqs
}
