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
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
	"github.com/msvc-dev/msvc-operator/internal/builder"
)

// configRefIndex indexes Microservices by the ConfigMaps and Secrets they
// read ("ConfigMap/name", "Secret/name").
const configRefIndex = "spec.configRefs"

func indexConfigRefs(obj client.Object) []string {
	ms, ok := obj.(*msv1.Microservice)
	if !ok {
		return nil
	}
	refs := builder.ConfigRefs(ms)
	out := make([]string, len(refs))
	for i, r := range refs {
		out[i] = r.String()
	}
	return out
}

// referencing maps a ConfigMap or Secret to the Microservices that read it.
func (r *MicroserviceReconciler) referencing(kind string) func(context.Context, client.Object) []reconcile.Request {
	return func(ctx context.Context, obj client.Object) []reconcile.Request {
		list := &msv1.MicroserviceList{}
		ref := builder.ConfigRef{Kind: kind, Name: obj.GetName()}
		if err := r.List(ctx, list, client.InNamespace(obj.GetNamespace()), client.MatchingFields{configRefIndex: ref.String()}, client.UnsafeDisableDeepCopy); err != nil {
			return nil
		}
		reqs := make([]reconcile.Request, len(list.Items))
		for i := range list.Items {
			reqs[i] = reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])}
		}
		return reqs
	}
}

// observeConfig computes the config hash of ms: the identity and version of
// every ConfigMap and Secret its pods read, from a metadata-only cache. The
// operator never reads the data of a Secret.
func (r *MicroserviceReconciler) observeConfig(ctx context.Context, ms *msv1.Microservice, obs *observation) error {
	refs := builder.ConfigRefs(ms)
	if len(refs) == 0 {
		obs.configHash = ""
		return nil
	}
	h := sha256.New()
	for _, ref := range refs {
		m := &metav1.PartialObjectMetadata{}
		m.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind(ref.Kind))
		version := "absent"
		err := r.Get(ctx, client.ObjectKey{Namespace: ms.Namespace, Name: ref.Name}, m)
		switch {
		case err == nil:
			version = string(m.UID) + "@" + m.ResourceVersion
		case !apierrors.IsNotFound(err):
			return fmt.Errorf("reading %s: %w", ref, err)
		}
		_, _ = fmt.Fprintf(h, "%s=%s;", ref, version) // a hash takes every write
	}
	obs.configHash = hex.EncodeToString(h.Sum(nil))[:16]
	return nil
}
