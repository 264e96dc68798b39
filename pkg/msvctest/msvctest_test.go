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

package msvctest_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
	"github.com/msvc-dev/msvc-operator/pkg/msvctest"
)

func start(t *testing.T, o msvctest.Options) *msvctest.Env {
	t.Helper()
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		t.Fatal("KUBEBUILDER_ASSETS is not set: run the tests with 'make test', which builds kube-apiserver and etcd")
	}
	env, err := msvctest.Start(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Error(err)
		}
	})
	return env
}

// TestShopManifests is what a platform team's test looks like: apply the
// manifests of an application, let the operator reconcile them, and check
// that every service becomes Ready with the children it should have.
func TestShopManifests(t *testing.T) {
	env := start(t, msvctest.Options{GatewayAPI: true, RunOperator: true})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ns, err := env.CreateNamespace(ctx)
	if err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob("../../samples/shop/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests: %v", err)
	}
	var names []string
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		applied, err := env.Apply(ctx, ns, data)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, o := range applied {
			names = append(names, o.GetName())
		}
	}
	for _, name := range names {
		ms, err := env.WaitFor(ctx, client.ObjectKey{Namespace: ns, Name: name}, func(ms *msv1.Microservice) bool {
			// The stand-ins play their part on every look, as the
			// dependencies let each service start.
			if err := env.SimulateDeployments(ctx, ns); err != nil {
				t.Error(err)
			}
			if err := env.SimulateGateway(ctx, ns); err != nil {
				t.Error(err)
			}
			return msvctest.Ready(ms)
		})
		if err != nil {
			t.Fatal(err)
		}
		d := &appsv1.Deployment{}
		if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, d); err != nil {
			t.Fatalf("%s has no Deployment: %v", name, err)
		}
		if got := d.Spec.Template.Spec.Containers[0].Image; got != ms.Spec.Image {
			t.Errorf("%s runs %s, want %s", name, got, ms.Spec.Image)
		}
	}
	t.Logf("%d Microservices of samples/shop Ready in namespace %s: %v", len(names), ns, names)
}

// TestRefusedManifest: a manifest the API refuses comes back with the
// server's message, which says what to fix, and nothing is created.
func TestRefusedManifest(t *testing.T) {
	env := start(t, msvctest.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ns, err := env.CreateNamespace(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_, err = env.Apply(ctx, ns, []byte(`apiVersion: apps.msvc.dev/v1alpha1
kind: Microservice
metadata:
  name: checkout
spec:
  image: ghcr.io/acme/checkout:1.0
  route:
    parentRefs: [{name: public}]
`))
	if err == nil || !strings.Contains(err.Error(), "spec.route needs at least one entry in spec.ports") {
		t.Fatalf("got %v, want the admission message about spec.ports", err)
	}
	list := &msv1.MicroserviceList{}
	if err := env.Client.List(ctx, list, client.InNamespace(ns)); err != nil || len(list.Items) != 0 {
		t.Errorf("after a refusal: %d Microservices, %v", len(list.Items), err)
	}
}
