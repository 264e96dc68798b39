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
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
	"github.com/msvc-dev/msvc-operator/internal/webhook"
)

// hookReceiver is a webhook receiver: it records every call by path and
// answers 200, or 403 while a path is closed; a hanging path never answers
// until the receiver is closed.
type hookReceiver struct {
	mu     sync.Mutex
	calls  map[string][]webhook.Payload
	closed map[string]bool
	hang   chan struct{}
}

func newHookReceiver(closed ...string) (*hookReceiver, string) {
	h := &hookReceiver{calls: map[string][]webhook.Payload{}, closed: map[string]bool{}, hang: make(chan struct{})}
	for _, p := range closed {
		h.closed[p] = true
	}
	srv := httptest.NewServer(h)
	DeferCleanup(srv.Close)
	DeferCleanup(func() { close(h.hang) })
	return h, srv.URL
}

func (h *hookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	data, _ := io.ReadAll(r.Body)
	var p webhook.Payload
	if err := json.Unmarshal(data, &p); err != nil || r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
		http.Error(w, "want a POST of a JSON payload", http.StatusBadRequest)
		return
	}
	h.mu.Lock()
	h.calls[r.URL.Path] = append(h.calls[r.URL.Path], p)
	closed := h.closed[r.URL.Path]
	h.mu.Unlock()
	switch {
	case r.URL.Path == "/hang":
		select {
		case <-h.hang:
		case <-r.Context().Done():
		}
	case closed:
		http.Error(w, "Forbidden", http.StatusForbidden)
	default:
		_, _ = w.Write([]byte("Approved"))
	}
}

func (h *hookReceiver) open(path string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.closed, path)
}

func (h *hookReceiver) called(path string) []webhook.Payload {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]webhook.Payload(nil), h.calls[path]...)
}

func hook(name string, t msv1.WebhookType, url string) msv1.Webhook {
	return msv1.Webhook{Name: name, Type: t, URL: url, Interval: &metav1.Duration{Duration: time.Second}}
}

func hookEntry(st msv1.RolloutStatus, name string) msv1.WebhookStatus {
	for _, e := range st.Webhooks {
		if e.Name == name {
			return e
		}
	}
	return msv1.WebhookStatus{}
}

