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

package main

import (
	"encoding/json"
	"reflect"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
)

func TestFinalizerHoldsAPodUntilItsProcessIsGone(t *testing.T) {
	held := func(p *corev1.Pod) { p.Finalizers = []string{"other.example/keep", podFinalizer} }
	terminating := func(p *corev1.Pod) { p.DeletionTimestamp = &metav1.Time{} }
	pods := []*corev1.Pod{
		testPod("new"),                         // serving, not held yet: add
		testPod("serving", held),               // serving and held: nothing
		testPod("draining", held, terminating), // its process still drains: keep
		testPod("drained", held, terminating),  // its process exited: release
		testPod("never", terminating),          // never held: nothing
		testPod("finished", held, func(p *corev1.Pod) { p.Status.Phase = corev1.PodSucceeded }),
	}
	desired := desiredProcesses(pods, func(string) bool { return true })
	running := map[types.UID]bool{"uid-serving": true, "uid-draining": true}
	got := map[string]bool{}
	for _, c := range finalizerChanges(pods, desired, func(uid types.UID) bool { return running[uid] }) {
		got[c.pod.Name] = c.add
	}
	want := map[string]bool{"new": true, "drained": false, "finished": false}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("changes (pod: add) = %v, want %v", got, want)
	}
}

func TestFinalizerPatchAddsAndRemovesOnlyItsOwn(t *testing.T) {
	for _, tt := range []struct {
		name       string
		finalizers []string
		add        bool
		want       []string
	}{
		{name: "added to none", add: true, want: []string{podFinalizer}},
		{name: "added beside another", finalizers: []string{"other.example/keep"}, add: true, want: []string{"other.example/keep", podFinalizer}},
		{name: "added again", finalizers: []string{podFinalizer}, add: true, want: []string{podFinalizer}},
		{name: "removed, the other kept", finalizers: []string{"other.example/keep", podFinalizer}, want: []string{"other.example/keep"}},
		{name: "the last removed", finalizers: []string{podFinalizer}, want: nil},
	} {
		// The pod as the API server holds it, which may have changed since
		// the runner's cache saw it: the patch names no resourceVersion.
		live := testPod("p", func(p *corev1.Pod) { p.Finalizers = tt.finalizers })
		original, err := json.Marshal(live)
		if err != nil {
			t.Fatal(err)
		}
		data, err := finalizerChange{pod: testPod("p"), add: tt.add}.patch()
		if err != nil {
			t.Fatal(err)
		}
		patched, err := strategicpatch.StrategicMergePatch(original, data, corev1.Pod{})
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		var got corev1.Pod
		if err := json.Unmarshal(patched, &got); err != nil {
			t.Fatal(err)
		}
		// A set: the order of finalizers means nothing.
		slices.Sort(got.Finalizers)
		if len(got.Finalizers) == 0 {
			got.Finalizers = nil
		}
		if !reflect.DeepEqual(got.Finalizers, tt.want) {
			t.Errorf("%s: patch %s leaves finalizers %v, want %v", tt.name, data, got.Finalizers, tt.want)
		}
	}
}
