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

package traffic

import (
	"os"
	"testing"

	"sigs.k8s.io/yaml"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
)

// TestFactoryServesEveryAdmittedRouting reads the values admission allows
// for trafficRouting from the generated CRD: each must have a router of its
// own kind, so that a new value cannot land without one.
func TestFactoryServesEveryAdmittedRouting(t *testing.T) {
	data, err := os.ReadFile("../../config/crd/bases/apps.msvc.dev_microservices.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var crd map[string]any
	if err := yaml.Unmarshal(data, &crd); err != nil {
		t.Fatal(err)
	}
	values := map[string]bool{}
	var walk func(any)
	walk = func(n any) {
		switch n := n.(type) {
		case map[string]any:
			if props, ok := n["properties"].(map[string]any); ok {
				if tr, ok := props["trafficRouting"].(map[string]any); ok {
					enum, _ := tr["enum"].([]any) // the status's has none
					for _, v := range enum {
						values[v.(string)] = true
					}
				}
			}
			for _, v := range n {
				walk(v)
			}
		case []any:
			for _, v := range n {
				walk(v)
			}
		}
	}
	walk(crd)
	if len(values) == 0 {
		t.Fatal("no trafficRouting enum found in the CRD")
	}
	f := NewFactory(Deps{})
	for v := range values {
		if f.routers[msv1.TrafficRoutingType(v)] == nil {
			t.Errorf("trafficRouting %q is admitted but no router serves it: add it to kinds", v)
		}
	}
	for v := range f.routers {
		if !values[string(v)] {
			t.Errorf("a router serves trafficRouting %q, which admission refuses", v)
		}
	}
}

func TestFactoryFor(t *testing.T) {
	f := NewFactory(Deps{})
	if len(f.All()) != len(kinds) {
		t.Fatalf("%d routers for %d kinds", len(f.All()), len(kinds))
	}
	gw := f.routers[msv1.GatewayAPITrafficRouting]
	for _, tc := range []struct {
		name string
		ms   *msv1.Microservice
		want msv1.TrafficRoutingType
	}{
		{"no rollout", &msv1.Microservice{}, msv1.GatewayAPITrafficRouting},
		{"a canary that names none", &msv1.Microservice{Spec: msv1.MicroserviceSpec{Rollout: &msv1.Rollout{Canary: &msv1.Canary{}}}}, msv1.GatewayAPITrafficRouting},
		{"Mesh", &msv1.Microservice{Spec: msv1.MicroserviceSpec{Rollout: &msv1.Rollout{Canary: &msv1.Canary{TrafficRouting: msv1.MeshTrafficRouting}}}}, msv1.MeshTrafficRouting},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := RoutingOf(tc.ms); got != tc.want {
				t.Fatalf("RoutingOf = %q, want %q", got, tc.want)
			}
			// GAMMA routes are the Gateway API router's too.
			if f.For(tc.ms) != gw {
				t.Fatalf("For picked %T, want the Gateway API router", f.For(tc.ms))
			}
			if len(f.Others(tc.ms)) != 0 {
				t.Fatalf("Others = %v with a single router", f.Others(tc.ms))
			}
		})
	}
}
