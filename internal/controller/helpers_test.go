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
	"os"
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
	"github.com/msvc-dev/msvc-operator/internal/argocd"
)

const (
	timeout  = 20 * time.Second
	interval = 100 * time.Millisecond
)

// checkout is a typical Microservice: one HTTP port, fixed replicas.
func checkout(ns string) *msv1.Microservice {
	return &msv1.Microservice{
		ObjectMeta: metav1.ObjectMeta{Name: "checkout", Namespace: ns},
		Spec: msv1.MicroserviceSpec{
			Image:    "ghcr.io/acme/checkout:1.4.2",
			Ports:    []msv1.ServicePort{{Name: "http", Port: 80, TargetPort: ptr.To[int32](8080), AppProtocol: ptr.To("http")}},
			Replicas: ptr.To[int32](2),
		},
	}
}

func withRoute(ms *msv1.Microservice) *msv1.Microservice {
	ms.Spec.Route = &msv1.Route{
		ParentRefs: []msv1.ParentReference{{Name: "public", Namespace: "gateway-system"}},
		Hostnames:  []string{"shop.example.com"},
		PathPrefix: "/checkout",
	}
	return ms
}

func withAutoscaling(ms *msv1.Microservice, minReplicas, maxReplicas int32) *msv1.Microservice {
	ms.Spec.Autoscaling = &msv1.Autoscaling{MinReplicas: ptr.To(minReplicas), MaxReplicas: maxReplicas, TargetCPUUtilizationPercentage: ptr.To[int32](70)}
	return ms
}

func key(ms *msv1.Microservice) client.ObjectKey { return client.ObjectKeyFromObject(ms) }

// getChild waits for a child of ms to exist and returns it.
func getChild[T client.Object](g Gomega, ms *msv1.Microservice, obj T) T {
	g.Eventually(func() error { return k8sClient.Get(ctx, key(ms), obj) }, timeout, interval).Should(Succeed())
	return obj
}

// condition reads a condition of the live Microservice.
func condition(ms *msv1.Microservice, t string) func() *metav1.Condition {
	return func() *metav1.Condition {
		live := &msv1.Microservice{}
		if err := k8sClient.Get(ctx, key(ms), live); err != nil {
			return nil
		}
		if live.Status.ObservedGeneration != live.Generation {
			return nil
		}
		return apimeta.FindStatusCondition(live.Status.Conditions, t)
	}
}

// haveCondition matches a condition's status and reason.
func haveCondition(status metav1.ConditionStatus, reason string) OmegaMatcher {
	return And(Not(BeNil()), HaveField("Status", status), HaveField("Reason", reason))
}

// playDeploymentController writes the status that the Deployment controller
// would write once every pod of the current template is available.
func playDeploymentController(ms *msv1.Microservice) {
	playDeployment(key(ms))
}

// playDeployment writes the status of a fully rolled-out Deployment.
func playDeployment(k client.ObjectKey) {
	Eventually(func() error {
		d := &appsv1.Deployment{}
		if err := k8sClient.Get(ctx, k, d); err != nil {
			return err
		}
		d.Status = rolledOutStatus(d)
		return k8sClient.Status().Update(ctx, d)
	}, timeout, interval).Should(Succeed())
}

// rolledOutStatus is the status the Deployment controller writes once every
// pod of d's generation is ready.
func rolledOutStatus(d *appsv1.Deployment) appsv1.DeploymentStatus {
	n := ptr.Deref(d.Spec.Replicas, 1)
	return appsv1.DeploymentStatus{
		ObservedGeneration: d.Generation,
		Replicas:           n, UpdatedReplicas: n, ReadyReplicas: n, AvailableReplicas: n,
		Conditions: []appsv1.DeploymentCondition{{
			Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue, Reason: "MinimumReplicasAvailable",
			Message: "Deployment has minimum availability.", LastUpdateTime: metav1.Now(), LastTransitionTime: metav1.Now(),
		}},
	}
}

// playGatewayController accepts (or refuses) the route on every parent, as a
// Gateway controller would.
func playGatewayController(ms *msv1.Microservice, accepted bool, reason, message string) {
	Eventually(func() error {
		r := &gwv1.HTTPRoute{}
		if err := k8sClient.Get(ctx, key(ms), r); err != nil {
			return err
		}
		status := metav1.ConditionTrue
		if !accepted {
			status = metav1.ConditionFalse
		}
		r.Status.Parents = nil
		for _, ref := range r.Spec.ParentRefs {
			r.Status.Parents = append(r.Status.Parents, gwv1.RouteParentStatus{
				ParentRef:      ref,
				ControllerName: "example.com/gateway-controller",
				Conditions: []metav1.Condition{{
					Type: string(gwv1.RouteConditionAccepted), Status: status, Reason: reason, Message: message,
					ObservedGeneration: r.Generation, LastTransitionTime: metav1.Now(),
				}},
			})
		}
		return k8sClient.Status().Update(ctx, r)
	}, timeout, interval).Should(Succeed())
}

