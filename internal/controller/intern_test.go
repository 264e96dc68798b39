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
	"fmt"
	"maps"
	"strings"
	"testing"
	"unsafe"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
	"github.com/msvc-dev/msvc-operator/internal/builder"
)

// decoded builds a Deployment the way a decoder does: every string a copy of its own.
func decoded(name string) *appsv1.Deployment {
	c := strings.Clone
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{
			Name: c(name), Namespace: c("shop"),
			Labels: map[string]string{
				c(builder.LabelManagedBy): c(builder.ManagedByValue), c(builder.LabelMicroservice): c(name), c(builder.LabelTrack): c("stable"),
			},
			Annotations: map[string]string{c(builder.AnnotationRevision): c("hash-of-" + name)},
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: c(msv1.GroupVersion.String()), Kind: c("Microservice"), Name: c(name), UID: "u-" + "1",
			}},
		},
		Status: appsv1.DeploymentStatus{Conditions: []appsv1.DeploymentCondition{{
			Type: appsv1.DeploymentAvailable, Status: corev1.ConditionStatus(c("True")), Reason: c("MinimumReplicasAvailable"), Message: c("Deployment has minimum availability."),
		}}},
	}
}

func same(a, b string) bool { return unsafe.StringData(a) == unsafe.StringData(b) }

func TestTrimCachedSharesRepeatedStrings(t *testing.T) {
	in1, in2 := decoded("cart"), decoded("checkout")
	want1, want2 := in1.DeepCopy(), in2.DeepCopy()
	out1, err := trimCached(in1)
	if err != nil {
		t.Fatal(err)
	}
	out2, err := trimCached(in2)
	if err != nil {
		t.Fatal(err)
	}
	d1, d2 := out1.(*appsv1.Deployment), out2.(*appsv1.Deployment)

	// Nothing changes but where the strings live.
	for _, c := range []struct{ got, want *appsv1.Deployment }{{d1, want1}, {d2, want2}} {
		if c.got.Namespace != c.want.Namespace || !maps.Equal(c.got.Labels, c.want.Labels) || !maps.Equal(c.got.Annotations, c.want.Annotations) ||
			c.got.OwnerReferences[0] != c.want.OwnerReferences[0] || c.got.Status.Conditions[0] != c.want.Status.Conditions[0] {
			t.Fatalf("interning changed the object:\n got %+v\nwant %+v", c.got.ObjectMeta, c.want.ObjectMeta)
		}
	}

	key := func(m map[string]string, k string) string {
		for kk := range m {
			if kk == k {
				return kk
			}
		}
		t.Fatalf("no key %s", k)
		return ""
	}
	shared := []struct {
		what string
		a, b string
	}{
		{"namespace", d1.Namespace, d2.Namespace},
		{"label key", key(d1.Labels, builder.LabelManagedBy), key(d2.Labels, builder.LabelManagedBy)},
		{"label value of a small set", d1.Labels[builder.LabelTrack], d2.Labels[builder.LabelTrack]},
		{"annotation key", key(d1.Annotations, builder.AnnotationRevision), key(d2.Annotations, builder.AnnotationRevision)},
		{"owner API version", d1.OwnerReferences[0].APIVersion, d2.OwnerReferences[0].APIVersion},
		{"owner kind", d1.OwnerReferences[0].Kind, d2.OwnerReferences[0].Kind},
		{"condition status", string(d1.Status.Conditions[0].Status), string(d2.Status.Conditions[0].Status)},
		{"condition reason", d1.Status.Conditions[0].Reason, d2.Status.Conditions[0].Reason},
		{"label value equal to the name, with the name", d1.Labels[builder.LabelMicroservice], d1.Name},
		{"owner name equal to the name, with the name", d1.OwnerReferences[0].Name, d1.Name},
	}
	for _, s := range shared {
		if !same(s.a, s.b) {
			t.Errorf("%s: two copies of %q", s.what, s.a)
		}
	}
	if same(d1.Status.Conditions[0].Message, d2.Status.Conditions[0].Message) {
		t.Error("messages are not interned")
	}
	cacheStrings.mu.Lock()
	_, hashInterned := cacheStrings.m[d1.Annotations[builder.AnnotationRevision]]
	cacheStrings.mu.Unlock()
	if hashInterned {
		t.Error("a value outside the small sets, such as a hash, must not be interned")
	}
}

func TestInternerIsBounded(t *testing.T) {
	var in interner
	for i := range maxInterned + 100 {
		s := fmt.Sprintf("key-%d", i)
		if got := in.get(s); got != s {
			t.Fatalf("get(%q) = %q", s, got)
		}
	}
	if len(in.m) != maxInterned {
		t.Fatalf("the interner holds %d strings, want at most %d", len(in.m), maxInterned)
	}
	first := in.get(strings.Clone("key-0"))
	if !same(first, in.m["key-0"]) {
		t.Error("a string interned before the bound is still shared")
	}
}
