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
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
)

// These faults break the control plane itself, so each runs on an API
// server of its own.

// useEnv makes the suite's helpers (which use env and k8sClient) talk to e
// for the rest of the spec.
func useEnv(e *operatorEnv) {
	savedEnv, savedClient := env, k8sClient
	c, err := client.New(e.cfg, client.Options{Scheme: scheme})
	Expect(err).NotTo(HaveOccurred())
	env, k8sClient = e, c
	// The suite's manager would go on reconciling what earlier specs left
	// behind, and its reconciles would count in this spec's metrics (they
	// share the registry): it rests until the spec ends.
	savedEnv.stopManager()
	DeferCleanup(func() {
		env, k8sClient = savedEnv, savedClient
		savedEnv.startManager()
	})
}

var _ = Describe("The API server restarting in the middle of a canary", func() {
	It("loses no rollout state: the operator reconnects, and the next promote takes exactly one step", func() {
		// Its own certificates directory, so that a restarted kube-apiserver
		// serves with the same certificates on the same port, as a real
		// restart does.
		certs := GinkgoT().TempDir()
		e := startOperatorEnv(append([]string{projectCRDs()}, gatewayAPICRDs()...), func(t *envtest.Environment) {
			t.ControlPlane.GetAPIServer().CertDir = certs
			// Stop sends SIGTERM, and SIGKILL after this: with the
			// operator's watches open, the restart is a crash.
			t.ControlPlane.GetAPIServer().StopTimeout = 2 * time.Second
		})
		DeferCleanup(e.Stop)
		useEnv(e)

		ms := withCanary(withRoute(checkout(newNamespace())), weightStep(20), manualGate(), weightStep(50), manualGate())
		ms.Spec.Replicas = ptr.To[int32](4)
		guard, rec := canaryAtFirstGate(ms, 20)
		rec.stop()
		guard.stop()
		before := rolloutStatus(ms)()
		errorsBefore := reconcileErrors()

		By("stopping kube-apiserver for about 5 seconds (etcd keeps the data)")
		apiServer := e.testEnv.ControlPlane.GetAPIServer()
		if err := apiServer.Stop(); err != nil {
			Expect(err).To(MatchError(ContainSubstring("timeout waiting for process kube-apiserver to stop")), "killed after the stop timeout")
		}
		time.Sleep(3 * time.Second)
		Expect(apiServer.Start()).To(Succeed())
		restartedAt := time.Now()

		By("checking that the operator is still running and resumes where it was")
		select {
		case <-e.running.done:
			Fail(fmt.Sprintf("the manager exited while the API server was down: %v", e.running.err))
		default:
		}
		guard = guardTraffic(ms)
		DeferCleanup(guard.stop)
		rec = recordRollout(ms)
		Expect(rolloutStatus(ms)()).To(Equal(before))
		Expect(routeWeights(ms)()).To(Equal("checkout-stable=80/checkout-canary=20"))
		annotate(ms, msv1.PromoteAnnotation, "gate-1")
		Eventually(replicas(canaryKey(ms)), timeout, interval).Should(Equal(int32(2)))
		GinkgoWriter.Printf("First change by the operator after the API server restarted: %v\n", time.Since(restartedAt))
		AddReportEntry("operator acting again after an API server restart", time.Since(restartedAt).String())
		playDeployment(canaryKey(ms))
		Eventually(rolloutStatus(ms), timeout, interval).Should(And(
			HaveField("Phase", msv1.RolloutPhasePaused), HaveField("CurrentStep", ptr.To[int32](3)), HaveField("CanaryWeight", int32(50))))
		Expect(routeWeights(ms)()).To(Equal("checkout-stable=50/checkout-canary=50"))
		Consistently(rolloutStatus(ms), time.Second, interval).Should(HaveField("CurrentStep", ptr.To[int32](3)))
		GinkgoWriter.Printf("Reconcile errors while the API server was down: %v\n",
			reconcileErrors()-errorsBefore)
		guard.Check()
		rec.Check()
	})
})

