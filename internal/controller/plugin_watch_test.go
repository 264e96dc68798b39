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
	"context"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
	"github.com/msvc-dev/msvc-operator/internal/kubectlmsvc"
)

// drawings is a writer that counts the trees written to it.
type drawings struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (d *drawings) Write(p []byte) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.buf.Write(p)
}

// trees are the trees drawn so far (each starts with the Microservice's line).
func (d *drawings) trees(name string) []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	parts := strings.Split(d.buf.String(), "\n"+name+" (")
	return parts
}

var _ = Describe("kubectl msvc get --watch", func() {
	It("redraws on the API server's watch events, within a second of a change, and not while nothing changes", func() {
		ms := withCanary(withRoute(checkout(newNamespace())), weightStep(20), manualGate(), weightStep(60), manualGate())
		startCanaryWithReadyPods(ms)
		Eventually(rolloutStatus(ms), timeout, interval).Should(HaveField("Phase", msv1.RolloutPhasePaused))

		wc, err := client.NewWithWatch(env.cfg, client.Options{Scheme: scheme})
		Expect(err).NotTo(HaveOccurred())
		out := &drawings{}
		watchCtx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() {
			done <- kubectlmsvc.WatchChanges(watchCtx, wc, ms.Namespace, ms.Name, kubectlmsvc.Printer{Out: out})
		}()
		DeferCleanup(func() {
			stop()
			Eventually(done, 5*time.Second).Should(Receive(BeNil()))
		})
		Eventually(func() string { return strings.Join(out.trees(ms.Name), "") }, timeout, interval).Should(ContainSubstring("step 2/4  canary weight 20%"))

		By("drawing nothing more while nothing changes (a poll would redraw every 2 s)")
		time.Sleep(500 * time.Millisecond) // the first events of the watch
		settled := len(out.trees(ms.Name))
		Consistently(func() int { return len(out.trees(ms.Name)) }, 3*time.Second, 100*time.Millisecond).Should(Equal(settled))

		By("redrawing within a second of a promotion")
		annotate(ms, msv1.PromoteAnnotation, "watch-1")
		start := time.Now()
		Eventually(func() string {
			trees := out.trees(ms.Name)
			return trees[len(trees)-1]
		}, time.Second, 20*time.Millisecond).Should(ContainSubstring("step 3/4"))
		GinkgoWriter.Printf("Redrawn %v after the promote, %d trees drawn\n", time.Since(start), len(out.trees(ms.Name)))
	})

	It("plans a new image against the live Microservice, then sets it with set image", func() {
		ms := withCanary(withRoute(checkout(newNamespace())), weightStep(25), manualGate())
		ms.Spec.Replicas = ptr.To[int32](4)
		Expect(k8sClient.Create(ctx, ms)).To(Succeed())
		playDeploymentController(ms)
		Eventually(rolloutStatus(ms), timeout, interval).Should(HaveField("Phase", msv1.RolloutPhaseIdle))

		next := ms.DeepCopy()
		next.Spec.Image = "ghcr.io/acme/checkout:2.0.0"
		live, err := kubectlmsvc.LiveOf(ctx, k8sClient, next)
		Expect(err).NotTo(HaveOccurred())
		Expect(live).NotTo(BeNil())
		var plan bytes.Buffer
		Expect(kubectlmsvc.Plan(next, live, &plan)).To(Succeed())
		words := strings.Join(strings.Fields(plan.String()), " ")
		GinkgoWriter.Print(plan.String())
		Expect(words).To(ContainSubstring("Rollout: a canary in 2 steps, then a promotion (stable track at 4 pods now)."))
		Expect(words).To(ContainSubstring("1/2 setWeight 25 75/25 1 until the pods are ready"))

		By("set image: the plan's canary starts")
		Expect(kubectlmsvc.SetImage(ctx, k8sClient, ms.Namespace, ms.Name, " ")).To(MatchError(ContainSubstring("set image needs an image")))
		Expect(kubectlmsvc.SetImage(ctx, k8sClient, ms.Namespace, ms.Name, "ghcr.io/acme/checkout:2.0.0")).To(Succeed())
		Eventually(image(canaryKey(ms)), timeout, interval).Should(Equal("ghcr.io/acme/checkout:2.0.0"))
		Eventually(replicas(canaryKey(ms)), timeout, interval).Should(Equal(int32(1)))
	})

	It("undo sets the image back: to the stable track's during a canary, to the saved previous template after a promotion", func() {
		ms := withCanary(withRoute(checkout(newNamespace())), weightStep(20), manualGate())
		startCanaryWithReadyPods(ms)
		Eventually(rolloutStatus(ms), timeout, interval).Should(HaveField("Phase", msv1.RolloutPhasePaused))
		first := image(key(ms))()

		By("during the canary: back to the stable track's image, and the canary is cancelled")
		previous, err := kubectlmsvc.Undo(ctx, k8sClient, ms.Namespace, ms.Name)
		Expect(err).NotTo(HaveOccurred())
		Expect(previous).To(Equal(first))
		Eventually(replicas(canaryKey(ms)), timeout, interval).Should(Equal(int32(0)))
		Eventually(rolloutStatus(ms), timeout, interval).Should(HaveField("Phase", Not(BeElementOf(msv1.RolloutPhaseProgressing, msv1.RolloutPhasePaused))))
		_, err = kubectlmsvc.Undo(ctx, k8sClient, ms.Namespace, ms.Name)
		Expect(err).To(MatchError(ContainSubstring("no previous version is saved")), "no promotion yet, nothing saved")

		By("after a promotion: back to the template it replaced, through a new canary")
		Expect(kubectlmsvc.SetImage(ctx, k8sClient, ms.Namespace, ms.Name, "ghcr.io/acme/checkout:3.0.0")).To(Succeed())
		Eventually(replicas(canaryKey(ms)), timeout, interval).Should(BeNumerically(">=", 1))
		playDeployment(canaryKey(ms))
		Eventually(rolloutStatus(ms), timeout, interval).Should(HaveField("Phase", msv1.RolloutPhasePaused))
		annotate(ms, msv1.PromoteAnnotation, "undo-1")
		deliver(ms, msv1.RolloutPhaseSucceeded, func() {})
		Expect(image(key(ms))()).To(Equal("ghcr.io/acme/checkout:3.0.0"))
		previous, err = kubectlmsvc.Undo(ctx, k8sClient, ms.Namespace, ms.Name)
		Expect(err).NotTo(HaveOccurred())
		Expect(previous).To(Equal(first))
		Eventually(image(canaryKey(ms)), timeout, interval).Should(Equal(first), "the previous version comes back as a canary")
	})
})
