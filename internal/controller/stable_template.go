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
	"encoding/json"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	appsv1ac "k8s.io/client-go/applyconfigurations/apps/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
	"github.com/msvc-dev/msvc-operator/internal/builder"
	"github.com/msvc-dev/msvc-operator/internal/ssa"
)

// +kubebuilder:rbac:groups=apps,resources=controllerrevisions,verbs=get;list;create;patch;delete

// A promotion gives the stable Deployment the canary's pod template. The
// template it replaces is saved first, in a ControllerRevision owned by the
// Microservice (the way a StatefulSet keeps its revisions), so that an abort
// during the promotion, or a promotion that does not progress, can give the
// stable track its template back. One is kept per Microservice: saving the
// next deletes the others. ControllerRevision data is immutable, so each is
// named for the revision it holds.

// reader reads past the cache when the reconciler has an API reader: saved
// templates are read only around promotions and are not cached.
func (r *MicroserviceReconciler) reader() client.Reader {
	if r.APIReader != nil {
		return r.APIReader
	}
	return r.Client
}

// stableTemplateSaved reports whether the stable template of revision is saved.
func (r *MicroserviceReconciler) stableTemplateSaved(ctx context.Context, ms *msv1.Microservice, revision string) (bool, error) {
	cr := &appsv1.ControllerRevision{}
	err := r.reader().Get(ctx, client.ObjectKey{Namespace: ms.Namespace, Name: builder.StableTemplateName(ms, revision)}, cr)
	switch {
	case apierrors.IsNotFound(err):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("reading the saved stable template of %s/%s: %w", ms.Namespace, ms.Name, err)
	}
	return metav1.IsControlledBy(cr, ms) && cr.Annotations[builder.AnnotationRevision] == revision, nil
}

// saveStableTemplate saves the pod template of the live stable Deployment
// before a promotion replaces it: the fields the operator applied (read past
// the cache, which drops managed fields), not the defaults the API server
// added, so that applying it again is the apply that made it.
func (r *MicroserviceReconciler) saveStableTemplate(ctx context.Context, ms *msv1.Microservice, live *appsv1.Deployment) error {
	revision := live.Annotations[builder.AnnotationRevision]
	if revision == "" {
		return nil
	}
	if saved, err := r.stableTemplateSaved(ctx, ms, revision); err != nil || saved {
		return err
	}
	full := &appsv1.Deployment{}
	if err := r.reader().Get(ctx, client.ObjectKeyFromObject(live), full); err != nil {
		return fmt.Errorf("reading Deployment %s/%s to save its template: %w", live.Namespace, live.Name, err)
	}
	applied, err := appsv1ac.ExtractDeployment(full, ssa.FieldManager)
	if err != nil {
		return fmt.Errorf("extracting the applied template of Deployment %s/%s: %w", live.Namespace, live.Name, err)
	}
	if applied.Spec == nil || applied.Spec.Template == nil {
		return fmt.Errorf("deployment %s/%s has no pod template applied by %s to save", live.Namespace, live.Name, ssa.FieldManager)
	}
	data, err := json.Marshal(applied.Spec.Template)
	if err != nil {
		return err
	}
	cr := appsv1ac.ControllerRevision(builder.StableTemplateName(ms, revision), ms.Namespace).
		WithLabels(builder.CommonLabels(ms)).
		WithAnnotations(map[string]string{builder.AnnotationRevision: revision}).
		WithOwnerReferences(builder.OwnerReference(ms)).
		WithRevision(full.Generation).
		WithData(runtime.RawExtension{Raw: data})
	if err := r.Apply(ctx, cr, client.FieldOwner(ssa.FieldManager), client.ForceOwnership); err != nil {
		return fmt.Errorf("saving the stable template of %s/%s: %w", ms.Namespace, ms.Name, err)
	}
	logf.FromContext(ctx).Info("Saved the stable template a promotion replaces", "revision", revision)
	return r.deleteOtherStableTemplates(ctx, ms, revision)
}

// deleteOtherStableTemplates deletes the saved templates of ms but the one of revision keep.
func (r *MicroserviceReconciler) deleteOtherStableTemplates(ctx context.Context, ms *msv1.Microservice, keep string) error {
	list := &appsv1.ControllerRevisionList{}
	if err := r.reader().List(ctx, list, client.InNamespace(ms.Namespace), client.MatchingLabels(builder.ServiceSelector(ms))); err != nil {
		return fmt.Errorf("listing the saved stable templates of %s/%s: %w", ms.Namespace, ms.Name, err)
	}
	for i := range list.Items {
		cr := &list.Items[i]
		if cr.Name == builder.StableTemplateName(ms, keep) || !metav1.IsControlledBy(cr, ms) {
			continue
		}
		if err := r.Delete(ctx, cr); client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("deleting the saved stable template %s/%s: %w", cr.Namespace, cr.Name, err)
		}
	}
	return nil
}

// restoreStableTemplate gives the stable Deployment the saved template of
// revision back, with the replicas and everything else the spec says now.
func (r *MicroserviceReconciler) restoreStableTemplate(ctx context.Context, ms *msv1.Microservice, revision string, obs *observation, live *appsv1.Deployment) error {
	cr := &appsv1.ControllerRevision{}
	if err := r.reader().Get(ctx, client.ObjectKey{Namespace: ms.Namespace, Name: builder.StableTemplateName(ms, revision)}, cr); err != nil {
		return fmt.Errorf("reading the saved stable template of revision %s: %w", revision, err)
	}
	tmpl := &corev1ac.PodTemplateSpecApplyConfiguration{}
	if err := json.Unmarshal(cr.Data.Raw, tmpl); err != nil {
		return fmt.Errorf("decoding the saved stable template %s/%s: %w", cr.Namespace, cr.Name, err)
	}
	d := builder.Deployment(ms, builder.DecideReplicas(ms, false), obs.podInputs()).
		WithAnnotations(map[string]string{builder.AnnotationRevision: revision})
	d.Spec.Template = tmpl
	logf.FromContext(ctx).Info("Giving the stable Deployment its saved template back", "revision", revision)
	_, err := r.applier.Apply(ctx, d, live)
	return err
}
