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

package analysis

import (
	"os"
	"path/filepath"
	"testing"

	"sigs.k8s.io/yaml"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
)

// Every AnalysisTemplate shipped in config/analysistemplates asks only for
// metric templates its implementation provides, and its own queries render
// with its arguments' defaults.
func TestShippedAnalysisTemplatesRender(t *testing.T) {
	files, err := filepath.Glob("../../config/analysistemplates/*.yaml")
	if err != nil || len(files) < 4 {
		t.Fatalf("found %v (%v)", files, err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var at msv1.AnalysisTemplate
		if err := yaml.UnmarshalStrict(data, &at); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		impl := Implementation(at.Spec.Analysis.Implementation)
		for _, m := range at.Spec.Analysis.Metrics {
			if m.Template == "" {
				if _, err := RenderQuery(m.Query, QueryVars{Name: "checkout", Namespace: "shop", Track: "canary", Interval: "60s", Args: argsOf(at)}); err != nil {
					t.Errorf("%s: metric %s: %v", f, m.Name, err)
				}
				continue
			}
			if _, err := TemplateQuery(impl, Template(m.Template), Target{Namespace: "shop", Service: "checkout-canary", Workload: "checkout-canary", Window: "60s"}); err != nil {
				t.Errorf("%s: metric %s: %v", f, m.Name, err)
			}
		}
	}
}

func argsOf(at msv1.AnalysisTemplate) map[string]string {
	out := map[string]string{}
	for _, a := range at.Spec.Args {
		if a.Value != nil {
			out[a.Name] = *a.Value
		}
	}
	return out
}
