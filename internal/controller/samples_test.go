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
		dirs, err := filepath.Glob("../../samples/*")
		Expect(err).NotTo(HaveOccurred())
		dirs = append(dirs, "../../config/samples")
		total := 0
		for _, dir := range dirs {
			files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
			Expect(err).NotTo(HaveOccurred())
			total += applySamples(files)
		}
		Expect(total).To(BeNumerically(">=", 15))
	})
})

// applySamples creates the Microservices of one sample application in a
// namespace of their own and waits for each one's Deployment.
func applySamples(files []string) int {
	ns := newNamespace()
	n := 0
	for _, f := range files {
		if filepath.Base(f) == "kustomization.yaml" {
			continue
		}
		n++
		data, err := os.ReadFile(f)
		Expect(err).NotTo(HaveOccurred())
		ms := &msv1.Microservice{}
		Expect(yaml.UnmarshalStrict(data, ms)).To(Succeed(), f)
		ms.Namespace = ns
		Expect(k8sClient.Create(ctx, ms)).To(Succeed(), f)
		getChild(Default, ms, &appsv1.Deployment{})
	}
	return n
}
