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

// Package test renders the Helm chart with Helm's own engine and checks
// what a user would install.
package test

import (
	"bytes"
	"os"
	"sort"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"sigs.k8s.io/yaml"
)

type object map[string]any

// render renders the chart with the given values and returns its objects by "Kind/name".
func render(t *testing.T, values map[string]any) map[string]object {
	t.Helper()
	chart, err := loader.Load("..")
	if err != nil {
		t.Fatal(err)
	}
	opts := chartutil.ReleaseOptions{Name: "ops", Namespace: "msvc-system", IsInstall: true}
	vals, err := chartutil.ToRenderValues(chart, values, opts, chartutil.DefaultCapabilities)
	if err != nil {
		t.Fatal(err)
	}
	files, err := engine.Render(chart, vals)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]object{}
	for name, content := range files {
		if !strings.HasSuffix(name, ".yaml") {
			continue
		}
		for _, doc := range strings.Split(content, "\n---") {
			if strings.TrimSpace(doc) == "" {
				continue
			}
			var o object
			if err := yaml.Unmarshal([]byte(doc), &o); err != nil {
				t.Fatalf("%s does not render to valid YAML: %v\n%s", name, err, doc)
			}
			if len(o) == 0 {
				continue
			}
			out[o["kind"].(string)+"/"+o["metadata"].(map[string]any)["name"].(string)] = o
		}
	}
	return out
}

func keys(m map[string]object) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func container(t *testing.T, objs map[string]object) map[string]any {
	t.Helper()
	d, ok := objs["Deployment/ops-msvc-operator"]
	if !ok {
		t.Fatalf("no Deployment among %v", keys(objs))
	}
	spec := d["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)
	return spec["containers"].([]any)[0].(map[string]any)
}

func args(c map[string]any) string {
	var out []string
	for _, a := range c["args"].([]any) {
		out = append(out, a.(string))
	}
	return strings.Join(out, " ")
}

func TestDefaults(t *testing.T) {
	objs := render(t, nil)
	want := []string{
		"ClusterRole/ops-msvc-operator-manager", "ClusterRole/ops-msvc-operator-metrics-auth", "ClusterRole/ops-msvc-operator-metrics-reader",
		"ClusterRoleBinding/ops-msvc-operator-manager", "ClusterRoleBinding/ops-msvc-operator-metrics-auth",
		"Deployment/ops-msvc-operator", "Role/ops-msvc-operator-leader-election", "RoleBinding/ops-msvc-operator-leader-election",
		"Service/ops-msvc-operator-metrics", "ServiceAccount/ops-msvc-operator",
	}
	if got := keys(objs); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("objects = %v\nwant      %v", got, want)
	}
	c := container(t, objs)
	if c["image"] != "ghcr.io/msvc-dev/msvc-operator:0.1.0" {
		t.Errorf("image = %v", c["image"])
	}
	if a := args(c); a != "--health-probe-bind-address=:8081 --metrics-bind-address=:8443 --leader-elect" {
		t.Errorf("args = %q", a)
	}
	sc := c["securityContext"].(map[string]any)
	if sc["allowPrivilegeEscalation"] != false || sc["readOnlyRootFilesystem"] != true {
		t.Errorf("container securityContext = %v", sc)
	}
}

