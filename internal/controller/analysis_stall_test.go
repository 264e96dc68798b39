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
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
)

// hangingServer accepts TCP connections on loopback and never answers
// them, the way a Prometheus stuck in a long query or behind a dead proxy
// does, until it is stopped.
type hangingServer struct {
	ln       net.Listener
	accepted atomic.Int64

	mu    sync.Mutex
	conns []net.Conn
}

// startHangingServer starts a hangingServer that stops when the spec ends.
func startHangingServer() *hangingServer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	Expect(err).NotTo(HaveOccurred())
	s := &hangingServer{ln: ln}
	go s.serve()
	DeferCleanup(s.stop)
	return s
}

func (s *hangingServer) url() string { return "http://" + s.ln.Addr().String() }

func (s *hangingServer) serve() {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.accepted.Add(1)
		s.mu.Lock()
		s.conns = append(s.conns, c)
		s.mu.Unlock()
		// Read the request, and never write a byte back.
		go func() { _, _ = io.Copy(io.Discard, c) }()
	}
}

// stop closes the listener and every connection it accepted.
func (s *hangingServer) stop() {
	_ = s.ln.Close()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.conns {
		_ = c.Close()
	}
	s.conns = nil
}

var _ = Describe("Analysis against a Prometheus that hangs", func() {
	const analysed = 100
	// settle bounds each wait of the set-up: a manager started by the spec
	// before this one reconciles every Microservice of the earlier specs
	// first.
	const settle = 2 * time.Minute
	settled := func(k client.ObjectKey) func() error {
		return func() error { return k8sClient.Get(ctx, k, &appsv1.Deployment{}) }
	}

	It("reconciles an unrelated Microservice's change within 1s while 100 Microservices measure", func() {
		prom := startHangingServer()

		// The unrelated Microservice: a rolling update, no analysis.
		other := checkout(newNamespace())
		Expect(k8sClient.Create(ctx, other)).To(Succeed())
		Eventually(settled(key(other)), settle, interval).Should(Succeed())
		playDeploymentController(other)
		Eventually(condition(other, msv1.ReadyCondition), settle, interval).Should(HaveField("Status", metav1.ConditionTrue))

		// 100 workers (no ports, so no Services: the API server's range of
		// Service IPs is small) whose canary starts with an analysis step.
		// The interval is an hour while they get there, so that no
		// measurement is due before all of them are at the step.
		ns := newNamespace()
		DeferCleanup(func() {
			Expect(k8sClient.DeleteAllOf(ctx, &msv1.Microservice{}, client.InNamespace(ns))).To(Succeed())
		})
		all := make([]*msv1.Microservice, analysed)
		for i := range all {
			ms := withCanary(checkout(ns), msv1.CanaryStep{Analysis: &msv1.AnalysisStep{}}, weightStep(100))
			ms.Name = fmt.Sprintf("worker-%03d", i)
			ms.Spec.Ports = nil
			ms.Spec.Rollout.Canary.Analysis = &msv1.Analysis{
				Interval:          &metav1.Duration{Duration: time.Hour},
				InconclusiveLimit: ptr.To[int32](100),
				Prometheus:        &msv1.PrometheusProvider{Address: prom.url()},
				Metrics: []msv1.Metric{{
					Name:             "success-rate",
					Query:            `vector(1)`,
					SuccessCondition: msv1.SuccessCondition{Min: ptr.To("0.99")},
				}},
			}
			Expect(k8sClient.Create(ctx, ms)).To(Succeed())
			all[i] = ms
		}
		for _, ms := range all {
			Eventually(settled(key(ms)), settle, interval).Should(Succeed())
		}
		for _, ms := range all {
			updateSpec(ms, func(s *msv1.MicroserviceSpec) { s.Image = "ghcr.io/acme/checkout:2.0.0" })
		}
		for _, ms := range all {
			Eventually(rolloutStatus(ms), settle, interval).Should(And(
				HaveField("Phase", msv1.RolloutPhaseProgressing),
				HaveField("CurrentStep", HaveValue(BeEquivalentTo(0)))))
		}

		// Now every one of them is due for a measurement, whose queries
		// wait a minute for an answer. (The timeout goes in a merge patch:
		// an API without the field prunes it, and its queries give up
		// after 10s.)
		analysis := func(fields string) {
			for _, ms := range all {
				patch := client.RawPatch(types.MergePatchType, []byte(`{"spec":{"rollout":{"canary":{"analysis":`+fields+`}}}}`))
				Expect(k8sClient.Patch(ctx, ms, patch)).To(Succeed())
			}
		}
		analysis(`{"interval":"1s","timeout":"1m"}`)
		Eventually(prom.accepted.Load, timeout, 10*time.Millisecond).Should(BeNumerically(">=", 2),
			"the measurements reach the hanging server")
		// The operator first works through the 100 spec changes (until no
		// reconcile ends for a second); the unrelated change must not wait
		// behind the hung queries after that. With the queries on the
		// workers, every reconcile of the 100 waits for its query, so
		// this wait ends at once and the change below waits for them.
		for deadline := time.Now().Add(settle); time.Now().Before(deadline); {
			n := reconciles()
			time.Sleep(time.Second)
			if reconciles() == n {
				break
			}
		}

		changed := time.Now()
		updateSpec(other, func(s *msv1.MicroserviceSpec) { s.Image = "ghcr.io/acme/checkout:1.4.3" })
		const budget = 60 * time.Second
		Eventually(image(key(other)), budget, 10*time.Millisecond).Should(Equal("ghcr.io/acme/checkout:1.4.3"),
			"the unrelated Microservice's change is never reconciled within %v", budget)
		took := time.Since(changed)
		GinkgoWriter.Printf("Unrelated change reconciled in %v, with %d analyses against a hanging Prometheus (%d connections accepted)\n",
			took, analysed, prom.accepted.Load())
		AddReportEntry("unrelated change reconciled while 100 analyses hang", took.String())
		Expect(took).To(BeNumerically("<", time.Second))

		By("measuring again with a shorter timeout, whose results land in the status")
		analysis(`{"timeout":"1s"}`)
		for _, ms := range []*msv1.Microservice{all[0], all[analysed-1]} {
			Eventually(rolloutStatus(ms), timeout, interval).Should(HaveField("Analysis", And(Not(BeNil()),
				HaveField("Inconclusives", BeNumerically(">=", 1)),
				HaveField("Metrics", ContainElement(HaveField("Message", "query failed: no answer within 1s (spec.rollout.canary.analysis.timeout)"))))))
		}
	})
})
