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
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
	"sigs.k8s.io/yaml"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
)

const ns = "e2e-shop"

func key(name string) client.ObjectKey { return client.ObjectKey{Namespace: ns, Name: name} }

// boutique reads samples/boutique with the analysis pointed at the local
// Prometheus and its timers shortened, as the demo does.
func boutique() []*msv1.Microservice {
	files, err := filepath.Glob(filepath.Join(root, "samples", "boutique", "*.yaml"))
	Expect(err).NotTo(HaveOccurred())
	var out []*msv1.Microservice
	for _, f := range files {
		data, err := os.ReadFile(f)
		Expect(err).NotTo(HaveOccurred())
		text := strings.NewReplacer("http://prometheus.monitoring:9090", promURL, "duration: 1m", "duration: 5s",
			"interval: 1m", "interval: 3s", "[2m]", "[15s]").Replace(string(data))
		ms := &msv1.Microservice{}
		Expect(yaml.UnmarshalStrict([]byte(text), ms)).To(Succeed(), f)
		ms.Namespace = ns
		out = append(out, ms)
	}
	return out
}

// describeDeployment spells out a Deployment's state for a failure message.
func describeDeployment(d *appsv1.Deployment) string {
	out := fmt.Sprintf("generation %d (observed %d), spec.replicas %d, replicas %d, updated %d, ready %d, available %d",
		d.Generation, d.Status.ObservedGeneration, ptr.Deref(d.Spec.Replicas, 1),
		d.Status.Replicas, d.Status.UpdatedReplicas, d.Status.ReadyReplicas, d.Status.AvailableReplicas)
	for _, c := range d.Status.Conditions {
		out += fmt.Sprintf("; %s=%s (%s: %s)", c.Type, c.Status, c.Reason, c.Message)
	}
	return out
}

func get(name string) *msv1.Microservice {
	ms := &msv1.Microservice{}
	ExpectWithOffset(1, k8s.Get(ctx, key(name), ms)).To(Succeed())
	return ms
}

func conditionTrue(name, t string) func() bool {
	return func() bool {
		ms := &msv1.Microservice{}
		if err := k8s.Get(ctx, key(name), ms); err != nil {
			return false
		}
		return ms.Status.ObservedGeneration == ms.Generation && apimeta.IsStatusConditionTrue(ms.Status.Conditions, t)
	}
}

func rolloutPhase(name string) func() msv1.RolloutPhase {
	return func() msv1.RolloutPhase {
		ms := &msv1.Microservice{}
		if err := k8s.Get(ctx, key(name), ms); err != nil || ms.Status.Rollout == nil {
			return ""
		}
		return ms.Status.Rollout.Phase
	}
}

func setImage(name, image string) {
	Eventually(func() error {
		ms := get(name)
		ms.Spec.Image = image
		return k8s.Update(ctx, ms)
	}, 10*time.Second, 100*time.Millisecond).Should(Succeed())
}

func promote(name string) {
	kubectl("annotate", "ms", name, "-n", ns, "--overwrite", fmt.Sprintf("%s=%d", msv1.PromoteAnnotation, time.Now().UnixNano()))
}

func routeWeights(name string) string {
	r := &gwv1.HTTPRoute{}
	if err := k8s.Get(ctx, key(name), r); err != nil || len(r.Spec.Rules) == 0 {
		return ""
	}
	var parts []string
	for _, b := range r.Spec.Rules[len(r.Spec.Rules)-1].BackendRefs {
		parts = append(parts, fmt.Sprintf("%s=%d", b.Name, ptr.Deref(b.Weight, 1)))
	}
	return strings.Join(parts, "/")
}

// atGate waits for the frontend's canary to stop at its manual gate (step 5).
func atGate() {
	Eventually(func() string {
		ms := get("frontend")
		if ms.Status.Rollout == nil {
			return ""
		}
		return fmt.Sprintf("%s/%d", ms.Status.Rollout.Phase, ptr.Deref(ms.Status.Rollout.CurrentStep, -1))
	}, 3*time.Minute, time.Second).Should(Equal("Paused/4"))
}

