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

package msvctest

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The embedded CRDs are copies (made by make manifests) of the generated
// Microservice CRD and of the Gateway API module's that go.mod pins.
func TestEmbeddedCRDsAreCurrent(t *testing.T) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "sigs.k8s.io/gateway-api").Output()
	if err != nil {
		t.Fatalf("finding the gateway-api module: %v", err)
	}
	gatewayAPI := filepath.Join(strings.TrimSpace(string(out)), "config", "crd", "standard")
	files, err := crds.ReadDir("crds")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 6 {
		t.Errorf("%d embedded CRDs, want the Microservice and AnalysisTemplate CRDs and 4 of the Gateway API", len(files))
	}
	for _, f := range files {
		source := filepath.Join("..", "..", "config", "crd", "bases", f.Name())
		if strings.HasPrefix(f.Name(), "gateway.networking.k8s.io_") {
			source = filepath.Join(gatewayAPI, f.Name())
		}
		want, err := os.ReadFile(source)
		if err != nil {
			t.Fatal(err)
		}
		have, _ := crds.ReadFile("crds/" + f.Name())
		if !bytes.Equal(have, want) {
			t.Errorf("pkg/msvctest/crds/%s differs from %s: run make manifests", f.Name(), source)
		}
	}
}
