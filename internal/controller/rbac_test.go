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
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/yaml"
)

// The roles the operator ships, in config/rbac and in the Helm chart, hold
// no wildcard and no right to Secrets beyond reading them. The operator
// watches Secrets metadata-only to roll pods out when a Secret they read
// changes; the envtest spec "Secret values" proves it never receives their
// data. Nothing else may be granted on Secrets without a feature that needs
// it and a line in docs/security.md.

// secretVerbs are the only verbs any shipped role may hold on Secrets.
var secretVerbs = []string{"get", "list", "watch"}

// role is the part of a Role or ClusterRole these checks read.
type role struct {
	Kind     string `json:"kind"`
	Metadata struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Rules []rbacv1.PolicyRule `json:"rules"`
}

func (r role) String() string { return r.Kind + "/" + r.Metadata.Name }

// ruleViolations lists what a role grants that the operator must not ship.
func ruleViolations(r role) []string {
	var out []string
	for i, rule := range r.Rules {
		lists := map[string][]string{
			"apiGroups": rule.APIGroups, "resources": rule.Resources, "verbs": rule.Verbs,
			"resourceNames": rule.ResourceNames, "nonResourceURLs": rule.NonResourceURLs,
		}
		for _, field := range []string{"apiGroups", "resources", "verbs", "resourceNames", "nonResourceURLs"} {
			for _, v := range lists[field] {
				if strings.Contains(v, "*") {
					out = append(out, fmt.Sprintf("%s rule %d: wildcard %q in %s", r, i, v, field))
				}
			}
		}
		if slices.Contains(rule.APIGroups, "") && slices.Contains(rule.Resources, "secrets") {
			for _, v := range rule.Verbs {
				if !slices.Contains(secretVerbs, v) {
					out = append(out, fmt.Sprintf("%s rule %d: verb %q on secrets", r, i, v))
				}
			}
		}
	}
	return out
}

// rolesIn reads the Roles and ClusterRoles of a multi-document YAML file.
func rolesIn(t *testing.T, data []byte) []role {
	t.Helper()
	var out []role
	for _, doc := range regexp.MustCompile(`(?m)^---\s*$`).Split(string(data), -1) {
		var r role
		if err := yaml.Unmarshal([]byte(doc), &r); err != nil {
			t.Fatalf("%v in\n%s", err, doc)
		}
		if r.Kind == "Role" || r.Kind == "ClusterRole" {
			out = append(out, r)
		}
	}
	return out
}

// templateActions are Helm template actions, and templateOnlyLine a line that
// held nothing else.
var (
	templateActions  = regexp.MustCompile(`\{\{.*?\}\}`)
	templateOnlyLine = regexp.MustCompile(`(?m)^\s*\n`)
)

// withoutTemplateActions turns a Helm template into the YAML it renders to,
// less what the actions would insert: enough to read the rules the template
// writes out literally.
func withoutTemplateActions(data []byte) []byte {
	return templateOnlyLine.ReplaceAll(templateActions.ReplaceAll(data, nil), nil)
}

func readRoles(t *testing.T, path string, stripTemplate bool) []role {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if stripTemplate {
		data = withoutTemplateActions(data)
	}
	return rolesIn(t, data)
}

