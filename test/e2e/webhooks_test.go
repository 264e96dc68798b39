//go:build e2e

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

package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
)

// flaggerLoadtesterVersion is the release of Flagger whose load tester
// serves the webhooks: it builds from its Go module, with no replace
// directives.
const flaggerLoadtesterVersion = "v1.36.1"

// flaggerLoadtester installs Flagger's load tester into the cache (about
// 20 s the first time) and returns its path.
func flaggerLoadtester() string {
	dir := filepath.Join(root, ".cache", "flagger-loadtester-"+flaggerLoadtesterVersion)
	bin := filepath.Join(dir, "loadtester")
	if _, err := os.Stat(bin); err != nil {
		run("env", "GOBIN="+dir, "go", "install", "github.com/fluxcd/flagger/cmd/loadtester@"+flaggerLoadtesterVersion)
	}
	return bin
}

const hooksNS = "e2e-hooks"

// The webhooks of a canary, served by Flagger's own load tester, unchanged:
// its gate holds the canary, its blocking acceptance test reaches the canary
// through the Gateway before any weight, its load test makes the traffic
// whose Traefik metrics the analysis judges, and its rollback gate takes a
// canary back.
var _ = Describe("Rollout webhooks served by Flagger's load tester", Ordered, func() {
	const host = "hooks.e2e.test"
	const ltPort = "28090"
	lt := "http://127.0.0.1:" + ltPort
	var marker string
	tkey := func(name string) client.ObjectKey { return client.ObjectKey{Namespace: hooksNS, Name: name} }
	getShop := func() *msv1.Microservice {
		ms := &msv1.Microservice{}
		ExpectWithOffset(1, k8s.Get(ctx, tkey("shop"), ms)).To(Succeed())
		return ms
	}
	var gen string
	// acceptance is the pre-rollout check of version: through the Gateway,
	// with the header that reaches the canary, every answer from it.
	acceptance := func(version string) string {
		return gen + " -header 'X-Canary: always' -rate 10 -duration 2s -fail-on-error -want-version " + version
	}
	// setVersion delivers a version, and points the acceptance test at it
	// in the same change, as a pipeline would.
	setVersion := func(version string) {
		Eventually(func() error {
			ms := getShop()
			ms.Spec.Image = "example.com/shop:" + version
			for i := range ms.Spec.Rollout.Canary.Webhooks {
				if w := &ms.Spec.Rollout.Canary.Webhooks[i]; w.Name == "acceptance" {
					w.Metadata["cmd"] = acceptance(version)
				}
			}
			return k8s.Update(ctx, ms)
		}, 10*time.Second, 100*time.Millisecond).Should(Succeed())
	}
	// post calls one of the load tester's own endpoints for the canary, as
	// a person approving it would (for example with curl).
	post := func(path string) {
		body, err := json.Marshal(map[string]string{"name": "shop", "namespace": hooksNS})
		Expect(err).NotTo(HaveOccurred())
		resp, err := http.Post(lt+path, "application/json", bytes.NewReader(body))
		Expect(err).NotTo(HaveOccurred())
		Expect(resp.Body.Close()).To(Succeed())
		Expect(resp.StatusCode).To(Equal(http.StatusAccepted), "POST %s", path)
	}
	canaryWeight := func() int32 {
		r := &gwv1.HTTPRoute{}
		if k8s.Get(ctx, tkey("shop"), r) != nil || len(r.Spec.Rules) == 0 {
			return -1
		}
		for _, b := range r.Spec.Rules[len(r.Spec.Rules)-1].BackendRefs {
			if strings.HasSuffix(string(b.Name), "-canary") {
				return ptr.Deref(b.Weight, 1)
			}
		}
		return 0
	}
	canaryReplicas := func() int32 {
		d := &appsv1.Deployment{}
		if err := k8s.Get(ctx, tkey("shop-canary"), d); err != nil {
			return 0
		}
		return d.Status.Replicas
	}
	// hooks is the last state of each webhook seen while the rollout ran,
	// and measured the last measurement of each metric.
	var hooks map[string]msv1.WebhookStatus
	var measured map[string]string
	waitForPhase := func(want msv1.RolloutPhase, within time.Duration) {
		EventuallyWithOffset(1, func() msv1.RolloutPhase {
			ms := getShop()
			if ms.Status.Rollout == nil {
				return ""
			}
			for _, h := range ms.Status.Rollout.Webhooks {
				hooks[h.Name] = h
			}
			if a := ms.Status.Rollout.Analysis; a != nil {
				for _, m := range a.Metrics {
					measured[m.Name] = m.Phase + " " + m.Value
				}
			}
			return ms.Status.Rollout.Phase
		}, within, 250*time.Millisecond).Should(Equal(want))
	}
	markerLines := func() int {
		data, err := os.ReadFile(marker)
		if err != nil {
			return 0
		}
		return strings.Count(string(data), "\n")
	}

	BeforeAll(func() {
		By("building Flagger's load tester and our load generator, and starting the load tester")
		bin := flaggerLoadtester()
		run("go", "build", "-o", "bin/loadgen", "./test/dataplane/loadgen")
		loadgen := filepath.Join(root, "bin", "loadgen")
		marker = filepath.Join(state, "e2e-hooks-post-rollout")
		_ = os.Remove(marker)
		tester := start("e2e-loadtester.log", nil, bin, "-port", ltPort, "-log-level", "info", "-zap-encoding", "console", "-timeout", "2m")
		DeferCleanup(func() { stop(tester) })
		Eventually(func() error {
			resp, err := http.Get(lt + "/healthz")
			if err == nil {
				_ = resp.Body.Close()
			}
			return err
		}, 30*time.Second, 200*time.Millisecond).Should(Succeed())

		kubectl("create", "namespace", hooksNS)
		shop := &msv1.Microservice{ObjectMeta: metav1.ObjectMeta{Namespace: hooksNS, Name: "shop"}}
		shop.Spec.Image = "example.com/shop:v1"
		shop.Spec.Replicas = ptr.To[int32](2)
		shop.Spec.Ports = []msv1.ServicePort{{Name: "http", Port: 80, TargetPort: ptr.To[int32](8080)}}
		shop.Spec.Route = &msv1.Route{ParentRefs: []msv1.ParentReference{{Name: "public", Namespace: "gateway-system"}}, Hostnames: []string{host}}
		gen = fmt.Sprintf("%s -url %s/ -host %s", loadgen, gatewayURL, host)
		sec := func(s int) *metav1.Duration { return &metav1.Duration{Duration: time.Duration(s) * time.Second} }
		shop.Spec.Rollout = &msv1.Rollout{Strategy: msv1.CanaryStrategy, Canary: &msv1.Canary{
			Steps: []msv1.CanaryStep{
				{SetWeight: ptr.To[int32](30)},
				{Analysis: &msv1.AnalysisStep{}},
				{SetWeight: ptr.To[int32](60)},
				{Pause: &msv1.PauseStep{Duration: sec(4)}},
			},
			// The acceptance test reaches the canary by this header
			// while the weight is still 0.
			Matches: []msv1.CanaryMatch{{Headers: []msv1.HeaderMatch{{Name: "X-Canary", Value: "always"}}}},
			Analysis: &msv1.Analysis{
				Interval:          sec(4),
				Count:             ptr.To[int32](2),
				InconclusiveLimit: ptr.To[int32](8),
				Metrics: []msv1.Metric{{
					Name:             "success-rate",
					Template:         msv1.MetricTemplate("request-success-rate"),
					SuccessCondition: msv1.SuccessCondition{Min: ptr.To("0.95")},
					NoData:           msv1.NoDataPolicy("Inconclusive"),
				}},
			},
			Webhooks: []msv1.Webhook{
				{Name: "approval", Type: msv1.WebhookConfirmRollout, URL: lt + "/gate/check", Interval: sec(2)},
				{Name: "acceptance", Type: msv1.WebhookPreRollout, URL: lt + "/", Interval: sec(2), Retries: ptr.To[int32](4), Timeout: sec(30),
					Metadata: map[string]string{"type": "bash", "returnCmdOutput": "true",
						"cmd": acceptance("v1")}},
				{Name: "load", Type: msv1.WebhookRollout, URL: lt + "/",
					Metadata: map[string]string{"type": "cmd", "logCmdOutput": "true", "cmd": gen + " -rate 30 -duration 25s"}},
				{Name: "rollback", Type: msv1.WebhookRollback, URL: lt + "/rollback/check", Interval: sec(2)},
				{Name: "tell", Type: msv1.WebhookPostRollout, URL: lt + "/",
					Metadata: map[string]string{"type": "bash", "cmd": "echo done >> " + marker}},
			},
		}}
		Expect(k8s.Create(ctx, shop)).To(Succeed())
		Eventually(func() bool {
			ms := &msv1.Microservice{}
			return k8s.Get(ctx, tkey("shop"), ms) == nil && apimeta.IsStatusConditionTrue(ms.Status.Conditions, msv1.AvailableCondition) &&
				apimeta.IsStatusConditionTrue(ms.Status.Conditions, msv1.RouteAcceptedCondition)
		}, 2*time.Minute, 250*time.Millisecond).Should(BeTrue())
	})

	It("holds the canary at the closed gate, then tests it, loads it and promotes it on Traefik's metrics of that load", func() {
		hooks, measured = map[string]msv1.WebhookStatus{}, map[string]string{}
		setVersion("v2")

		By("the gate is closed: no canary pod and no weight, and the gate is asked again and again")
		Consistently(func() string {
			return fmt.Sprintf("replicas=%d weight=%d", canaryReplicas(), canaryWeight())
		}, 8*time.Second, 250*time.Millisecond).Should(Equal("replicas=0 weight=0"))
		ms := getShop()
		Expect(ms.Status.Rollout).NotTo(BeNil())
		var approval *msv1.WebhookStatus
		for i := range ms.Status.Rollout.Webhooks {
			if h := &ms.Status.Rollout.Webhooks[i]; h.Name == "approval" {
				approval = h
			}
		}
		Expect(approval).NotTo(BeNil(), "the gate's state is in status: %+v", ms.Status.Rollout.Webhooks)
		Expect(approval.Phase).To(Equal(msv1.WebhookWaiting))
		Expect(approval.Attempts).To(BeNumerically(">=", 3), "asked every 2 s for 8 s")
		Expect(approval.Message).To(ContainSubstring("403"))

		By("opening the gate with the load tester's own endpoint")
		post("/gate/open")
		opened := time.Now()
		waitForPhase(msv1.RolloutPhaseSucceeded, 3*time.Minute)
		AddReportEntry("gate opened to promoted", time.Since(opened).Round(100*time.Millisecond).String())
		Expect(getShop().Spec.Image).To(Equal("example.com/shop:v2"))
		AddReportEntry("webhooks of the promoted canary", fmt.Sprintf("%+v", hooks))
		AddReportEntry("last measurement", fmt.Sprintf("%v", measured))

		Expect(hooks).To(HaveKeyWithValue("approval", HaveField("Phase", msv1.WebhookSucceeded)))
		// The acceptance test's own summary is in the answer: every one of
		// its requests was answered by the canary, with the weight at 0.
		Expect(hooks).To(HaveKeyWithValue("acceptance", And(HaveField("Phase", msv1.WebhookSucceeded),
			HaveField("Message", And(ContainSubstring("v2="), Not(ContainSubstring("v1=")), ContainSubstring("5xx=0 errors=0"))))))
		Expect(hooks).To(HaveKeyWithValue("load", HaveField("Phase", msv1.WebhookSucceeded)))
		// The analysis had data: the requests of the load test, counted by
		// Traefik, were the only traffic of this Service.
		Expect(measured).To(HaveKeyWithValue("success-rate", HavePrefix("Successful ")))
		Eventually(markerLines, 30*time.Second, 250*time.Millisecond).Should(Equal(1), "the post-rollout hook ran once")
		log, err := os.ReadFile(filepath.Join(state, "e2e-loadtester.log"))
		Expect(err).NotTo(HaveOccurred())
		Expect(string(log)).To(ContainSubstring("command finished " + filepath.Join(root, "bin", "loadgen")))
	})

	It("rolls the next canary back when the load tester's rollback gate opens, traffic first", func() {
		hooks, measured = map[string]msv1.WebhookStatus{}, map[string]string{}
		// The approval gate stays open for this canary.
		setVersion("v3")
		Eventually(canaryWeight, 2*time.Minute, 250*time.Millisecond).Should(Equal(int32(30)))
		post("/rollback/open")
		opened := time.Now()
		DeferCleanup(func() { post("/rollback/close") })
		waitForPhase(msv1.RolloutPhaseRolledBack, time.Minute)
		Eventually(canaryWeight, 30*time.Second, 250*time.Millisecond).Should(BeZero())
		AddReportEntry("rollback gate opened to canary weight 0", time.Since(opened).Round(100*time.Millisecond).String())
		Expect(hooks).To(HaveKeyWithValue("acceptance", HaveField("Message", And(ContainSubstring("v3="), Not(ContainSubstring("v1="))))))
		Eventually(canaryReplicas, time.Minute, 250*time.Millisecond).Should(BeZero())
		ms := getShop()
		Expect(apimeta.FindStatusCondition(ms.Status.Conditions, msv1.StalledCondition)).To(HaveField("Message", ContainSubstring("the rollback webhook rollback asked for it")))
		Expect(hooks).To(HaveKeyWithValue("rollback", HaveField("Phase", msv1.WebhookSucceeded)))
		Eventually(markerLines, 30*time.Second, 250*time.Millisecond).Should(Equal(2), "the post-rollout hook ran after the rollback too")
	})
})
