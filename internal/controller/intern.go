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
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/msvc-dev/msvc-operator/internal/builder"
)

// maxInterned bounds the strings an interner keeps, so that a cluster of
// unusual objects (a label key of its own on each) cannot grow it without
// bound. Past it, strings are kept as decoded.
const maxInterned = 4096

// interner hands out one shared copy of each string it is given. Decoding
// gives every cached object copies of its own of the same label keys,
// namespaces, owner kinds and condition reasons; at thousands of objects
// those copies are a good part of the cache.
type interner struct {
	mu sync.Mutex
	m  map[string]string
}

func (in *interner) get(s string) string {
	if s == "" {
		return s
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if v, ok := in.m[s]; ok {
		return v
	}
	if in.m == nil {
		in.m = map[string]string{}
	}
	if len(in.m) < maxInterned {
		in.m[s] = s
	}
	return s
}

// cacheStrings is the interner of the operator's cache.
var cacheStrings interner

// Label and annotation values taken from small sets; other values (names,
// hashes) are as many as the objects and are not interned.
var internedValues = map[string]bool{
	builder.LabelManagedBy:              true,
	builder.LabelTrack:                  true,
	builder.AnnotationReplicasOwner:     true,
	builder.AnnotationHeld:              true,
	"deployment.kubernetes.io/revision": true,
}

// internMeta shares the repeated strings of obj's metadata: the namespace,
// label and annotation keys, the values of internedValues, and the API
// version and kind of owners. A label value or owner name equal to the
// object's name shares the name's copy: each child carries its
// Microservice's name, which is most children's own name too.
func internMeta(obj metav1.Object) {
	obj.SetNamespace(cacheStrings.get(obj.GetNamespace()))
	name := obj.GetName()
	if l := obj.GetLabels(); len(l) > 0 {
		obj.SetLabels(internMap(l, name))
	}
	if a := obj.GetAnnotations(); len(a) > 0 {
		obj.SetAnnotations(internMap(a, name))
	}
	refs := obj.GetOwnerReferences()
	for i := range refs {
		refs[i].APIVersion = cacheStrings.get(refs[i].APIVersion)
		refs[i].Kind = cacheStrings.get(refs[i].Kind)
		if refs[i].Name == name {
			refs[i].Name = name
		}
	}
}

func internMap(m map[string]string, name string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		switch {
		case v == name:
			v = name
		case internedValues[k]:
			v = cacheStrings.get(v)
		}
		out[cacheStrings.get(k)] = v
	}
	return out
}

// internConditions shares the type, status and reason of each condition;
// messages differ and stay as they are.
func internConditions(cs []metav1.Condition) {
	for i := range cs {
		cs[i].Type = cacheStrings.get(cs[i].Type)
		cs[i].Status = metav1.ConditionStatus(cacheStrings.get(string(cs[i].Status)))
		cs[i].Reason = cacheStrings.get(cs[i].Reason)
	}
}
