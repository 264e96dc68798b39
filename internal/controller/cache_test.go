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
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func TestStripPodTemplateKeepsWhatTheOperatorReads(t *testing.T) {
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{
			Name: "cart", Generation: 3,
			Annotations:   map[string]string{"apps.msvc.dev/revision": "abc"},
			ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "msvc-operator"}},
		},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](2),
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "cart:1"}}}},
		},
		Status: appsv1.DeploymentStatus{ReadyReplicas: 2},
	}
	out, err := stripPodTemplate(d)
	if err != nil {
		t.Fatal(err)
	}
	got := out.(*appsv1.Deployment)
	switch {
	case len(got.Spec.Template.Spec.Containers) != 0:
		t.Errorf("pod template kept: %+v", got.Spec.Template)
	case got.ManagedFields != nil:
		t.Errorf("managedFields kept: %+v", got.ManagedFields)
	case got.Generation != 3 || got.Annotations["apps.msvc.dev/revision"] != "abc" || *got.Spec.Replicas != 2 || got.Status.ReadyReplicas != 2:
		t.Errorf("lost what the operator reads: %+v", got)
	}
}
