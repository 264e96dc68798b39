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

package builder

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"

	appsv1ac "k8s.io/client-go/applyconfigurations/apps/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
)

const (
	// TrackCanary is the track of the Deployment that runs a new version during a canary.
	TrackCanary = "canary"

	// AnnotationRevision on a Deployment is the revision of its pod template.
	AnnotationRevision = "apps.msvc.dev/revision"

	// AnnotationConfigHash on the pod template identifies the versions of the
	// ConfigMaps and Secrets the pods read, so that a change to them rolls
	// the pods (or starts a canary) like any other change.
	AnnotationConfigHash = "apps.msvc.dev/config-hash"
)

// AsCanary is ms with a BlueGreen strategy written as the canary it
// amounts to (Rollout.EffectiveCanary), so that the reconciler, the
// builders and the plugin deal with one shape of progressive delivery.
// Any other ms is returned as it is; a converted one is a copy.
func AsCanary(ms *msv1.Microservice) *msv1.Microservice {
	r := ms.Spec.Rollout
	if r == nil || r.Strategy != msv1.BlueGreenStrategy || r.BlueGreen == nil {
		return ms
	}
	out := ms.DeepCopy()
	out.Spec.Rollout = &msv1.Rollout{Strategy: msv1.CanaryStrategy, Canary: r.EffectiveCanary()}
	return out
}

// IsCanary reports whether ms delivers new versions as canaries.
func IsCanary(ms *msv1.Microservice) bool {
	return ms.Spec.Rollout != nil && ms.Spec.Rollout.Strategy == msv1.CanaryStrategy && ms.Spec.Rollout.Canary != nil
}

// Revision identifies the spec's pod template: any change to what runs in
// the pod (image, command, env, resources, probes, security, and the
// ConfigMaps and Secrets it reads and the addresses of its dependencies,
// through in) changes it.
func Revision(ms *msv1.Microservice, in PodInputs) string {
	data, err := json.Marshal(PodTemplate(ms, map[string]string{LabelMicroservice: ms.Name}, in))
	if err != nil {
		panic("builder: marshal pod template: " + err.Error())
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])[:10]
}

// CanaryDeploymentName is the name of the canary Deployment of ms.
func CanaryDeploymentName(ms *msv1.Microservice) string { return ms.Name + "-canary" }

// TrackServiceName is the name of the Service that selects one track's pods.
func TrackServiceName(ms *msv1.Microservice, track string) string { return ms.Name + "-" + track }

// CanaryDeployment is the desired canary Deployment: the spec's pod template
// on the canary track, at the given replica count, with the pod inputs of
// the canary track (trackIn: its dependencies may be called at their own
// canaries). Its revision is that of the stable track's inputs (in): the
// revision being delivered.
func CanaryDeployment(ms *msv1.Microservice, replicas int32, in, trackIn PodInputs) *appsv1ac.DeploymentApplyConfiguration {
	return trackDeployment(ms, CanaryDeploymentName(ms), TrackCanary, &replicas, trackIn).
		WithAnnotations(map[string]string{AnnotationRevision: Revision(ms, in)})
}

func trackDeployment(ms *msv1.Microservice, name, track string, replicas *int32, in PodInputs) *appsv1ac.DeploymentApplyConfiguration {
	podLabels := CommonLabels(ms)
	podLabels[LabelTrack] = track
	spec := appsv1ac.DeploymentSpec().
		WithSelector(metav1ac.LabelSelector().WithMatchLabels(map[string]string{LabelMicroservice: ms.Name, LabelTrack: track})).
		WithTemplate(PodTemplate(ms, podLabels, in))
	if replicas != nil {
		spec.WithReplicas(*replicas)
	}
	return appsv1ac.Deployment(name, ms.Namespace).
		WithLabels(CommonLabels(ms)).
		WithOwnerReferences(OwnerReference(ms)).
		WithSpec(spec)
}

// TrackService is the Service of one track, the backend the route weighs.
func TrackService(ms *msv1.Microservice, track string) *corev1ac.ServiceApplyConfiguration {
	labels := CommonLabels(ms)
	labels[LabelTrack] = track
	spec := corev1ac.ServiceSpec().
		WithSelector(map[string]string{LabelMicroservice: ms.Name, LabelTrack: track})
	for _, p := range ServicePorts(ms) {
		spec.WithPorts(convert[corev1ac.ServicePortApplyConfiguration](p))
	}
	return corev1ac.Service(TrackServiceName(ms, track), ms.Namespace).
		WithLabels(labels).
		WithOwnerReferences(OwnerReference(ms)).
		WithSpec(spec)
}

// StableTemplateName is the name of the ControllerRevision that keeps the
// stable pod template of revision while a promotion replaces it.
func StableTemplateName(ms *msv1.Microservice, revision string) string {
	return DeploymentName(ms) + "-stable-" + revision
}
