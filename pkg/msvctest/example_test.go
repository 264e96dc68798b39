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
	"fmt"
	"os"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
	"github.com/msvc-dev/msvc-operator/pkg/msvctest"
)

// Check that a Microservice manifest is admitted and that the operator makes
// it Ready. Needs kube-apiserver and etcd in $KUBEBUILDER_ASSETS.
func Example() {
	env, err := msvctest.Start(msvctest.Options{RunOperator: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer func() { _ = env.Stop() }()

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ns, _ := env.CreateNamespace(ctx)
	manifest, _ := os.ReadFile("checkout.yaml") // your manifest
	if _, err := env.Apply(ctx, ns, manifest); err != nil {
		fmt.Println("refused:", err) // the API server's message says what to fix
		return
	}
	ms, err := env.WaitFor(ctx, client.ObjectKey{Namespace: ns, Name: "checkout"}, func(ms *msv1.Microservice) bool {
		_ = env.SimulateDeployments(ctx, ns) // no pods run in envtest: a stand-in
		return msvctest.Ready(ms)
	})
	fmt.Println(ms.Status.URL, err)
}
