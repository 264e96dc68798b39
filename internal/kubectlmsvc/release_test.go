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

package kubectlmsvc

import (
	"strings"
	"testing"

	"k8s.io/utils/ptr"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
)

func member(name string, state msv1.ReleaseMemberState, phase msv1.RolloutPhase, deps ...string) msv1.Microservice {
	ms := microservice("shop", name, deps...)
	ms.Labels = map[string]string{msv1.ReleaseLabel: "checkout-v2"}
	ms.Spec.Rollout = &msv1.Rollout{Strategy: msv1.CanaryStrategy, Canary: &msv1.Canary{Steps: []msv1.CanaryStep{
		{SetWeight: ptr.To[int32](20)}, {Pause: &msv1.PauseStep{}}}}}
	if state != "" {
		ms.Status.Rollout = &msv1.RolloutStatus{Phase: phase, CurrentStep: ptr.To[int32](1), CanaryWeight: 20,
			Release: &msv1.ReleaseMemberStatus{Name: "checkout-v2", State: state}}
	}
	return *ms
}

func TestRenderRelease(t *testing.T) {
	storefront := member("storefront", msv1.ReleaseProgressing, msv1.RolloutPhaseProgressing, "checkout")
	checkout := member("checkout", msv1.ReleasePassed, msv1.RolloutPhasePaused, "ledger")
	checkout.Status.Rollout.Release.Message = "Passed every step; held for release checkout-v2, waiting for shop/storefront to pass the canary steps"
	ledger := member("ledger", msv1.ReleasePromoted, msv1.RolloutPhaseSucceeded)
	tax := member("tax", "", "")
	got := RenderRelease("checkout-v2", []msv1.Microservice{storefront, tax, checkout, ledger}, Printer{})
	want := []string{
		"release checkout-v2: 4 members, 3 changed, Progressing",
		"├─ shop/ledger",
		"├─ shop/tax",
		"├─ shop/checkout",
		"│    calls shop/ledger (stable)",
		"│    Passed every step; held for release checkout-v2",
		"└─ shop/storefront",
		"     calls shop/checkout (its canary, from this canary)",
	}
	at := 0
	for _, w := range want {
		i := strings.Index(got[at:], w)
		if i < 0 {
			t.Fatalf("missing %q after position %d, in order:\n%s", w, at, got)
		}
		at += i + len(w)
	}
	if !strings.Contains(got, "shop/checkout                Passed") || !strings.Contains(got, "shop/tax                     unchanged") {
		t.Errorf("each member's state in its column:\n%s", got)
	}

	// A waiting member's status still has its last rollout's phase and
	// analysis: they are not drawn as if they were the release's.
	waiting := member("storefront", msv1.ReleaseWaiting, msv1.RolloutPhaseRolledBack, "checkout")
	waiting.Status.Rollout.Analysis = &msv1.AnalysisStatus{Measurements: 2, Failures: 2}
	got = RenderRelease("checkout-v2", []msv1.Microservice{waiting, checkout, ledger}, Printer{})
	if strings.Contains(got, "RolledBack") || strings.Contains(got, "analysis") {
		t.Errorf("a waiting member drawn with its last rollout's phase or analysis:\n%s", got)
	}

	checkout.Status.Rollout.Release = &msv1.ReleaseMemberStatus{Name: "checkout-v2", State: msv1.ReleaseRolledBack, FailedMember: "shop/checkout"}
	if got := RenderRelease("checkout-v2", []msv1.Microservice{storefront, checkout, ledger}, Printer{}); !strings.HasPrefix(got, "release checkout-v2: 3 members, 3 changed, RolledBack (shop/checkout failed)") {
		t.Errorf("a failed release names the member that failed:\n%s", got)
	}
}
