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

package graph

import (
	"regexp"
	"testing"
)

func edges(m map[string][]string) func(Key) []Key {
	return func(k Key) []Key {
		var out []Key
		for _, d := range m[k.Name] {
			out = append(out, Key{Namespace: "shop", Name: d})
		}
		return out
	}
}

func TestFindCycle(t *testing.T) {
	tests := []struct {
		name  string
		graph map[string][]string
		start string
		want  string
	}{
		{"self", map[string][]string{"a": {"a"}}, "a", "a -> a"},
		{"two", map[string][]string{"a": {"b"}, "b": {"a"}}, "a", "a -> b -> a"},
		{"three", map[string][]string{"a": {"b"}, "b": {"c"}, "c": {"a"}}, "b", "b -> c -> a -> b"},
		{"four", map[string][]string{"a": {"b"}, "b": {"c"}, "c": {"d"}, "d": {"a"}}, "a", "a -> b -> c -> d -> a"},
		{"diamond is no cycle", map[string][]string{"a": {"b", "c"}, "b": {"d"}, "c": {"d"}}, "a", ""},
		{"missing node", map[string][]string{"a": {"ghost"}}, "a", ""},
		{"cycle elsewhere", map[string][]string{"a": {"b"}, "b": {"c"}, "c": {"b"}}, "a", ""},
		{"cycle through a later branch", map[string][]string{"a": {"x", "b"}, "x": {"y"}, "b": {"a"}}, "a", "a -> b -> a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := FormatCycle(FindCycle(Key{"shop", tt.start}, edges(tt.graph)), "shop")
			if got != tt.want {
				t.Fatalf("cycle = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestFindCycleAcrossNamespaces(t *testing.T) {
	a, b := Key{"shop", "a"}, Key{"billing", "a"}
	deps := map[Key][]Key{a: {b}, b: {a}}
	got := FormatCycle(FindCycle(a, func(k Key) []Key { return deps[k] }), "shop")
	if got != "a -> billing/a -> a" {
		t.Fatalf("cycle = %q: same names in two namespaces are two nodes", got)
	}
	if FindCycle(a, func(k Key) []Key {
		if k == a {
			return []Key{b}
		}
		return nil
	}) != nil {
		t.Fatal("an edge into another namespace is no cycle by itself")
	}
}

func TestFormatCycleAcrossNamespaces(t *testing.T) {
	cycle := []Key{{"shop", "a"}, {"billing", "pay"}, {"shop", "a"}}
	if got := FormatCycle(cycle, "shop"); got != "a -> billing/pay -> a" {
		t.Fatalf("FormatCycle = %q", got)
	}
}

var (
	nameRE = regexp.MustCompile(`^[a-z]([-a-z0-9]*[a-z0-9])?$`)
	envRE  = regexp.MustCompile(`^[A-Z_][A-Z0-9_]*$`)
)

func TestEnvPrefix(t *testing.T) {
	for name, want := range map[string]string{"payments": "PAYMENTS", "product-catalog": "PRODUCT_CATALOG", "a1-b2": "A1_B2"} {
		if got := EnvPrefix(name); got != want {
			t.Errorf("EnvPrefix(%q) = %q, want %q", name, got, want)
		}
	}
}

// FuzzEnvPrefix checks the naming rule on every valid Microservice name: the
// prefix is a valid variable name, and no other name yields the same prefix.
func FuzzEnvPrefix(f *testing.F) {
	for _, s := range []string{"a", "payments", "product-catalog", "a--b", "x9"} {
		f.Add(s, s+"-x")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		if !nameRE.MatchString(a) || len(a) > 56 {
			return
		}
		pa := EnvPrefix(a)
		if !envRE.MatchString(pa) {
			t.Fatalf("EnvPrefix(%q) = %q is not a valid variable name", a, pa)
		}
		if nameRE.MatchString(b) && len(b) <= 56 && a != b && EnvPrefix(b) == pa {
			t.Fatalf("%q and %q share the prefix %q", a, b, pa)
		}
	})
}
