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

package argocd

import (
	"encoding/json"
	"flag"
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
)

var update = flag.Bool("update", false, "rewrite config/argocd/argocd-cm.yaml")

func actions(t *testing.T) Actions {
	t.Helper()
	a, err := LoadActions("../../config/argocd/actions")
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func microservice(phase msv1.RolloutPhase, annotations map[string]string) *msv1.Microservice {
	ms := &msv1.Microservice{
		TypeMeta:   metav1.TypeMeta{APIVersion: msv1.GroupVersion.String(), Kind: "Microservice"},
		ObjectMeta: metav1.ObjectMeta{Name: "checkout", Namespace: "shop", Generation: 2, Annotations: annotations},
		Spec:       msv1.MicroserviceSpec{Image: "ghcr.io/acme/checkout:2.0.0"},
		Status:     msv1.MicroserviceStatus{ObservedGeneration: 2},
	}
	if phase != "" {
		ms.Status.Rollout = &msv1.RolloutStatus{Phase: phase}
	}
	return ms
}

func TestDiscovery(t *testing.T) {
	a := actions(t)
	if got, want := a.Names(), []string{"abort", "pause", "promote", "promote-full", "resume", "retry"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("actions %v, want %v", got, want)
	}
	paused := map[string]string{msv1.PausedAnnotation: "true"}
	tests := []struct {
		phase       msv1.RolloutPhase
		annotations map[string]string
		enabled     []string
	}{
		{"", nil, []string{"pause"}},
		{msv1.RolloutPhaseIdle, nil, []string{"pause"}},
		{msv1.RolloutPhaseProgressing, nil, []string{"abort", "pause", "promote-full"}},
		{msv1.RolloutPhasePaused, nil, []string{"abort", "pause", "promote", "promote-full"}},
		{msv1.RolloutPhasePaused, paused, []string{"abort", "promote", "promote-full", "resume"}},
		{msv1.RolloutPhasePromoting, nil, []string{"abort", "pause"}},
		{msv1.RolloutPhaseSucceeded, nil, []string{"pause"}},
		{msv1.RolloutPhaseAborted, nil, []string{"pause", "retry"}},
		{msv1.RolloutPhaseRolledBack, paused, []string{"resume", "retry"}},
	}
	for _, tc := range tests {
		got, err := a.Discover(microservice(tc.phase, tc.annotations))
		if err != nil {
			t.Fatal(err)
		}
		var enabled []string
		for _, n := range a.Names() {
			if _, listed := got[n]; !listed {
				t.Errorf("%s: discovery does not list %s", tc.phase, n)
			}
			if got[n] {
				enabled = append(enabled, n)
			}
		}
		if !reflect.DeepEqual(enabled, tc.enabled) {
			t.Errorf("phase %q, annotations %v: enabled %v, want %v", tc.phase, tc.annotations, enabled, tc.enabled)
		}
	}
}

// asJSON is obj as JSON decodes it, to compare with what an action returns.
func asJSON(t *testing.T, obj any) map[string]any {
	t.Helper()
	data, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func annotationsOf(obj map[string]any) map[string]any {
	meta, _ := obj["metadata"].(map[string]any)
	a, _ := meta["annotations"].(map[string]any)
	return a
}

func TestStampingActionsSetANewValueEachTime(t *testing.T) {
	a := actions(t)
	stamp := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ(-\d+)?$`)
	for name, key := range map[string]string{
		"promote": msv1.PromoteAnnotation, "promote-full": msv1.PromoteFullAnnotation,
		"abort": msv1.AbortAnnotation, "retry": msv1.RetryAnnotation,
	} {
		for _, start := range []map[string]string{nil, {"team": "payments"}} {
			in := microservice(msv1.RolloutPhasePaused, start)
			out, err := a.Run(name, in)
			if err != nil {
				t.Fatal(err)
			}
			first, _ := annotationsOf(out)[key].(string)
			if !stamp.MatchString(first) {
				t.Errorf("%s: annotation %s = %q, want a UTC timestamp", name, key, first)
			}
			// Only that annotation changed.
			want := asJSON(t, in)
			got := asJSON(t, out)
			delete(annotationsOf(got), key)
			if len(annotationsOf(got)) == 0 {
				delete(got["metadata"].(map[string]any), "annotations")
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s changed more than %s:\n got  %v\n want %v", name, key, got, want)
			}
			// Run again on its own result (within the same second, as a
			// double click does): the value must differ, or the operator
			// would not act on the second one.
			in.Annotations = map[string]string{key: first}
			again, err := a.Run(name, in)
			if err != nil {
				t.Fatal(err)
			}
			if second := annotationsOf(again)[key]; second == first {
				t.Errorf("%s: a second run kept the value %q", name, first)
			}
		}
	}
}

func TestPauseAndResume(t *testing.T) {
	a := actions(t)
	out, err := a.Run("pause", microservice(msv1.RolloutPhaseProgressing, nil))
	if err != nil {
		t.Fatal(err)
	}
	if got := annotationsOf(out)[msv1.PausedAnnotation]; got != "true" {
		t.Errorf("pause set %s to %v, want true", msv1.PausedAnnotation, got)
	}
	out, err = a.Run("resume", microservice(msv1.RolloutPhaseProgressing, map[string]string{msv1.PausedAnnotation: "true", "team": "payments"}))
	if err != nil {
		t.Fatal(err)
	}
	if got := annotationsOf(out); got[msv1.PausedAnnotation] != nil || got["team"] != "payments" {
		t.Errorf("resume left annotations %v, want only team=payments", got)
	}
}

func TestConfigMapIsCurrent(t *testing.T) {
	const path = "../../config/argocd/argocd-cm.yaml"
	cm, err := ConfigMap(script(t), actions(t))
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(path, []byte(cm), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	have, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(have) != cm {
		t.Errorf("%s is stale: run go test ./internal/argocd -run TestConfigMapIsCurrent -update", path)
	}
	if !strings.Contains(cm, "discovery.lua: |") {
		t.Errorf("the scripts are not block literals, so the ConfigMap is hard to read:\n%s", cm)
	}
}
