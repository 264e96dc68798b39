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
	"context"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
)

// microservice is a Microservice in ns that depends on deps, each "name" or
// "namespace/name"; a trailing "?" makes the dependency optional.
func microservice(ns, name string, deps ...string) *msv1.Microservice {
	ms := &msv1.Microservice{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: msv1.MicroserviceSpec{Image: name + ":1"}}
	for _, d := range deps {
		dep := msv1.Dependency{Name: d}
		if n, ok := strings.CutSuffix(dep.Name, "?"); ok {
			dep.Name, dep.Optional = n, true
		}
		if depNs, n, ok := strings.Cut(dep.Name, "/"); ok {
			dep.Namespace, dep.Name = depNs, n
		}
		ms.Spec.Dependencies = append(ms.Spec.Dependencies, dep)
	}
	return ms
}

func TestCycleThrough(t *testing.T) {
	tests := []struct {
		name string
		all  []*msv1.Microservice
		want string
	}{
		{"no dependencies", []*msv1.Microservice{microservice("shop", "a")}, ""},
		{"a chain is no cycle", []*msv1.Microservice{
			microservice("shop", "a", "b"), microservice("shop", "b", "c"), microservice("shop", "c"),
		}, ""},
		{"three in a ring", []*msv1.Microservice{
			microservice("shop", "a", "b"), microservice("shop", "b", "c"), microservice("shop", "c", "a"),
		}, "a -> b -> c -> a"},
		{"an optional edge closes a cycle too", []*msv1.Microservice{
			microservice("shop", "a", "b"), microservice("shop", "b", "a?"),
		}, "a -> b -> a"},
		{"a missing dependency ends the walk", []*msv1.Microservice{
			microservice("shop", "a", "ghost", "b"), microservice("shop", "b", "a"),
		}, "a -> b -> a"},
		{"a cycle downstream that a is not on", []*msv1.Microservice{
			microservice("shop", "a", "b"), microservice("shop", "b", "c"), microservice("shop", "c", "b"),
		}, ""},
		{"members of other namespaces by namespace/name", []*msv1.Microservice{
			microservice("shop", "a", "finance/ledger"), microservice("finance", "ledger", "shop/a"),
		}, "a -> finance/ledger -> a"},
		{"the same name in another namespace is another service", []*msv1.Microservice{
			microservice("shop", "a", "b"), microservice("shop", "b"), microservice("other", "b", "shop/a"),
		}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			all := make([]msv1.Microservice, len(tt.all))
			for i, ms := range tt.all {
				all[i] = *ms
			}
			if got := cycleThrough(all, tt.all[0]); got != tt.want {
				t.Errorf("cycleThrough = %q, want %q", got, tt.want)
			}
		})
	}
}

func fakeClient(t *testing.T, objs ...client.Object) client.Client {
	t.Helper()
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	if err := msv1.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	return fake.NewClientBuilder().WithScheme(s).WithObjects(objs...).Build()
}

func TestGetNamesTheDependencyCycle(t *testing.T) {
	c := fakeClient(t,
		microservice("shop", "a", "b"), microservice("shop", "b", "c"), microservice("shop", "c", "a"),
		microservice("shop", "d", "a"))
	for _, tt := range []struct{ name, want string }{
		{"a", "│  Cycle: a -> b -> c -> a\n"},
		{"b", "│  Cycle: b -> c -> a -> b\n"},
		{"d", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			if err := Get(context.Background(), c, "shop", tt.name, Printer{Out: &out}); err != nil {
				t.Fatal(err)
			}
			tree := out.String()
			if tt.want == "" {
				if strings.Contains(tree, "Cycle:") {
					t.Errorf("%s is on no cycle, yet:\n%s", tt.name, tree)
				}
				return
			}
			if !strings.Contains(tree, tt.want) {
				t.Errorf("want %q in:\n%s", tt.want, tree)
			}
		})
	}

	t.Run("coloured on a terminal", func(t *testing.T) {
		var out bytes.Buffer
		if err := Get(context.Background(), c, "shop", "a", Printer{Out: &out, Color: true}); err != nil {
			t.Fatal(err)
		}
		if want := "\033[31mCycle:\033[0m a -> b -> c -> a\n"; !strings.Contains(out.String(), want) {
			t.Errorf("want %q in:\n%s", want, out.String())
		}
	})

	t.Run("dependents still listed", func(t *testing.T) {
		var out bytes.Buffer
		if err := Get(context.Background(), c, "shop", "a", Printer{Out: &out}); err != nil {
			t.Fatal(err)
		}
		if want := "└─ dependents: c, d\n"; !strings.HasSuffix(out.String(), want) {
			t.Errorf("want the tree to end with %q:\n%s", want, out.String())
		}
	})
}
