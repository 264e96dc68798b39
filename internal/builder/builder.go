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

// Package builder computes the desired children of a Microservice. Every
// function here is pure: it takes the Microservice (and, where needed, a
// decision the reconciler made) and returns a complete apply configuration for
// server-side apply. Nothing here talks to the API server.
package builder

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
)

// Labels the operator puts on every child. The managed-by label is also what
// the operator's cache selects on, so it only ever holds objects it manages.
const (
	LabelName         = "app.kubernetes.io/name"
	LabelManagedBy    = "app.kubernetes.io/managed-by"
	LabelMicroservice = "apps.msvc.dev/microservice"
	LabelTrack        = "apps.msvc.dev/track"

	// ManagedByValue is the value of LabelManagedBy on every child.
	ManagedByValue = "msvc-operator"

	// TrackStable is the track of the Deployment that serves the current version.
	TrackStable = "stable"

	// AnnotationReplicasOwner records who owns spec.replicas of the
	// Deployment: "operator" (from spec.replicas) or "autoscaler" (the HPA).
	AnnotationReplicasOwner = "apps.msvc.dev/replicas-owner"
	ReplicasOwnerOperator   = "operator"
	ReplicasOwnerAutoscaler = "autoscaler"

	// DefaultContainerName is the name of the service's container.
	DefaultContainerName = "app"
)

// CommonLabels are the labels of every child of ms.
func CommonLabels(ms *msv1.Microservice) map[string]string {
	return map[string]string{
		LabelName:         ms.Name,
		LabelManagedBy:    ManagedByValue,
		LabelMicroservice: ms.Name,
	}
}

// ServiceSelector selects every pod of ms, whatever its track.
func ServiceSelector(ms *msv1.Microservice) map[string]string {
	return map[string]string{LabelMicroservice: ms.Name}
}

// SelectorString is ServiceSelector in label-selector syntax, for status.selector.
func SelectorString(ms *msv1.Microservice) string {
	return metav1.FormatLabelSelector(&metav1.LabelSelector{MatchLabels: ServiceSelector(ms)})
}

// OwnerReference makes ms the controlling owner of a child, so that deleting
// ms garbage-collects the child.
func OwnerReference(ms *msv1.Microservice) *metav1ac.OwnerReferenceApplyConfiguration {
	return metav1ac.OwnerReference().
		WithAPIVersion(msv1.GroupVersion.String()).
		WithKind("Microservice").
		WithName(ms.Name).
		WithUID(ms.UID).
		WithController(true).
		WithBlockOwnerDeletion(true)
}