var _ = Describe("Rollout webhooks", func() {
	It("hold the canary at its gates, run a check and a load test, and tell the outcome, with Flagger's payload", func() {
		ms := withCanary(withRoute(checkout(newNamespace())), weightStep(20), pauseFor(time.Second), weightStep(50))
		rx, url := newHookReceiver("/approve", "/ship")
		ms.Spec.Rollout.Canary.Webhooks = []msv1.Webhook{
			hook("approve", msv1.WebhookConfirmRollout, url+"/approve"),
			hook("acceptance", msv1.WebhookPreRollout, url+"/acceptance"),
			hook("more", msv1.WebhookConfirmTrafficIncrease, url+"/more"),
			hook("load", msv1.WebhookRollout, url+"/load"),
			hook("ship", msv1.WebhookConfirmPromotion, url+"/ship"),
			hook("tell", msv1.WebhookPostRollout, url+"/tell"),
		}
		ms.Spec.Rollout.Canary.Webhooks[3].Metadata = map[string]string{"type": "cmd", "cmd": "hey -z 1m http://checkout-canary.shop/"}
		guard := guardTraffic(ms)
		DeferCleanup(guard.stop)
		rec := recordRollout(ms)
		DeferCleanup(rec.stop)
		// Every version of the Microservice: no weight before the gates
		// and the check said yes, no promotion before confirm-promotion.
		var mu sync.Mutex
		var violations []string
		stop := watchVersions(ms, &msv1.MicroserviceList{}, func(live *msv1.Microservice) {
			st := live.Status.Rollout
			if st == nil || st.CanaryRevision == "" {
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if st.CanaryWeight > 0 && (hookEntry(*st, "approve").Phase != msv1.WebhookSucceeded || hookEntry(*st, "acceptance").Phase != msv1.WebhookSucceeded) {
				violations = append(violations, "weight "+st.Message)
			}
			if st.Phase == msv1.RolloutPhasePromoting && hookEntry(*st, "ship").Phase != msv1.WebhookSucceeded {
				violations = append(violations, "promoting without confirm-promotion")
			}
		})
		DeferCleanup(stop)

		Expect(k8sClient.Create(ctx, ms)).To(Succeed())
		getChild(Default, ms, &appsv1.Deployment{})
		playDeploymentController(ms)
		Eventually(rolloutStatus(ms), timeout, interval).Should(HaveField("Phase", msv1.RolloutPhaseIdle))
		updateSpec(ms, func(s *msv1.MicroserviceSpec) { s.Image = "ghcr.io/acme/checkout:2.0.0" })

		By("confirm-rollout says no: the canary gets no pod, and is asked again")
		Eventually(func() int { return len(rx.called("/approve")) }, timeout, interval).Should(BeNumerically(">=", 2))
		Expect(replicas(canaryKey(ms))()).To(Equal(int32(0)))
		Expect(rolloutStatus(ms)()).To(And(HaveField("Phase", msv1.RolloutPhaseProgressing),
			HaveField("Message", ContainSubstring("waiting for the confirm-rollout webhook approve (HTTP 403 Forbidden: Forbidden)"))))
		Expect(eventMessages(ms, "WebhookWaiting")).To(ContainElement(ContainSubstring("The confirm-rollout webhook approve said no")))

		By("once it says yes, the canary starts, pre-rollout runs against its ready pod, then traffic")
		rx.open("/approve")
		Eventually(replicas(canaryKey(ms)), timeout, interval).Should(Equal(int32(1)))
		Consistently(func() int { return len(rx.called("/acceptance")) }, time.Second, interval).Should(BeZero(), "no pre-rollout check before the canary's pod is ready")
		playDeployment(canaryKey(ms))
		Eventually(func() int { return len(rx.called("/load")) }, timeout, interval).Should(BeNumerically(">=", 1))
		Expect(rx.called("/acceptance")).To(HaveLen(1))
		Eventually(routeWeights(ms), timeout, interval).Should(Equal("checkout-stable=80/checkout-canary=20"))

		By("the second weight step scales the canary; after it confirm-promotion holds the promotion")
		Eventually(replicas(canaryKey(ms)), timeout, interval).Should(Equal(int32(1)))
		Eventually(func() int { return len(rx.called("/ship")) }, timeout, interval).Should(BeNumerically(">=", 2))
		Expect(rolloutStatus(ms)()).To(HaveField("Message", ContainSubstring("Before the promotion: waiting for the confirm-promotion webhook ship")))
		Expect(image(key(ms))()).To(Equal("ghcr.io/acme/checkout:1.4.2"), "no promotion before confirm-promotion said yes")
		rx.open("/ship")
		Eventually(image(key(ms)), timeout, interval).Should(Equal("ghcr.io/acme/checkout:2.0.0"))
		playDeploymentController(ms)
		Eventually(rolloutStatus(ms), timeout, interval).Should(HaveField("Phase", msv1.RolloutPhaseSucceeded))

		By("post-rollout hears of the promotion once")
		Eventually(func() []webhook.Payload { return rx.called("/tell") }, timeout, interval).Should(HaveLen(1))
		Consistently(func() []webhook.Payload { return rx.called("/tell") }, 2*time.Second, interval).Should(HaveLen(1))
		revision := rx.called("/tell")[0].Checksum
		Expect(revision).NotTo(BeEmpty())
		Expect(rx.called("/tell")[0]).To(Equal(webhook.Payload{Name: "checkout", Namespace: ms.Namespace, Phase: "Succeeded", Checksum: revision, Type: "post-rollout"}))
		Expect(rx.called("/approve")[0]).To(And(HaveField("Phase", "Waiting"), HaveField("Type", "confirm-rollout")))
		Expect(rx.called("/ship")[0]).To(HaveField("Phase", "WaitingPromotion"))
		Expect(rx.called("/load")).To(HaveLen(2), "once after each weight step")
		Expect(rx.called("/load")[0]).To(And(HaveField("Phase", "Progressing"), HaveField("Checksum", revision),
			HaveField("Metadata", HaveKeyWithValue("cmd", "hey -z 1m http://checkout-canary.shop/"))))
		Expect(rx.called("/more")).To(HaveLen(2), "once before each weight increase")
		final := rolloutStatus(ms)()
		Expect(hookEntry(final, "tell")).To(And(HaveField("Phase", msv1.WebhookSucceeded), HaveField("Attempts", int32(1)), HaveField("Message", "HTTP 200 OK: Approved")))

		mu.Lock()
		Expect(violations).To(BeEmpty())
		mu.Unlock()
		guard.Check()
		rec.Check()
		GinkgoWriter.Printf("Webhook calls: approve %d, acceptance %d, more %d, load %d, ship %d, tell %d\n",
			len(rx.called("/approve")), len(rx.called("/acceptance")), len(rx.called("/more")), len(rx.called("/load")), len(rx.called("/ship")), len(rx.called("/tell")))
	})

	It("roll back a canary whose pre-rollout check keeps failing before it gets any traffic, and one whose receiver hangs, without holding up other reconciles", func() {
		rx, url := newHookReceiver("/acceptance")
		failing := withCanary(withRoute(checkout(newNamespace())), weightStep(20), manualGate())
		failing.Spec.Rollout.Canary.Webhooks = []msv1.Webhook{
			hook("acceptance", msv1.WebhookPreRollout, url+"/acceptance"),
			hook("tell", msv1.WebhookPostRollout, url+"/tell"),
		}
		failing.Spec.Rollout.Canary.Webhooks[0].Retries = ptr.To[int32](1)
		hung := withCanary(withRoute(checkout(newNamespace())), weightStep(20), manualGate())
		hung.Spec.Rollout.Canary.Webhooks = []msv1.Webhook{hook("load", msv1.WebhookRollout, url+"/hang")}
		hung.Spec.Rollout.Canary.Webhooks[0].Timeout = &metav1.Duration{Duration: 5 * time.Second}
		hung.Spec.Rollout.Canary.Webhooks[0].Retries = ptr.To[int32](0)
		for _, ms := range []*msv1.Microservice{failing, hung} {
			guard := guardTraffic(ms)
			DeferCleanup(guard.Check)
			DeferCleanup(guard.stop)
		}

		startCanaryWithReadyPods(failing)
		Eventually(rolloutStatus(failing), timeout, interval).Should(And(HaveField("Phase", msv1.RolloutPhaseRolledBack),
			HaveField("Message", "Rolled back before the canary got traffic: the pre-rollout webhook acceptance failed twice: HTTP 403 Forbidden: Forbidden")))
		Expect(rx.called("/acceptance")).To(HaveLen(2))
		Eventually(replicas(canaryKey(failing)), timeout, interval).Should(Equal(int32(0)))
		Expect(routeWeights(failing)()).To(Equal("checkout-stable=100/checkout-canary=0"))
		Eventually(func() []webhook.Payload { return rx.called("/tell") }, timeout, interval).Should(ConsistOf(HaveField("Phase", "Failed")))
		Expect(eventMessages(failing, "WebhookFailed")).To(ConsistOf(ContainSubstring("The pre-rollout webhook acceptance failed twice")))

		startCanaryWithReadyPods(hung)
		Eventually(func() int { return len(rx.called("/hang")) }, timeout, interval).Should(Equal(1))
		By("while the call hangs, another Microservice's change is reconciled at once")
		began := time.Now()
		updateSpec(failing, func(s *msv1.MicroserviceSpec) { s.Image = "ghcr.io/acme/checkout:2.0.1" })
		Eventually(image(canaryKey(failing)), timeout, 10*time.Millisecond).Should(Equal("ghcr.io/acme/checkout:2.0.1"))
		GinkgoWriter.Printf("Reconciled an unrelated change in %v while a webhook call hung\n", time.Since(began))
		Expect(time.Since(began)).To(BeNumerically("<", 2*time.Second), "the hung call (5s timeout) holds up no worker")
		Eventually(rolloutStatus(hung), timeout, interval).Should(And(HaveField("Phase", msv1.RolloutPhaseRolledBack),
			HaveField("Message", ContainSubstring("the rollout webhook load failed once: no answer within 5s (timeout)"))))
		Eventually(routeWeights(hung), timeout, interval).Should(Equal("checkout-stable=100/checkout-canary=0"))
	})
})
