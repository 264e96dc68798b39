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
	"os"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	"sigs.k8s.io/yaml"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
)

var _ = Describe("The samples", func() {
	It("are accepted by the API server and reconciled", func() {
		var files []string
		for _, pattern := range []string{"../../samples/*/*.yaml", "../../config/samples/apps_*.yaml"} {
			matches, err := filepath.Glob(pattern)
			Expect(err).NotTo(HaveOccurred())
			files = append(files, matches...)
		}
		Expect(len(files)).To(BeNumerically(">=", 4))

		ns := newNamespace()
		for _, f := range files {
			data, err := os.ReadFile(f)
			Expect(err).NotTo(HaveOccurred())
			ms := &msv1.Microservice{}
			Expect(yaml.UnmarshalStrict(data, ms)).To(Succeed(), f)
			if ms.Name == "checkout" {
				ms.Name = "checkout-sample"
			}
			ms.Namespace = ns
			Expect(k8sClient.Create(ctx, ms)).To(Succeed(), f)
			getChild(Default, ms, &appsv1.Deployment{})
		}
	})
})