func TestValues(t *testing.T) {
	objs := render(t, map[string]any{
		"image":                    map[string]any{"tag": "v9"},
		"leaderElection":           map[string]any{"enabled": false},
		"defaultPrometheusAddress": "http://prometheus.monitoring:9090",
		"networkIsolation":         true,
		"monitoringNamespace":      "monitoring",
		"watchNamespaces":          []any{"shop", "billing"},
		"metrics":                  map[string]any{"enabled": false},
		"resources":                map[string]any{"limits": map[string]any{"memory": "1Gi"}},
		"alerts":                   map[string]any{"providersSecret": "msvc-alerts"},
	})
	c := container(t, objs)
	if c["image"] != "ghcr.io/msvc-dev/msvc-operator:v9" {
		t.Errorf("image = %v", c["image"])
	}
	want := "--health-probe-bind-address=:8081 --metrics-bind-address=0 --default-prometheus-address=http://prometheus.monitoring:9090 " +
		"--network-isolation --monitoring-namespace=monitoring --watch-namespaces=shop,billing --alert-providers-file=/etc/msvc-operator/alerts/providers.yaml"
	if a := args(c); a != want {
		t.Errorf("args = %q\nwant   %q", a, want)
	}
	mounts := c["volumeMounts"].([]any)
	pod := objs["Deployment/ops-msvc-operator"]["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)
	volumes := pod["volumes"].([]any)
	if len(mounts) != 1 || mounts[0].(map[string]any)["mountPath"] != "/etc/msvc-operator/alerts" ||
		volumes[0].(map[string]any)["secret"].(map[string]any)["secretName"] != "msvc-alerts" {
		t.Errorf("the alert providers Secret is not mounted: mounts %v, volumes %v", mounts, volumes)
	}
	if _, ok := objs["Role/ops-msvc-operator-leader-election"]; ok {
		t.Error("no leader election Role without leader election")
	}
	if _, ok := objs["Service/ops-msvc-operator-metrics"]; ok {
		t.Error("no metrics Service without metrics")
	}
	if got := c["resources"].(map[string]any)["limits"].(map[string]any)["memory"]; got != "1Gi" {
		t.Errorf("memory limit = %v", got)
	}
}

func TestSharding(t *testing.T) {
	objs := render(t, map[string]any{"replicaCount": 3, "shards": 6})
	c := container(t, objs)
	if a := args(c); a != "--health-probe-bind-address=:8081 --metrics-bind-address=:8443 --shards=6" {
		t.Errorf("args = %q: shards replace leader election", a)
	}
	if _, ok := objs["Role/ops-msvc-operator-leader-election"]; !ok {
		t.Error("the shard Leases need the Lease Role")
	}
	found := false
	for _, e := range c["env"].([]any) {
		found = found || e.(map[string]any)["name"] == "POD_NAMESPACE"
	}
	if !found {
		t.Errorf("env %v has no POD_NAMESPACE for the shard Leases", c["env"])
	}
	if objs["Deployment/ops-msvc-operator"]["spec"].(map[string]any)["replicas"] != float64(3) {
		t.Errorf("replicas = %v", objs["Deployment/ops-msvc-operator"]["spec"].(map[string]any)["replicas"])
	}
}

// TestGeneratedFilesAreCurrent checks that the chart ships what make
// manifests generates: the CRDs, and the ClusterRole's rules without wildcards.
func TestGeneratedFilesAreCurrent(t *testing.T) {
	for chartFile, generated := range map[string]string{
		"../crds/apps.msvc.dev_microservices.yaml":     "../../../config/crd/bases/apps.msvc.dev_microservices.yaml",
		"../crds/apps.msvc.dev_analysistemplates.yaml": "../../../config/crd/bases/apps.msvc.dev_analysistemplates.yaml",
		"../files/manager-role.yaml":                   "../../../config/rbac/role.yaml",
	} {
		a, err := os.ReadFile(chartFile)
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(generated)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a, b) {
			t.Errorf("%s differs from %s: run make manifests", chartFile, generated)
		}
	}
	role := render(t, nil)["ClusterRole/ops-msvc-operator-manager"]
	rules := role["rules"].([]any)
	if len(rules) < 5 {
		t.Fatalf("the manager's ClusterRole has %d rules", len(rules))
	}
	for _, r := range rules {
		for _, field := range []string{"apiGroups", "resources", "verbs"} {
			for _, v := range r.(map[string]any)[field].([]any) {
				if v == "*" {
					t.Errorf("wildcard in %s of %v", field, r)
				}
			}
		}
	}
}
