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
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
	"github.com/msvc-dev/msvc-operator/internal/builder"
)

// deploymentPlayer plays the Deployment controller for a whole namespace:
// every stable Deployment that asks for pods gets them, ready, and the time
// it first asked for pods is recorded.
type deploymentPlayer struct {
	mu      sync.Mutex
	started map[string]time.Time
}

func (p *deploymentPlayer) run(ns string, stop <-chan struct{}) {
	defer GinkgoRecover()
	for {
		select {
		case <-stop:
			return
		case <-time.After(50 * time.Millisecond):
		}
		list := &appsv1.DeploymentList{}
		if err := k8sClient.List(ctx, list, client.InNamespace(ns)); err != nil {
			continue
		}
		for i := range list.Items {
			d := &list.Items[i]
			n := ptr.Deref(d.Spec.Replicas, 1)
			if n == 0 || d.Labels[builder.LabelTrack] == builder.TrackCanary {
				continue
			}
			p.mu.Lock()
			if _, ok := p.started[d.Name]; !ok {
				p.started[d.Name] = time.Now()
			}
			p.mu.Unlock()
			if d.Status.ObservedGeneration == d.Generation && d.Status.AvailableReplicas == n {
				continue
			}
			playDeployment(client.ObjectKeyFromObject(d))
		}
	}
}

func (p *deploymentPlayer) startedAt(name string) (time.Time, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	t, ok := p.started[name]
	return t, ok
}

var _ = Describe("The boutique sample applied at once", func() {
	It("comes up in dependency order", func() {
		ns := newNamespace()
		files, err := filepath.Glob("../../samples/boutique/*.yaml")
		Expect(err).NotTo(HaveOccurred())
		Expect(files).To(HaveLen(12), "the twelve services of Online Boutique")

		var all []*msv1.Microservice
		for _, f := range files {
			data, err := os.ReadFile(f)
			Expect(err).NotTo(HaveOccurred())
			ms := &msv1.Microservice{}
			Expect(yaml.UnmarshalStrict(data, ms)).To(Succeed(), f)
			ms.Namespace = ns
			all = append(all, ms)
		}
		// Applied at once, dependents first: the operator, not the order of
		// the files, decides what starts when.
		for i := len(all) - 1; i >= 0; i-- {
			Expect(k8sClient.Create(ctx, all[i])).To(Succeed())
		}

		player := &deploymentPlayer{started: map[string]time.Time{}}
		stop := make(chan struct{})
		go player.run(ns, stop)
		defer close(stop)

		for _, ms := range all {
			Eventually(condition(ms, msv1.AvailableCondition), 60*time.Second, interval).Should(
				haveCondition("True", msv1.ReasonSucceeded), ms.Name)
		}
		edges := 0
		for _, ms := range all {
			started, ok := player.startedAt(ms.Name)
			Expect(ok).To(BeTrue(), ms.Name)
			for _, d := range ms.Spec.Dependencies {
				if d.Optional {
					continue
				}
				depStarted, ok := player.startedAt(d.Name)
				Expect(ok).To(BeTrue(), d.Name)
				Expect(depStarted.Before(started)).To(BeTrue(), "%s started at %v, before its dependency %s at %v", ms.Name, started, d.Name, depStarted)
				edges++
			}
		}
		Expect(edges).To(Equal(15), "required dependency edges checked")
		GinkgoWriter.Printf("Boutique: %d services up, %d dependency edges in order\n", len(all), edges)
	})
})
