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
	"sort"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
)

// +kubebuilder:rbac:groups=apps.msvc.dev,resources=analysistemplates,verbs=get;list;watch

// missingTemplateInterval is how soon an analysis step whose template does
// not exist says so.
const missingTemplateInterval = 5 * time.Second

// analysisTemplateIndex indexes Microservices by the AnalysisTemplate they use.
const analysisTemplateIndex = "spec.rollout.canary.analysisTemplate.name"

func indexAnalysisTemplate(obj client.Object) []string {
	ms, ok := obj.(*msv1.Microservice)
	if !ok {
		return nil
	}
	c := ms.Spec.Rollout.EffectiveCanary()
	if c == nil || c.AnalysisTemplate == nil {
		return nil
	}
	return []string{c.AnalysisTemplate.Name}
}

// usingTemplate maps an AnalysisTemplate to the Microservices that use it:
// a changed template changes their next measurement.
func (r *MicroserviceReconciler) usingTemplate(ctx context.Context, obj client.Object) []reconcile.Request {
	list := &msv1.MicroserviceList{}
	if err := r.List(ctx, list, client.InNamespace(obj.GetNamespace()), client.MatchingFields{analysisTemplateIndex: obj.GetName()}, client.UnsafeDisableDeepCopy); err != nil {
		return nil
	}
	out := make([]reconcile.Request, 0, len(list.Items))
	for _, ms := range list.Items {
		out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&ms)})
	}
	return out
}

// canaryAnalysis is the canary spec a rollout plans with: the
// Microservice's own, or with its analysisTemplate's analysis in place,
// and the template's arguments.
type canaryAnalysis struct {
	canary *msv1.Canary
	args   map[string]string
	// err says why the template cannot be used (missing, an argument
	// without a value): every measurement is then Inconclusive with it.
	err error
}

// resolveCanary reads the AnalysisTemplate the canary names, if any. A
// template that cannot be used is no reconcile error: the analysis steps
// measure Inconclusive, saying why, until it is fixed.
func (r *MicroserviceReconciler) resolveCanary(ctx context.Context, ms *msv1.Microservice) (canaryAnalysis, error) {
	c := ms.Spec.Rollout.Canary
	ref := c.AnalysisTemplate
	if ref == nil {
		return canaryAnalysis{canary: c}, nil
	}
	resolved := c.DeepCopy()
	// Without the template there is no interval either: the measurement
	// that says so comes soon.
	resolved.Analysis = &msv1.Analysis{Interval: &metav1.Duration{Duration: missingTemplateInterval}}
	t := &msv1.AnalysisTemplate{}
	err := r.Get(ctx, client.ObjectKey{Namespace: ms.Namespace, Name: ref.Name}, t)
	switch {
	case apierrors.IsNotFound(err):
		return canaryAnalysis{canary: resolved, err: fmt.Errorf("AnalysisTemplate %s/%s (spec.rollout.canary.analysisTemplate) does not exist", ms.Namespace, ref.Name)}, nil
	case err != nil:
		return canaryAnalysis{}, fmt.Errorf("reading AnalysisTemplate %s/%s: %w", ms.Namespace, ref.Name, err)
	}
	resolved.Analysis = t.Spec.Analysis.DeepCopy()
	args, declared := map[string]string{}, map[string]bool{}
	for _, a := range t.Spec.Args {
		declared[a.Name] = true
		if a.Value != nil {
			args[a.Name] = *a.Value
		}
	}
	var unknown, missing []string
	for _, a := range ref.Args {
		if !declared[a.Name] {
			unknown = append(unknown, a.Name)
			continue
		}
		if a.Value != nil {
			args[a.Name] = *a.Value
		}
	}
	for name := range declared {
		if _, ok := args[name]; !ok {
			missing = append(missing, name)
		}
	}
	sort.Strings(unknown)
	sort.Strings(missing)
	switch {
	case len(unknown) > 0:
		err = fmt.Errorf("AnalysisTemplate %s has no argument %s: it takes %s", ref.Name, strings.Join(unknown, ", "), argNames(t.Spec.Args))
	case len(missing) > 0:
		err = fmt.Errorf("AnalysisTemplate %s needs a value for %s in spec.rollout.canary.analysisTemplate.args", ref.Name, strings.Join(missing, ", "))
	}
	return canaryAnalysis{canary: resolved, args: args, err: err}, nil
}

func argNames(args []msv1.AnalysisArg) string {
	if len(args) == 0 {
		return "none"
	}
	names := make([]string, len(args))
	for i, a := range args {
		names[i] = a.Name
	}
	return strings.Join(names, ", ")
}
