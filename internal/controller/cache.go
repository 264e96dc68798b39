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
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
	"github.com/msvc-dev/msvc-operator/internal/builder"
)

// NewScheme returns a scheme with every type the operator reads or writes.
func NewScheme() (*runtime.Scheme, error) {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, msv1.AddToScheme, gwv1.Install} {
		if err := add(s); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// CacheOptions limits the operator's informers to what it manages: every
// Microservice, and of every other kind only the objects labelled as managed
// by the operator. managedFields are dropped from cached objects; the
// operator never reads them and they are often the largest part of an object.
func CacheOptions() cache.Options {
	managed := labels.SelectorFromSet(labels.Set{builder.LabelManagedBy: builder.ManagedByValue})
	return cache.Options{
		DefaultLabelSelector: managed,
		DefaultTransform:     cache.TransformStripManagedFields(),
		ByObject: map[client.Object]cache.ByObject{
			&msv1.Microservice{}: {Label: labels.Everything()},
			&appsv1.Deployment{}: {Transform: stripPodTemplate},
			// Metadata only: the operator hashes versions, never reads data.
			metadataOf("ConfigMap"): {Label: labels.Everything()},
			metadataOf("Secret"):    {Label: labels.Everything()},
		},
	}
}

// stripPodTemplate drops managedFields and the pod template of a cached
// Deployment. The operator applies the template whole and never reads it
// back: it reads a Deployment's replicas, annotations and status, and it
// notices a change of the template by its generation. The template is most
// of the size of a Deployment.
func stripPodTemplate(obj any) (any, error) {
	obj, err := cache.TransformStripManagedFields()(obj)
	if d, ok := obj.(*appsv1.Deployment); ok {
		d.Spec.Template = corev1.PodTemplateSpec{}
	}
	return obj, err
}

func metadataOf(kind string) *metav1.PartialObjectMetadata {
	m := &metav1.PartialObjectMetadata{}
	m.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind(kind))
	return m
}
