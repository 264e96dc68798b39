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
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
)

var _ = Describe("The roles for people (config/rbac)", func() {
	It("let an editor create and change Microservices and AnalysisTemplates in the namespace it is bound in, and a viewer only read them", func() {
		admin, err := client.New(env.cfg, client.Options{Scheme: scheme})
		Expect(err).NotTo(HaveOccurred())
		ns, other := newNamespace(), newNamespace()
		editorRole := createClusterRoleFromFile(admin, "microservice_editor_role.yaml")
		viewerRole := createClusterRoleFromFile(admin, "microservice_viewer_role.yaml")
		// As a team would: each ClusterRole bound in one namespace.
		person := func(name, role string) client.Client {
			b := &rbacv1.RoleBinding{
				ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
				RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role},
				Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: name}},
			}
			Expect(admin.Create(ctx, b)).To(Succeed())
			u, err := env.testEnv.AddUser(envtest.User{Name: name}, nil)
			Expect(err).NotTo(HaveOccurred())
			c, err := client.New(u.Config(), client.Options{Scheme: scheme})
			Expect(err).NotTo(HaveOccurred())
			return c
		}
		alice, bob := person("alice", editorRole.Name), person("bob", viewerRole.Name)
		template := func(namespace string) *msv1.AnalysisTemplate {
			t := &msv1.AnalysisTemplate{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "success-rate"}}
			t.Spec.Analysis = msv1.Analysis{Metrics: []msv1.Metric{{
				Name: "success-rate", Template: msv1.MetricTemplate("request-success-rate"),
				SuccessCondition: msv1.SuccessCondition{Min: ptr.To("0.99")},
			}}}
			return t
		}

		By("the editor writes a template and a Microservice that uses it, and changes both")
		t := template(ns)
		Expect(alice.Create(ctx, t)).To(Succeed())
		ms := withCanary(withRoute(checkout(ns)), weightStep(20), msv1.CanaryStep{Analysis: &msv1.AnalysisStep{}})
		ms.Spec.Rollout.Canary.AnalysisTemplate = &msv1.AnalysisTemplateRef{Name: t.Name}
		Expect(alice.Create(ctx, ms)).To(Succeed())
		t.Spec.Analysis.Count = ptr.To[int32](5)
		Expect(alice.Update(ctx, t)).To(Succeed())
		Expect(alice.Patch(ctx, ms, client.RawPatch("application/merge-patch+json", []byte(`{"spec":{"replicas":3}}`)))).To(Succeed())
		Expect(apierrors.IsForbidden(alice.Create(ctx, template(other)))).To(BeTrue(), "the editor is bound in one namespace only")

		By("the viewer reads them and can change nothing")
		Expect(bob.Get(ctx, client.ObjectKeyFromObject(t), &msv1.AnalysisTemplate{})).To(Succeed())
		Expect(bob.List(ctx, &msv1.AnalysisTemplateList{}, client.InNamespace(ns))).To(Succeed())
		Expect(bob.Get(ctx, client.ObjectKeyFromObject(ms), &msv1.Microservice{})).To(Succeed())
		second := template(ns)
		second.Name = "latency"
		Expect(apierrors.IsForbidden(bob.Create(ctx, second))).To(BeTrue())
		Expect(apierrors.IsForbidden(bob.Delete(ctx, t))).To(BeTrue())
		Expect(apierrors.IsForbidden(bob.Delete(ctx, ms))).To(BeTrue())

		By("the editor deletes them")
		Expect(alice.Delete(ctx, ms)).To(Succeed())
		Expect(alice.Delete(ctx, t)).To(Succeed())
	})
})
