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
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
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

func TestFinalizerPatchKeepsOtherFinalizersAndTheVersion(t *testing.T) {
	pod := testPod("p", func(p *corev1.Pod) {
		p.ResourceVersion = "42"
		p.Finalizers = []string{"other.example/keep", podFinalizer}
	})
	for _, tt := range []struct {
		add  bool
		want []string
	}{
		{add: false, want: []string{"other.example/keep"}},
		{add: true, want: []string{"other.example/keep", podFinalizer}},
	} {
		data, err := finalizerChange{pod: pod, add: tt.add}.patch()
		if err != nil {
			t.Fatal(err)
		}
		var got struct {
			Metadata struct {
				ResourceVersion string   `json:"resourceVersion"`
				Finalizers      []string `json:"finalizers"`
			} `json:"metadata"`
		}
		if err := json.Unmarshal(data, &got); err != nil {
			t.Fatal(err)
		}
		if got.Metadata.ResourceVersion != "42" || !reflect.DeepEqual(got.Metadata.Finalizers, tt.want) {
			t.Errorf("add=%v: patch %s, want finalizers %v at resourceVersion 42", tt.add, data, tt.want)
		}
	}
	// The last finalizer removed is an empty list, not a missing field
	// (which a merge patch would leave as it was).
	data, _ := finalizerChange{pod: testPod("q", func(p *corev1.Pod) { p.Finalizers = []string{podFinalizer} })}.patch()
	if want := `{"metadata":{"finalizers":[],"resourceVersion":""}}`; string(data) != want {
		t.Errorf("patch %s, want %s", data, want)
	}
}