var _ = Describe("The operator on a real control plane", Ordered, func() {
	// Shoppers: real requests through the Gateway for the whole of this
	// Describe, so that the frontend's analysis reads the success rate that
	// Traefik measured.
	var shoppers *traffic
	BeforeAll(func() {
		kubectl("create", "namespace", ns)
		shoppers = startTraffic("boutique.example.com", 50, 15*time.Minute)
	})
	AfterAll(func() {
		total := shoppers.stop()
		AddReportEntry("shoppers' requests", fmt.Sprintf("%+v", total))
	})

	// A failed spec leaves what the cluster looked like in the report: the
	// failure message alone says what differed, not why.
	AfterEach(func() {
		if !CurrentSpecReport().Failed() {
			return
		}
		for _, args := range [][]string{
			{"get", "nodes,microservices,deployments,replicasets,pods,hpa", "-n", ns, "-o", "wide"},
			{"get", "events", "-n", ns, "--sort-by=.lastTimestamp"},
			{"get", "microservices", "-n", ns, "-o", "yaml"},
		} {
			cmd := exec.Command(filepath.Join(kubeBins(), "kubectl"), args...)
			cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
			out, _ := cmd.CombinedOutput()
			AddReportEntry("kubectl "+strings.Join(args, " "), string(out))
		}
	})

	It("brings the boutique up in dependency order, every child healthy", func() {
		services := boutique()
		Expect(services).To(HaveLen(12), "the whole Online Boutique, load generator included")
		// asked: when a Deployment first asked for pods; ready: when it first had ready ones.
		asked, ready := map[string]time.Time{}, map[string]time.Time{}
		var mu sync.Mutex
		stopWatch := make(chan struct{})
		go func() {
			defer GinkgoRecover()
			for {
				select {
				case <-stopWatch:
					return
				case <-time.After(100 * time.Millisecond):
				}
				list := &appsv1.DeploymentList{}
				if k8s.List(ctx, list, client.InNamespace(ns)) != nil {
					continue
				}
				mu.Lock()
				now := time.Now()
				for _, d := range list.Items {
					if _, ok := asked[d.Name]; !ok && ptr.Deref(d.Spec.Replicas, 1) > 0 {
						asked[d.Name] = now
					}
					if _, ok := ready[d.Name]; !ok && d.Status.ReadyReplicas > 0 {
						ready[d.Name] = now
					}
				}
				mu.Unlock()
			}
		}()
		begin := time.Now()
		for i := len(services) - 1; i >= 0; i-- {
			Expect(k8s.Create(ctx, services[i])).To(Succeed())
		}
		for _, ms := range services {
			Eventually(conditionTrue(ms.Name, msv1.ReadyCondition), 4*time.Minute, time.Second).Should(BeTrue(), ms.Name)
		}
		AddReportEntry("boutique up", time.Since(begin).String())
		Eventually(func() int {
			mu.Lock()
			defer mu.Unlock()
			return len(ready)
		}, 10*time.Second, 100*time.Millisecond).Should(BeNumerically(">=", len(services)), "the sampler saw every service")
		close(stopWatch)

		mu.Lock()
		defer mu.Unlock()
		for _, ms := range services {
			for _, d := range ms.Spec.Dependencies {
				if d.Optional {
					continue
				}
				// Sampled every 100 ms: the dependent may not ask for pods
				// before a sample that saw its dependency's pods ready.
				Expect(asked[ms.Name]).NotTo(BeZero(), ms.Name)
				Expect(ready[d.Name]).NotTo(BeZero(), d.Name)
				Expect(asked[ms.Name].Before(ready[d.Name])).To(BeFalse(),
					"%s asked for pods at %v, before its dependency %s had ready pods at %v", ms.Name, asked[ms.Name], d.Name, ready[d.Name])
			}
			// Ready says the service is available, which a Deployment still
			// is while it replaces a pod; every Deployment must then settle
			// with all its pods ready on the current template.
			var first string
			Eventually(func() error {
				dep := &appsv1.Deployment{}
				if err := k8s.Get(ctx, key(ms.Name), dep); err != nil {
					return err
				}
				want, st := ptr.Deref(dep.Spec.Replicas, 1), dep.Status
				if st.ObservedGeneration != dep.Generation || st.Replicas != want || st.UpdatedReplicas != want || st.ReadyReplicas != want {
					if first == "" {
						first = describeDeployment(dep)
					}
					return fmt.Errorf("not settled: %s", describeDeployment(dep))
				}
				return nil
			}, time.Minute, 250*time.Millisecond).Should(Succeed(), ms.Name)
			if first != "" {
				AddReportEntry(ms.Name+" was Ready before its Deployment settled", first)
			}
			if len(ms.Spec.Ports) == 0 {
				// A service without ports (the load generator) has no
				// Service and no URL.
				Expect(apierrors.IsNotFound(k8s.Get(ctx, key(ms.Name), &corev1.Service{}))).To(BeTrue(), ms.Name)
				Expect(get(ms.Name).Status.URL).To(BeEmpty(), ms.Name)
				continue
			}
			Expect(k8s.Get(ctx, key(ms.Name), &corev1.Service{})).To(Succeed(), ms.Name)
		}
		Expect(k8s.Get(ctx, key("frontend"), &autoscalingv2.HorizontalPodAutoscaler{})).To(Succeed())
		Expect(routeWeights("frontend")).To(Equal("frontend-stable=100/frontend-canary=0"))
	})

	It("promotes a canary through real ReplicaSets", func() {
		setImage("frontend", "example.com/frontend:v2")
		atGate()
		Expect(routeWeights("frontend")).To(Equal("frontend-stable=50/frontend-canary=50"))
		canary := &appsv1.Deployment{}
		Expect(k8s.Get(ctx, key("frontend-canary"), canary)).To(Succeed())
		Expect(canary.Status.ReadyReplicas).To(BeNumerically(">", 0))

		promote("frontend")
		Eventually(rolloutPhase("frontend"), 3*time.Minute, time.Second).Should(Equal(msv1.RolloutPhaseSucceeded))
		Expect(routeWeights("frontend")).To(Equal("frontend-stable=100/frontend-canary=0"))

		rsList := &appsv1.ReplicaSetList{}
		Expect(k8s.List(ctx, rsList, client.InNamespace(ns), client.MatchingLabels{"apps.msvc.dev/microservice": "frontend", "apps.msvc.dev/track": "stable"})).To(Succeed())
		current := 0
		for _, rs := range rsList.Items {
			if ptr.Deref(rs.Spec.Replicas, 0) > 0 {
				current++
				Expect(rs.Spec.Template.Spec.Containers[0].Image).To(Equal("example.com/frontend:v2"))
				Expect(rs.Status.ReadyReplicas).To(Equal(*rs.Spec.Replicas))
			}
		}
		Expect(current).To(Equal(1), "one live ReplicaSet on the stable track, running v2")
		Eventually(func() int32 {
			_ = k8s.Get(ctx, key("frontend-canary"), canary)
			return canary.Status.Replicas
		}, time.Minute, time.Second).Should(BeZero())
	})

	It("survives an operator restart in the middle of a canary", func() {
		setImage("frontend", "example.com/frontend:v3")
		Eventually(func() int32 {
			ms := get("frontend")
			if ms.Status.Rollout == nil {
				return -1
			}
			return ms.Status.Rollout.CanaryWeight
		}, 2*time.Minute, 200*time.Millisecond).Should(Equal(int32(10)))
		before := get("frontend").Status.Rollout.DeepCopy()

		stop(operator)
		startOperator()
		Consistently(func() string { return routeWeights("frontend") }, 2*time.Second, 200*time.Millisecond).
			Should(Or(Equal("frontend-stable=90/frontend-canary=10"), Equal("frontend-stable=50/frontend-canary=50")))
		atGate()
		after := get("frontend").Status.Rollout
		Expect(after.CanaryRevision).To(Equal(before.CanaryRevision), "the same rollout went on")
		promote("frontend")
		Eventually(rolloutPhase("frontend"), 3*time.Minute, time.Second).Should(Equal(msv1.RolloutPhaseSucceeded))
	})

	It("rolls a canary back on failing metrics, traffic first", func() {
		// The test app fails half of its requests when its tag ends in -bad.
		setImage("frontend", "example.com/frontend:v4-bad")
		Eventually(rolloutPhase("frontend"), 3*time.Minute, time.Second).Should(Equal(msv1.RolloutPhaseRolledBack))
		Expect(routeWeights("frontend")).To(Equal("frontend-stable=100/frontend-canary=0"))
		Eventually(func() int32 {
			d := &appsv1.Deployment{}
			_ = k8s.Get(ctx, key("frontend-canary"), d)
			return d.Status.Replicas
		}, time.Minute, time.Second).Should(BeZero())
		stable := &appsv1.Deployment{}
		Expect(k8s.Get(ctx, key("frontend"), stable)).To(Succeed())
		Expect(stable.Spec.Template.Spec.Containers[0].Image).To(Equal("example.com/frontend:v3"))
		degraded := apimeta.FindStatusCondition(get("frontend").Status.Conditions, msv1.DegradedCondition)
		Expect(degraded).NotTo(BeNil())
		Expect(degraded.Message).To(ContainSubstring("success-rate="))
	})

	It("garbage-collects every child of a deleted Microservice", func() {
		ms := get("adservice")
		Expect(k8s.Delete(ctx, ms)).To(Succeed())
		Eventually(func() bool {
			return apierrors.IsNotFound(k8s.Get(ctx, key("adservice"), &appsv1.Deployment{})) &&
				apierrors.IsNotFound(k8s.Get(ctx, key("adservice"), &corev1.Service{}))
		}, time.Minute, time.Second).Should(BeTrue())
		Eventually(func() int {
			pods := &corev1.PodList{}
			_ = k8s.List(ctx, pods, client.InNamespace(ns), client.MatchingLabels{"apps.msvc.dev/microservice": "adservice"})
			return len(pods.Items)
		}, time.Minute, time.Second).Should(BeZero())
		Expect(conditionTrue("frontend", msv1.AvailableCondition)()).To(BeTrue(), "an optional dependency's deletion leaves the frontend up")
	})
})

