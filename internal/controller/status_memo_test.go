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
	"testing"

	"k8s.io/apimachinery/pkg/types"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
)

func TestStatusMemo(t *testing.T) {
	at := func(rv, phase string) *msv1.Microservice {
		return &msv1.Microservice{
			ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "a", UID: "u1", ResourceVersion: rv},
			Status:     msv1.MicroserviceStatus{Rollout: &msv1.RolloutStatus{Phase: msv1.RolloutPhase(phase)}},
		}
	}
	phaseAfterRestore := func(m *statusMemo, rv, phase string) string {
		ms := at(rv, phase)
		m.restore(ms)
		return string(ms.Status.Rollout.Phase)
	}

	m := &statusMemo{}
	// Two writes in a row, the second from a copy read before the first landed.
	m.record(at("2", "Promoting"), "1") // r1 -> r2
	m.record(at("3", "Succeeded"), "1") // from the stale r1 copy: r2 -> r3
	for _, c := range []struct{ rv, want string }{
		{"1", "Succeeded"}, // older than both writes
		{"2", "Succeeded"}, // the first write, superseded by the second
		{"9", "Old"},       // someone else's change: not ours to override
		{"3", "Old"},       // the cache has caught up: its status is the truth
	} {
		if got := phaseAfterRestore(m, c.rv, "Old"); got != c.want {
			t.Errorf("copy at resourceVersion %s: phase %s, want %s", c.rv, got, c.want)
		}
	}
	// Once caught up, the old versions are forgotten, and so is the status.
	if got := phaseAfterRestore(m, "2", "Old"); got != "Old" {
		t.Errorf("after catching up: phase %s, want Old", got)
	}
	if len(m.m) != 0 {
		t.Errorf("after catching up the memo still holds %d entries", len(m.m))
	}

	other := at("1", "Old")
	other.UID = "u2"
	m.restore(other)
	if other.Status.Rollout.Phase != "Old" {
		t.Error("a recreated Microservice must not get the old one's status")
	}
}

func TestStatusMemoForgetsWhatTheCacheHas(t *testing.T) {
	ms := func(rv string) *msv1.Microservice {
		return &msv1.Microservice{
			ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "a", UID: "u1", ResourceVersion: rv},
			Status:     msv1.MicroserviceStatus{Rollout: &msv1.RolloutStatus{Phase: msv1.RolloutPhasePaused}},
		}
	}
	key := types.NamespacedName{Namespace: "ns", Name: "a"}
	held := func(m *statusMemo) bool { _, ok := m.m[key]; return ok }

	m := &statusMemo{}
	m.record(ms("2"), "1")
	m.observe(ms("1"))
	if !held(m) {
		t.Fatal("the cache delivering the version before the write must not forget the write")
	}
	m.observe(ms("2"))
	if held(m) {
		t.Fatal("the cache delivering the written version must forget it")
	}

	m.record(ms("4"), "3")
	m.observe(ms("7"))
	if held(m) {
		t.Fatal("a version later than the write (someone else's) must forget it too")
	}

	// A reconcile is running, and may hold a copy from before the write.
	m.record(ms("6"), "5")
	m.begin(key)
	m.observe(ms("6"))
	if !held(m) {
		t.Fatal("the entry must stay while a reconcile runs")
	}
	stale := ms("5")
	stale.Status.Rollout.Phase = msv1.RolloutPhaseProgressing
	m.restore(stale)
	if stale.Status.Rollout.Phase != msv1.RolloutPhasePaused {
		t.Fatalf("a running reconcile's stale copy must get the written status, got %s", stale.Status.Rollout.Phase)
	}
	m.end(key)
	if held(m) || len(m.inflight) != 0 {
		t.Fatalf("the entry must go when the reconcile ends (entries %d, in flight %d)", len(m.m), len(m.inflight))
	}

	// A write by the running reconcile itself is not yet in the cache.
	m.record(ms("9"), "8")
	m.begin(key)
	m.observe(ms("9"))
	m.record(ms("10"), "9")
	m.end(key)
	if !held(m) {
		t.Fatal("a write made after the cache caught up must be kept until the cache has it")
	}
	m.observe(ms("10"))

	// The watch event of a write often comes before the write's response.
	m.begin(key)
	m.observe(ms("12"))
	m.record(ms("12"), "11")
	if !held(m) {
		t.Fatal("the entry must stay while its reconcile runs")
	}
	m.end(key)
	if held(m) || len(m.seen) != 0 {
		t.Fatalf("a write the cache delivered before its response must go when the reconcile ends (entries %d, seen %d)", len(m.m), len(m.seen))
	}
}
