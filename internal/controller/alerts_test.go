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

	"github.com/go-logr/logr"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	eventsv1 "k8s.io/api/events/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
	"github.com/msvc-dev/msvc-operator/internal/notify"
)

// alertReceiver is a chat webhook: it records the text of each alert.
type alertReceiver struct {
	mu    sync.Mutex
	texts []string
}

func (a *alertReceiver) ServeHTTP(_ http.ResponseWriter, r *http.Request) {
	data, _ := io.ReadAll(r.Body)
	var body map[string]any
	_ = json.Unmarshal(data, &body)
	a.mu.Lock()
	defer a.mu.Unlock()
	text, _ := body["text"].(string)
	if text == "" {
		text, _ = body["reason"].(string)
	}
	a.texts = append(a.texts, text)
}

func (a *alertReceiver) got() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.texts...)
}

var _ = Describe("Rollout alerts", func() {
	replaceSuiteManager()

	It("send each persisted transition once to the receivers a Microservice names, by severity, off the workers", func() {
		chat, pager := &alertReceiver{}, &alertReceiver{}
		chatSrv, pagerSrv := httptest.NewServer(chat), httptest.NewServer(pager)
		DeferCleanup(chatSrv.Close)
		DeferCleanup(pagerSrv.Close)
		sender := &notify.Sender{Providers: map[string]notify.Provider{
			"shop-slack": {Name: "shop-slack", Type: notify.Slack, URL: chatSrv.URL},
			"oncall":     {Name: "oncall", Type: notify.Generic, URL: pagerSrv.URL},
		}, Client: &http.Client{}, Timeout: 2 * time.Second, Attempts: 2, Log: logr.Discard()}
		runOwnManager(managerOptions{alerts: sender})

		ms := withCanary(withRoute(checkout(newNamespace())), weightStep(20), manualGate())
		ms.Spec.Rollout.Canary.Alerts = []msv1.RolloutAlert{
			{Provider: "shop-slack"},
			{Provider: "oncall", Severity: msv1.AlertSeverityWarning},
		}
		startCanaryWithReadyPods(ms)
		Eventually(rolloutStatus(ms), timeout, interval).Should(HaveField("Phase", msv1.RolloutPhasePaused))
		annotate(ms, msv1.AbortAnnotation, "alerts-1")
		Eventually(rolloutStatus(ms), timeout, interval).Should(HaveField("Phase", msv1.RolloutPhaseAborted))

		prefix := ms.Namespace + "/checkout "
		Eventually(chat.got, timeout, interval).Should(ContainElement(HavePrefix(prefix + "RolloutAborted: ")))
		Consistently(chat.got, 2*time.Second, interval).Should(SatisfyAll(
			ContainElement(HavePrefix(prefix+"RolloutStarted: Delivering revision")),
			ContainElement(HavePrefix(prefix+"CanaryWeightChanged: Step 1/2: canary weight 20%")),
			// Once each, though the operator reconciled many times.
			WithTransform(func(texts []string) int {
				n := 0
				for _, t := range texts {
					if t == prefix+"RolloutAborted: Rollout of revision "+rolloutStatus(ms)().CanaryRevision+" aborted by request" {
						n++
					}
				}
				return n
			}, Equal(1))))
		Expect(pager.got()).To(Equal([]string{"RolloutAborted"}), "a warning receiver hears only of what needs a human")
		GinkgoWriter.Printf("Alerts: chat %v, pager %v\n", chat.got(), pager.got())

		By("naming a receiver the operator does not have is reported on the Microservice")
		other := withCanary(withRoute(checkout(newNamespace())), weightStep(20), manualGate())
		other.Spec.Rollout.Canary.Alerts = []msv1.RolloutAlert{{Provider: "pagerduty"}}
		startCanaryWithReadyPods(other)
		Eventually(func() []string { return eventMessages(other, "AlertNotSent") }, timeout, interval).Should(
			ContainElement(ContainSubstring(`no such alert provider "pagerduty": the operator's --alert-providers-file defines`)))
	})
})

// eventMessages are the notes of the events of reason about ms.
func eventMessages(ms *msv1.Microservice, reason string) []string {
	events := &eventsv1.EventList{}
	Expect(k8sClient.List(ctx, events, client.InNamespace(ms.Namespace))).To(Succeed())
	var out []string
	for _, e := range events.Items {
		if e.Regarding.Name == ms.Name && e.Reason == reason {
			out = append(out, e.Note)
		}
	}
	return out
}
