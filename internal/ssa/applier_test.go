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

package ssa

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestFingerprint(t *testing.T) {
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{ResourceVersion: "10", Generation: 2, Labels: map[string]string{"a": "b"}}}
	if fingerprint(&appsv1.Deployment{}) != (fingerprintSum{}) {
		t.Fatal("a missing object must have an empty fingerprint")
	}
	fp := fingerprint(d)

	status := d.DeepCopy()
	status.ResourceVersion = "11"
	status.Status.ReadyReplicas = 3
	if fingerprint(status) != fp {
		t.Fatal("a status update must not change the fingerprint")
	}
	for name, mutate := range map[string]func(*appsv1.Deployment){
		"spec edit":       func(o *appsv1.Deployment) { o.Generation = 3 },
		"label edit":      func(o *appsv1.Deployment) { o.Labels["a"] = "c" },
		"annotation edit": func(o *appsv1.Deployment) { o.Annotations = map[string]string{"x": "y"} },
		"owner removed":   func(o *appsv1.Deployment) { o.OwnerReferences = []metav1.OwnerReference{{Name: "x"}} },
	} {
		o := d.DeepCopy()
		mutate(o)
		if fingerprint(o) == fp {
			t.Fatalf("%s must change the fingerprint", name)
		}
	}

	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{ResourceVersion: "5"}}
	fp = fingerprint(svc)
	if fp == (fingerprintSum{}) {
		t.Fatal("an existing object must have a fingerprint")
	}
	svc.Labels = map[string]string{"a": "b"}
	if fingerprint(svc) != fp {
		t.Fatal("objects without a generation fall back to the resourceVersion alone")
	}
	svc.ResourceVersion = "6"
	if fingerprint(svc) == fp {
		t.Fatal("a new resourceVersion of an object without a generation must change the fingerprint")
	}
}

func TestUpToDate(t *testing.T) {
	a := &Applier{}
	ref := Ref{Kind: "Deployment", Namespace: "ns", Name: "x"}
	h, h2 := sum{1}, sum{2}
	gen1, gen2, gen3, missing := fingerprintSum{1}, fingerprintSum{2}, fingerprintSum{3}, fingerprintSum{}
	if a.upToDate(ref, h, missing) {
		t.Fatal("nothing applied yet")
	}
	a.remember(ref, record{hash: h, before: gen1, after: gen2})
	cases := []struct {
		name string
		hash sum
		live fingerprintSum
		want bool
	}{
		{"what the apply returned", h, gen2, true},
		{"the cache lags behind the apply", h, gen1, true},
		{"someone edited the object", h, gen3, false},
		{"a new desired configuration", h2, gen2, false},
		{"deleted", h, missing, false},
	}
	for _, c := range cases {
		if got := a.upToDate(ref, c.hash, c.live); got != c.want {
			t.Fatalf("%s: upToDate = %v, want %v", c.name, got, c.want)
		}
	}
	a.Forget(ref)
	if a.upToDate(ref, h, gen2) {
		t.Fatal("Forget must drop the record")
	}
}