func TestShippedRolesHoldNoWildcardAndOnlyReadSecrets(t *testing.T) {
	root := filepath.Join("..", "..")
	var roles []role
	files, err := filepath.Glob(filepath.Join(root, "config", "rbac", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		roles = append(roles, readRoles(t, f, false)...)
	}
	chartRole := readRoles(t, filepath.Join(root, "charts", "msvc-operator", "files", "manager-role.yaml"), false)
	chartTemplate := readRoles(t, filepath.Join(root, "charts", "msvc-operator", "templates", "rbac.yaml"), true)
	roles = append(append(roles, chartRole...), chartTemplate...)

	// Every role is read: the generated one, leader election, metrics
	// auth and reader, editor and viewer, and the chart's four.
	names := map[string]bool{}
	for _, r := range roles {
		names[r.String()] = true
	}
	for _, want := range []string{"ClusterRole/manager-role", "Role/leader-election-role", "ClusterRole/metrics-auth-role",
		"ClusterRole/metrics-reader", "ClusterRole/microservice-editor-role", "ClusterRole/microservice-viewer-role"} {
		if !names[want] {
			t.Errorf("%s was not read; read %v", want, names)
		}
	}
	if len(chartTemplate) != 4 {
		t.Errorf("read %d roles from the chart's rbac.yaml, want 4: %v", len(chartTemplate), chartTemplate)
	}

	for _, r := range roles {
		for _, v := range ruleViolations(r) {
			t.Error(v)
		}
	}

	// The chart grants the manager exactly what make manifests generates.
	generated := readRoles(t, filepath.Join(root, "config", "rbac", "role.yaml"), false)
	if len(generated) != 1 || len(chartRole) != 1 || !reflect.DeepEqual(generated[0].Rules, chartRole[0].Rules) {
		t.Errorf("charts/msvc-operator/files/manager-role.yaml differs from config/rbac/role.yaml")
	}

	// The manager reads Secrets, for the metadata-only watch, and may not
	// lose that without the tests noticing either.
	var secretRules int
	for _, rule := range generated[0].Rules {
		if slices.Contains(rule.Resources, "secrets") {
			secretRules++
			if !slices.Equal(rule.Verbs, secretVerbs) {
				t.Errorf("the manager's verbs on secrets = %v, want %v", rule.Verbs, secretVerbs)
			}
		}
	}
	if secretRules != 1 {
		t.Errorf("the manager has %d rules on secrets, want 1", secretRules)
	}
}

func TestRuleViolations(t *testing.T) {
	tests := []struct {
		name string
		rule rbacv1.PolicyRule
		want int
	}{
		{"reading secrets", rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"get", "list", "watch"}}, 0},
		{"writing services", rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"services"}, Verbs: []string{"create", "patch", "delete"}}, 0},
		{"a wildcard verb", rbacv1.PolicyRule{APIGroups: []string{"apps"}, Resources: []string{"deployments"}, Verbs: []string{"*"}}, 1},
		{"a wildcard group and resource", rbacv1.PolicyRule{APIGroups: []string{"*"}, Resources: []string{"*"}, Verbs: []string{"get"}}, 2},
		{"a subresource wildcard", rbacv1.PolicyRule{APIGroups: []string{"apps"}, Resources: []string{"deployments/*"}, Verbs: []string{"get"}}, 1},
		{"a wildcard URL", rbacv1.PolicyRule{NonResourceURLs: []string{"/metrics/*"}, Verbs: []string{"get"}}, 1},
		{"writing secrets", rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"configmaps", "secrets"}, Verbs: []string{"get", "update", "delete"}}, 2},
		{"a Secret kind of another group", rbacv1.PolicyRule{APIGroups: []string{"example.com"}, Resources: []string{"secrets"}, Verbs: []string{"create"}}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := role{Kind: "ClusterRole", Rules: []rbacv1.PolicyRule{tt.rule}}
			if got := ruleViolations(r); len(got) != tt.want {
				t.Errorf("violations = %q, want %d", got, tt.want)
			}
		})
	}
}

func TestWithoutTemplateActions(t *testing.T) {
	in := `{{- if .Values.metrics.enabled }}
---
kind: ClusterRole
metadata:
  name: {{ include "x.fullname" . }}-reader
  labels:
    {{- include "x.labels" . | nindent 4 }}
rules:
- nonResourceURLs: ["*"]
  verbs: [get]
{{- end }}
`
	roles := rolesIn(t, withoutTemplateActions([]byte(in)))
	if len(roles) != 1 || roles[0].Metadata.Name != "-reader" || len(ruleViolations(roles[0])) != 1 {
		t.Fatalf("roles = %+v", roles)
	}
}
