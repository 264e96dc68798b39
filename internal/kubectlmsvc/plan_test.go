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
	"bytes"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
)

func planned(t *testing.T, ms *msv1.Microservice, live *Live) string {
	t.Helper()
	var b bytes.Buffer
	if err := Plan(ms, live, &b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func canaryCheckout(image string) *msv1.Microservice {
	return &msv1.Microservice{
		ObjectMeta: metav1.ObjectMeta{Name: "checkout", Namespace: "shop"},
		Spec: msv1.MicroserviceSpec{
			Image:    image,
			Replicas: ptr.To[int32](4),
			Ports:    []msv1.ServicePort{{Name: "http", Port: 80}},
			Route:    &msv1.Route{ParentRefs: []msv1.ParentReference{{Name: "public", Namespace: "gateway-system"}}, Hostnames: []string{"shop.example.com"}},
			Rollout: &msv1.Rollout{Strategy: msv1.CanaryStrategy, Canary: &msv1.Canary{
				Steps: []msv1.CanaryStep{
					{SetWeight: ptr.To[int32](20)},
					{Pause: &msv1.PauseStep{}},
					{Analysis: &msv1.AnalysisStep{}},
					{SetWeight: ptr.To[int32](50)},
					{Pause: &msv1.PauseStep{Duration: &metav1.Duration{Duration: 30 * time.Second}}},
				},
				Analysis: &msv1.Analysis{Interval: &metav1.Duration{Duration: 2 * time.Minute}},
			}},
		},
	}
}

func TestPlanOfANewVersion(t *testing.T) {
	got := planned(t, canaryCheckout("ghcr.io/acme/checkout:2.0.0"), &Live{Microservice: canaryCheckout("ghcr.io/acme/checkout:1.0.0"), StableReplicas: 4})
	want := `Rollout: a canary in 5 steps, then a promotion (stable track at 4 pods now).
  STEP  ACTION        TRAFFIC stable/canary  CANARY PODS  TAKES
  1/5   setWeight 20  80/20                  1            until the pods are ready (rolled back past 10m0s)
  2/5   manual gate   80/20                  1            until promoted
  3/5   analysis      80/20                  1            at least 6m0s (3 measurements, 2m0s apart)
  4/5   setWeight 50  50/50                  2            until the pods are ready (rolled back past 10m0s)
  5/5   pause         50/50                  2            30s
  -     promotion     50/50 then 100/0       2 then 0     until the stable Deployment has rolled out (rolled back past 10m0s)
Duration: at least 6m30s, plus 1 manual gate(s), plus the pods' start-up at each weight and at the promotion.
`
	if !strings.Contains(got, want) {
		t.Errorf("plan:\n%s\nwant it to contain:\n%s", got, want)
	}
	// Column widths follow the longest name: compare words.
	words := func(s string) string { return strings.Join(strings.Fields(s), " ") }
	for _, object := range []string{
		"Deployment checkout replicas: 4, image ghcr.io/acme/checkout:2.0.0",
		"Deployment checkout-canary replicas: 0 until a new version's canary starts",
		"Service checkout-stable, checkout-canary one track each",
		"HTTPRoute checkout parents gateway-system/public, path /, hosts shop.example.com; weighs the stable and canary Services",
		"PodDisruptionBudget checkout pods of both tracks",
	} {
		if !strings.Contains(words(got), object) {
			t.Errorf("plan lacks %q:\n%s", object, got)
		}
	}
}

func TestPlanWithoutARollout(t *testing.T) {
	ms := canaryCheckout("ghcr.io/acme/checkout:2.0.0")
	for _, tc := range []struct {
		name string
		live *Live
		want string
	}{
		{"not in the cluster", nil, "Rollout: none. A new Microservice's first version starts on the stable track directly."},
		{"same template", &Live{Microservice: canaryCheckout("ghcr.io/acme/checkout:2.0.0"), StableReplicas: 4}, "Rollout: none. The pod template is the live one"},
	} {
		if got := planned(t, ms, tc.live); !strings.Contains(got, tc.want) {
			t.Errorf("%s: plan\n%s\nwant %q", tc.name, got, tc.want)
		}
	}
	rolling := canaryCheckout("ghcr.io/acme/checkout:2.0.0")
	rolling.Spec.Rollout = nil
	rolling.Spec.Route = nil
	got := planned(t, rolling, &Live{Microservice: canaryCheckout("ghcr.io/acme/checkout:1.0.0"), StableReplicas: 4})
	if !strings.Contains(got, "Rollout: the Deployment's rolling update replaces the pods of checkout") || strings.Contains(got, "checkout-canary") {
		t.Errorf("rolling update plan:\n%s", got)
	}
}

func TestPlanOfABlueGreen(t *testing.T) {
	blueGreen := func(image string) *msv1.Microservice {
		ms := canaryCheckout(image)
		ms.Spec.Rollout = &msv1.Rollout{Strategy: msv1.BlueGreenStrategy, BlueGreen: &msv1.BlueGreen{AutoPromotion: ptr.To(false)}}
		return ms
	}
	got := planned(t, blueGreen("ghcr.io/acme/checkout:2.0.0"), &Live{Microservice: blueGreen("ghcr.io/acme/checkout:1.0.0"), StableReplicas: 4})
	// The preview runs the stable track's 4 pods from the start; the
	// switch is one step from 0 to 100.
	want := `Rollout: a canary in 3 steps, then a promotion (stable track at 4 pods now).
  STEP  ACTION         TRAFFIC stable/canary  CANARY PODS  TAKES
  1/3   manual gate    100/0                  4            until promoted
  2/3   setWeight 100  0/100                  4            until the pods are ready (rolled back past 10m0s)
  3/3   pause          0/100                  4            30s
  -     promotion      0/100 then 100/0       4 then 0     until the stable Deployment has rolled out (rolled back past 10m0s)
`
	if !strings.Contains(got, want) {
		t.Errorf("plan:\n%s\nwant it to contain:\n%s", got, want)
	}
}