var _ = metav1.Now

// The shape of the boutique's frontend (autoscaled, delivered as a canary,
// with required dependencies), created before its dependencies exist, so
// that it is held at zero pods with a template that has none of their
// addresses: its first pods must wait for them and carry their addresses,
// which the suite's invariants check on every Pod and ReplicaSet version.
var _ = Describe("An autoscaled canary-strategy service created with its dependencies", func() {
	const holdNS = "e2e-holds"
	hkey := func(name string) client.ObjectKey { return client.ObjectKey{Namespace: holdNS, Name: name} }
	svc := func(name string, port int32, deps ...string) *msv1.Microservice {
		ms := &msv1.Microservice{ObjectMeta: metav1.ObjectMeta{Namespace: holdNS, Name: name}}
		ms.Spec.Image = "example.com/" + name + ":1.0.0"
		ms.Spec.Ports = []msv1.ServicePort{{Name: "http", Port: port}}
		for _, d := range deps {
			ms.Spec.Dependencies = append(ms.Spec.Dependencies, msv1.Dependency{Name: d})
		}
		return ms
	}

	It("starts only once they are available, and only with their addresses", func() {
		kubectl("create", "namespace", holdNS)
		web := svc("web", 80, "catalog", "currency")
		web.Spec.Autoscaling = &msv1.Autoscaling{MinReplicas: ptr.To[int32](2), MaxReplicas: 5, TargetCPUUtilizationPercentage: ptr.To[int32](70)}
		web.Spec.Rollout = &msv1.Rollout{Strategy: msv1.CanaryStrategy, Canary: &msv1.Canary{Steps: []msv1.CanaryStep{{SetWeight: ptr.To[int32](50)}}}}
		Expect(k8s.Create(ctx, web)).To(Succeed())
		Eventually(func() error {
			d := &appsv1.Deployment{}
			if err := k8s.Get(ctx, hkey("web"), d); err != nil {
				return err
			}
			if r := ptr.Deref(d.Spec.Replicas, 1); r != 0 {
				return fmt.Errorf("a service whose dependencies do not exist asks for %d pods", r)
			}
			return nil
		}, 30*time.Second, 100*time.Millisecond).Should(Succeed())

		all := []*msv1.Microservice{svc("catalog", 3550), svc("currency", 7000), web}
		for _, ms := range all[:2] {
			Expect(k8s.Create(ctx, ms)).To(Succeed())
		}
		for _, ms := range all {
			Eventually(func() bool {
				live := &msv1.Microservice{}
				return k8s.Get(ctx, hkey(ms.Name), live) == nil && live.Status.ObservedGeneration == live.Generation &&
					apimeta.IsStatusConditionTrue(live.Status.Conditions, msv1.AvailableCondition)
			}, 2*time.Minute, time.Second).Should(BeTrue(), ms.Name)
		}
		Eventually(func() error {
			d := &appsv1.Deployment{}
			if err := k8s.Get(ctx, hkey("web"), d); err != nil {
				return err
			}
			if d.Status.ReadyReplicas < 2 {
				return fmt.Errorf("not ready: %s", describeDeployment(d))
			}
			env := map[string]bool{}
			for _, e := range d.Spec.Template.Spec.Containers[0].Env {
				env[e.Name] = true
			}
			if !env["CATALOG_HOST"] || !env["CURRENCY_HOST"] {
				return fmt.Errorf("the template lacks the dependencies' addresses: %v", d.Spec.Template.Spec.Containers[0].Env)
			}
			return nil
		}, time.Minute, 250*time.Millisecond).Should(Succeed())
	})
})