// reconciles is how many reconciles the Microservice controllers finished.
func reconciles() float64 {
	return metricValue("controller_runtime_reconcile_total", map[string]string{"controller": "microservice"})
}

// reconcileErrors is how many reconciles of the Microservice controller failed.
func reconcileErrors() float64 {
	return metricValue("controller_runtime_reconcile_errors_total", map[string]string{"controller": "microservice"})
}

// metricValue sums the series of a counter or gauge of the operator's
// metrics registry whose labels include the given ones.
func metricValue(name string, labels map[string]string) float64 {
	families, err := ctrlmetrics.Registry.Gather()
	Expect(err).NotTo(HaveOccurred())
	total := 0.0
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	series:
		for _, m := range f.GetMetric() {
			have := map[string]string{}
			for _, l := range m.GetLabel() {
				have[l.GetName()] = l.GetValue()
			}
			for k, v := range labels {
				if have[k] != v {
					continue series
				}
			}
			total += m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	return total
}

// nudge changes an annotation of the Microservice, which makes the operator
// reconcile it without any change to its spec, and waits for that reconcile.
func nudge(ms *msv1.Microservice, value string) {
	before := reconciles()
	live := &msv1.Microservice{}
	Expect(k8sClient.Get(ctx, key(ms), live)).To(Succeed())
	patch := client.MergeFrom(live.DeepCopy())
	if live.Annotations == nil {
		live.Annotations = map[string]string{}
	}
	live.Annotations["test.msvc.dev/nudge"] = value
	Expect(k8sClient.Patch(ctx, live, patch)).To(Succeed())
	Eventually(reconciles, timeout, interval).Should(BeNumerically(">", before))
}

// updateSpec changes the live Microservice's spec with a retry on conflicts.
func updateSpec(ms *msv1.Microservice, mutate func(*msv1.MicroserviceSpec)) {
	Eventually(func() error {
		live := &msv1.Microservice{}
		if err := k8sClient.Get(ctx, key(ms), live); err != nil {
			return err
		}
		mutate(&live.Spec)
		return k8sClient.Update(ctx, live)
	}, timeout, interval).Should(Succeed())
}

// argoHealth is what Argo CD's health check (config/argocd/health.lua) says
// of the live Microservice.
func argoHealth(ms *msv1.Microservice) func() string {
	script, err := os.ReadFile(filepath.Join("..", "..", "config", "argocd", "health.lua"))
	Expect(err).NotTo(HaveOccurred())
	return func() string {
		live := &msv1.Microservice{}
		if err := k8sClient.Get(ctx, key(ms), live); err != nil {
			return err.Error()
		}
		h, err := argocd.Evaluate(string(script), live)
		Expect(err).NotTo(HaveOccurred())
		GinkgoWriter.Printf("Argo CD health of %s: %s (%s)\n", ms.Name, h.Status, h.Message)
		return h.Status
	}
}

// watchVersions calls each with every version of the object named like ms,
// of the kind of list and in ms's namespace, that the API server reports,
// until the returned stop is called. Invariant checks use it to see every
// state an object goes through, not only the last.
func watchVersions[T client.Object](ms *msv1.Microservice, list client.ObjectList, each func(T)) (stop func()) {
	return watchNamedVersions(ms, ms.Name, list, each)
}

// watchNamedVersions is watchVersions for the object called name.
func watchNamedVersions[T client.Object](ms *msv1.Microservice, name string, list client.ObjectList, each func(T)) (stop func()) {
	wc, err := client.NewWithWatch(env.cfg, client.Options{Scheme: scheme})
	Expect(err).NotTo(HaveOccurred())
	w, err := wc.Watch(ctx, list, client.InNamespace(ms.Namespace))
	Expect(err).NotTo(HaveOccurred())
	go func() {
		defer GinkgoRecover()
		for ev := range w.ResultChan() {
			if obj, ok := ev.Object.(T); ok && ev.Type != watch.Deleted && obj.GetName() == name {
				each(obj)
			}
		}
	}()
	return w.Stop
}
