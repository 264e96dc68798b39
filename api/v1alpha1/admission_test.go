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

package v1alpha1_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
	"github.com/msvc-dev/msvc-operator/pkg/msvctest"
)

// TestAdmission runs the CRD's schema and validation rules on a real API
// server (no operator): every shipped manifest, and one Microservice that
// uses every optional part of the rollout API at once, are admitted as
// written. What admission refuses, and the message, is the bad input
// catalogue's (internal/controller/badinput_test.go, docs/bad-input.md),
// which also needs the operator for the inputs admission accepts.
func TestAdmission(t *testing.T) {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		t.Fatal("KUBEBUILDER_ASSETS is not set: run the tests with 'make test', which builds kube-apiserver and etcd")
	}
	env, err := msvctest.Start(msvctest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Error(err)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	t.Run("every shipped manifest", func(t *testing.T) {
		files, _ := filepath.Glob("../../samples/*/*.yaml")
		more, _ := filepath.Glob("../../config/samples/apps_*.yaml")
		templates, _ := filepath.Glob("../../config/analysistemplates/*.yaml")
		files = append(append(files, more...), templates...)
		if len(files) < 10 {
			t.Fatalf("found only %d manifests", len(files))
		}
		ns, err := env.CreateNamespace(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := env.Apply(ctx, ns, data); err != nil {
				t.Errorf("%s: %v", f, err)
			}
		}
	})

	t.Run("every optional part of the rollout API at once", func(t *testing.T) {
		ns, err := env.CreateNamespace(ctx)
		if err != nil {
			t.Fatal(err)
		}
		ms := &msv1.Microservice{}
		ms.Name, ms.Namespace = "checkout", ns
		ms.Spec = msv1.MicroserviceSpec{
			Image: "ghcr.io/acme/checkout:2.0.0",
			Ports: []msv1.ServicePort{{Name: "http", Port: 80}},
			Route: &msv1.Route{ParentRefs: []msv1.ParentReference{{Name: "public", Namespace: "gateway-system"}}},
			Rollout: &msv1.Rollout{Strategy: msv1.CanaryStrategy, Canary: &msv1.Canary{
				TrafficRouting: msv1.MeshTrafficRouting,
				Matches: []msv1.CanaryMatch{
					{Headers: []msv1.HeaderMatch{{Name: "X-Canary", Value: "always"}, {Name: "X-Team", Value: "^shop-.*", Type: "RegularExpression"}}},
					{Cookie: &msv1.CookieMatch{Name: "canary", Value: "yes"}},
				},
				Alerts: []msv1.RolloutAlert{{Provider: "shop-slack"}, {Provider: "oncall", Severity: msv1.AlertSeverityWarning}},
				Webhooks: []msv1.Webhook{
					{Name: "approve", Type: msv1.WebhookConfirmRollout, URL: "https://approvals.example.com/gate/check", Interval: &metav1.Duration{Duration: time.Minute}},
					{Name: "load", Type: msv1.WebhookRollout, URL: "http://flagger-loadtester.test/", Timeout: &metav1.Duration{Duration: 30 * time.Second},
						Retries: ptr.To[int32](0), Metadata: map[string]string{"cmd": "hey -z 1m -q 10 -c 2 http://checkout-canary.shop/"}},
				},
				Steps: []msv1.CanaryStep{{SetWeight: ptr.To[int32](10)}, {Analysis: &msv1.AnalysisStep{}}, {Pause: &msv1.PauseStep{}}},
				Analysis: &msv1.Analysis{
					Provider: &msv1.MetricProvider{Web: &msv1.WebProvider{
						URL: "https://metrics.example.com/v?q={{ .Query }}", JSONPath: "{.data.value}",
						Headers: []msv1.HTTPHeader{{Name: "X-Api-Key", Value: "team-shop"}},
					}},
					Metrics: []msv1.Metric{{
						Name: "error-rate", Query: `errors{track="{{ .Track }}"}`,
						SuccessCondition: msv1.SuccessCondition{RelativeTo: msv1.RelativeToStable, Max: ptr.To("0.01")},
					}},
				},
			}},
		}
		if err := env.Client.Create(ctx, ms); err != nil {
			t.Fatalf("refused: %v", err)
		}
		got := &msv1.Microservice{}
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(ms), got); err != nil {
			t.Fatal(err)
		}
		// Defaults the schema fills in.
		if got.Spec.Rollout.Canary.Alerts[0].Severity != msv1.AlertSeverityInfo || got.Spec.Rollout.Canary.Matches[0].Headers[0].Type != "Exact" {
			t.Errorf("defaults not applied: %+v", got.Spec.Rollout.Canary)
		}
		c := got.Spec.Rollout.Canary
		if c.TrafficRouting != msv1.MeshTrafficRouting || c.Matches[1].Cookie.Value != "yes" || c.Analysis.Provider.Web.JSONPath != "{.data.value}" ||
			c.Analysis.Metrics[0].SuccessCondition.RelativeTo != msv1.RelativeToStable || c.Webhooks[1].Metadata["cmd"] == "" || c.Webhooks[1].Retries == nil {
			t.Errorf("the API server dropped a field: %+v", c)
		}
	})
}
