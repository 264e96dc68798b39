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

package kubectlmsvc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
	"github.com/msvc-dev/msvc-operator/internal/builder"
)

// PreviousImage is the image Undo goes back to: while a canary runs, the
// stable track's; otherwise the image of the template the last promotion
// replaced, which the operator keeps in a ControllerRevision.
func PreviousImage(ctx context.Context, c client.Client, ms *msv1.Microservice) (string, error) {
	if st := ms.Status.Rollout; st != nil && (st.Phase == msv1.RolloutPhaseProgressing || st.Phase == msv1.RolloutPhasePaused) {
		d := &appsv1.Deployment{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: ms.Namespace, Name: builder.DeploymentName(ms)}, d); err != nil {
			return "", fmt.Errorf("reading the stable Deployment: %w", err)
		}
		return imageOf(d.Spec.Template.Spec)
	}
	list := &appsv1.ControllerRevisionList{}
	if err := c.List(ctx, list, client.InNamespace(ms.Namespace), client.MatchingLabels(builder.ServiceSelector(ms))); err != nil {
		return "", fmt.Errorf("listing the saved templates of %s/%s: %w", ms.Namespace, ms.Name, err)
	}
	var saved *appsv1.ControllerRevision
	for i := range list.Items {
		cr := &list.Items[i]
		if metav1.IsControlledBy(cr, ms) && (saved == nil || cr.Revision > saved.Revision) {
			saved = cr
		}
	}
	if saved == nil {
		return "", errors.New("no previous version is saved: the operator keeps one from the Microservice's first canary promotion on")
	}
	var tmpl corev1.PodTemplateSpec
	if err := json.Unmarshal(saved.Data.Raw, &tmpl); err != nil {
		return "", fmt.Errorf("decoding the saved template %s: %w", saved.Name, err)
	}
	return imageOf(tmpl.Spec)
}

func imageOf(pod corev1.PodSpec) (string, error) {
	for _, c := range pod.Containers {
		if c.Name == builder.DefaultContainerName {
			return c.Image, nil
		}
	}
	return "", errors.New("the previous template has no container " + builder.DefaultContainerName)
}

// Undo sets spec.image back to PreviousImage and returns it. Only the
// image: other changes of the spec stay (revert them in Git, or by hand).
func Undo(ctx context.Context, c client.Client, ns, name string) (string, error) {
	ms := &msv1.Microservice{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, ms); err != nil {
		return "", fmt.Errorf("getting Microservice %s/%s: %w", ns, name, err)
	}
	previous, err := PreviousImage(ctx, c, ms)
	if err != nil {
		return "", err
	}
	if previous == ms.Spec.Image {
		return "", fmt.Errorf("spec.image is already %s, the previous version's image: nothing to undo", previous)
	}
	return previous, SetImage(ctx, c, ns, name, previous)
}
