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
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
	"github.com/msvc-dev/msvc-operator/internal/builder"
)

// Envtest runs no EndpointSlice controller: the spec writes the canary track
// Service's slice as that controller would, with the Service's labels.
var _ = Describe("A routed canary's weight and its track Service's endpoints", func() {
	It("moves the weight only once the canary track Service lists a ready endpoint, woken by the slice that lists it", func() {
		ms := withCanary(withRoute(checkout(newNamespace())), weightStep(20), manualGate())
		startCanary(ms)

		svc := &corev1.Service{}
		Eventually(func() error {
			return k8sClient.Get(ctx, client.ObjectKey{Namespace: ms.Namespace, Name: builder.TrackServiceName(ms, builder.TrackCanary)}, svc)
		}, timeout, interval).Should(Succeed())
		labels := map[string]string{discoveryv1.LabelServiceName: svc.Name, discoveryv1.LabelManagedBy: "endpointslice-controller.k8s.io"}
		for k, v := range svc.Labels {
			labels[k] = v
		}
		slice := &discoveryv1.EndpointSlice{
			ObjectMeta:  metav1.ObjectMeta{Namespace: ms.Namespace, Name: svc.Name + "-x7k2p", Labels: labels},
			AddressType: discoveryv1.AddressTypeIPv4,
			Endpoints: []discoveryv1.Endpoint{{
				Addresses:  []string{"10.244.0.7"},
				Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(false)},
			}},
			Ports: []discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To[int32](8080)}},
		}
		Expect(k8sClient.Create(ctx, slice)).To(Succeed())

		By("holding the weight at 0 while the canary's pod is Ready but its endpoint is not")
		playDeployment(canaryKey(ms))
		Consistently(routeWeights(ms), 2*time.Second, interval).Should(Equal("checkout-stable=100/checkout-canary=0"))
		Expect(rolloutStatus(ms)()).To(And(HaveField("Phase", msv1.RolloutPhaseProgressing), HaveField("CanaryWeight", int32(0))))

		By("sending 20% once the slice lists the endpoint ready")
		reconciled := reconciles()
		slice.Endpoints[0].Conditions.Ready = ptr.To(true)
		Expect(k8sClient.Update(ctx, slice)).To(Succeed())
		changed := time.Now()
		Eventually(routeWeights(ms), timeout, interval).Should(Equal("checkout-stable=80/checkout-canary=20"))
		GinkgoWriter.Printf("weight moved %v after the endpoint became ready, %v reconciles\n", time.Since(changed), reconciles()-reconciled)
		Eventually(rolloutStatus(ms), timeout, interval).Should(And(HaveField("Phase", msv1.RolloutPhasePaused), HaveField("CanaryWeight", int32(20))))
	})
})