var _ = Describe("The Gateway API removed while routes exist", func() {
	It("keeps the workload serving, reports the missing Gateway API, and makes the route again when it is back", func() {
		e := startOperatorEnv(append([]string{projectCRDs()}, gatewayAPICRDs()...))
		DeferCleanup(e.Stop)
		useEnv(e)

		ns := newNamespace()
		ms := withRoute(checkout(ns))
		Expect(k8sClient.Create(ctx, ms)).To(Succeed())
		getChild(Default, ms, &gwv1.HTTPRoute{})
		playDeploymentController(ms)
		Eventually(condition(ms, msv1.AvailableCondition), timeout, interval).Should(haveCondition(metav1.ConditionTrue, msv1.ReasonSucceeded))
		deployment := getChild(Default, ms, &appsv1.Deployment{})
		service := getChild(Default, ms, &corev1.Service{})

		By("deleting the Gateway API CRDs, and with them every HTTPRoute")
		crdScheme := runtime.NewScheme()
		Expect(apiextensionsv1.AddToScheme(crdScheme)).To(Succeed())
		admin, err := client.New(e.cfg, client.Options{Scheme: crdScheme})
		Expect(err).NotTo(HaveOccurred())
		crds := &apiextensionsv1.CustomResourceDefinitionList{}
		Expect(admin.List(ctx, crds)).To(Succeed())
		var removed []apiextensionsv1.CustomResourceDefinition
		for _, crd := range crds.Items {
			if crd.Spec.Group == gwv1.GroupName {
				removed = append(removed, crd)
				Expect(admin.Delete(ctx, &crd)).To(Succeed())
			}
		}
		Expect(removed).NotTo(BeEmpty())
		// Every removed CRD must be gone, not only the HTTPRoute one:
		// installing a CRD that is still terminating fails (seen in CI).
		// The API server's CRD finalizer usually takes a few seconds, but
		// a finalizer pass that loses a status conflict is only retried at
		// its informer's resync, every 5 minutes (seen once in CI: over
		// 60 s); the wait covers one resync and says where a CRD is stuck.
		for _, crd := range removed {
			Eventually(func() string {
				live := &apiextensionsv1.CustomResourceDefinition{}
				if err := admin.Get(ctx, client.ObjectKey{Name: crd.Name}, live); err != nil {
					if apierrors.IsNotFound(err) {
						return ""
					}
					return err.Error()
				}
				return fmt.Sprintf("still there, finalizers %v, conditions %+v", live.Finalizers, live.Status.Conditions)
			}, 6*time.Minute, interval).Should(BeEmpty(), "the CRD %s and its objects are gone", crd.Name)
		}

		By("changing the spec, which makes the operator try to apply the route")
		nudgeSpec := func(v string) {
			updateSpec(ms, func(s *msv1.MicroserviceSpec) { s.Route.Hostnames = []string{v} })
		}
		nudgeSpec("shop.example.com")
		Eventually(condition(ms, msv1.RouteAcceptedCondition), timeout, interval).Should(And(
			haveCondition(metav1.ConditionFalse, msv1.ReasonGatewayAPINotInstalled),
			HaveField("Message", ContainSubstring("install the Gateway API CRDs"))))
		Eventually(condition(ms, msv1.StalledCondition), timeout, interval).Should(HaveField("Status", metav1.ConditionTrue))

		By("checking that the workload was left alone and the operator is not retrying in a loop")
		Expect(getChild(Default, ms, &appsv1.Deployment{}).Generation).To(Equal(deployment.Generation))
		Expect(getChild(Default, ms, &corev1.Service{}).ResourceVersion).To(Equal(service.ResourceVersion))
		errorsBefore := reconcileErrors()
		reconcilesBefore := reconciles()
		Consistently(reconcileErrors, 2*time.Second, interval).Should(Equal(errorsBefore))
		Expect(reconciles()-reconcilesBefore).To(BeNumerically("<=", 2), "no reconcile loop while the Gateway API is missing")

		By("installing the Gateway API again: the route comes back")
		_, err = envtest.InstallCRDs(e.cfg, envtest.CRDInstallOptions{Paths: gatewayAPICRDs(), ErrorIfPathMissing: true})
		Expect(err).NotTo(HaveOccurred(), "installing the Gateway API CRDs again")
		// The operator believes "not installed" for 30 seconds before it
		// asks discovery again; a restart of the operator, or the next
		// reconcile after that, makes the route.
		e.stopManager()
		e.startManager()
		nudgeSpec("www.example.com")
		Eventually(func() []gwv1.Hostname {
			r := &gwv1.HTTPRoute{}
			if err := k8sClient.Get(ctx, key(ms), r); err != nil {
				return nil
			}
			return r.Spec.Hostnames
		}, timeout, interval).Should(Equal([]gwv1.Hostname{"www.example.com"}))
		Eventually(condition(ms, msv1.RouteAcceptedCondition), timeout, interval).Should(
			HaveField("Reason", Not(Equal(msv1.ReasonGatewayAPINotInstalled))))
	})
})
