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
	"bytes"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
	"github.com/msvc-dev/msvc-operator/internal/kubectlmsvc"
)

var _ = Describe("The kubectl-msvc plugin", func() {
	It("shows the rollout as a tree, drives it, and draws the dependency graph", func() {
		ns := newNamespace()
		payments := service(ns, "payments", 8080)
		Expect(k8sClient.Create(ctx, payments)).To(Succeed())
		makeAvailable(payments)
		ms := withCanary(withRoute(checkout(ns)), weightStep(20), manualGate(), weightStep(60), manualGate())
		ms.Spec.Dependencies = []msv1.Dependency{{Name: "payments"}, {Name: "ads", Optional: true}}
		startCanary(ms)
		playDeployment(canaryKey(ms))
		Eventually(rolloutStatus(ms), timeout, interval).Should(HaveField("Phase", msv1.RolloutPhasePaused))

		By("get: a plain tree when piped")
		var out bytes.Buffer
		Expect(kubectlmsvc.Get(ctx, k8sClient, ns, "checkout", kubectlmsvc.Printer{Out: &out})).To(Succeed())
		tree := out.String()
		GinkgoWriter.Print(tree)
		Expect(tree).To(ContainSubstring("rollout: Paused  step 2/4  canary weight 20%  (GatewayAPI)"))
		Expect(tree).To(MatchRegexp(`stable\s+checkout\s+2/2 pods ready\s+weight\s+80%`))
		Expect(tree).To(MatchRegexp(`canary\s+checkout-canary\s+1/1 pods ready\s+weight\s+20%`))
		Expect(tree).To(MatchRegexp(`payments\s+Ready\s+http://payments\.` + ns))
		Expect(tree).To(MatchRegexp(`ads\s+Missing`))
		Expect(tree).NotTo(ContainSubstring("\033["))
		out.Reset()
		Expect(kubectlmsvc.Get(ctx, k8sClient, ns, "payments", kubectlmsvc.Printer{Out: &out})).To(Succeed())
		Expect(out.String()).To(ContainSubstring("└─ dependents: checkout\n"))

		By("get: coloured on a terminal")
		out.Reset()
		Expect(kubectlmsvc.Get(ctx, k8sClient, ns, "checkout", kubectlmsvc.Printer{Out: &out, Color: true})).To(Succeed())
		Expect(out.String()).To(ContainSubstring("\033[33mPaused\033[0m"))

		By("promote: past the gate, to 60% once the canary has its pods")
		Expect(kubectlmsvc.Control(ctx, k8sClient, ns, "checkout", "promote", time.Now())).To(Succeed())
		Eventually(replicas(canaryKey(ms)), timeout, interval).Should(Equal(int32(2)))
		playDeployment(canaryKey(ms))
		Eventually(rolloutStatus(ms), timeout, interval).Should(And(
			HaveField("Phase", msv1.RolloutPhasePaused), HaveField("CanaryWeight", int32(60)), HaveField("CurrentStep", ptr.To[int32](3))))

		By("pause and resume")
		Expect(kubectlmsvc.Control(ctx, k8sClient, ns, "checkout", "pause", time.Now())).To(Succeed())
		Eventually(rolloutStatus(ms), timeout, interval).Should(HaveField("Message", ContainSubstring("Paused by the")))
		Expect(kubectlmsvc.Control(ctx, k8sClient, ns, "checkout", "resume", time.Now())).To(Succeed())
		Eventually(rolloutStatus(ms), timeout, interval).Should(HaveField("Message", ContainSubstring("waiting for a promote")))

		By("abort, then retry")
		Expect(kubectlmsvc.Control(ctx, k8sClient, ns, "checkout", "abort", time.Now())).To(Succeed())
		Eventually(rolloutStatus(ms), timeout, interval).Should(HaveField("Phase", msv1.RolloutPhaseAborted))
		Eventually(routeWeights(ms), timeout, interval).Should(Equal("checkout-stable=100/checkout-canary=0"))
		Expect(kubectlmsvc.Control(ctx, k8sClient, ns, "checkout", "retry", time.Now())).To(Succeed())
		Eventually(rolloutStatus(ms), timeout, interval).Should(HaveField("Phase", Or(Equal(msv1.RolloutPhaseProgressing), Equal(msv1.RolloutPhasePaused))))

		By("promote --full: every remaining step skipped")
		playDeployment(canaryKey(ms))
		Expect(kubectlmsvc.Control(ctx, k8sClient, ns, "checkout", "promote-full", time.Now())).To(Succeed())
		Eventually(image(key(ms)), timeout, interval).Should(Equal("ghcr.io/acme/checkout:2.0.0"))

		By("graph, as text and as DOT")
		out.Reset()
		Expect(kubectlmsvc.Graph(ctx, k8sClient, ns, false, &out)).To(Succeed())
		Expect(out.String()).To(Equal("checkout -> payments, ads (optional)\npayments -> -\n"))
		out.Reset()
		Expect(kubectlmsvc.Graph(ctx, k8sClient, ns, true, &out)).To(Succeed())
		Expect(out.String()).To(ContainSubstring(`"checkout" -> "payments";`))
		Expect(out.String()).To(ContainSubstring(`"checkout" -> "ads" [style=dashed];`))

		Expect(kubectlmsvc.Control(ctx, k8sClient, ns, "checkout", "dance", time.Now())).To(MatchError(ContainSubstring(`unknown action "dance"`)))
		_ = metav1.Now
	})
})
