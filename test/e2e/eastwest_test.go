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
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// endpointSampler reads, every 200 ms, the EndpointSlices that the real
// EndpointSlice controller keeps for the Service that dependents call, and
// the IPs of the canary's ready pods: while a route weighs the canary, no
// in-cluster caller may reach a canary pod through that Service.
type endpointSampler struct {
	stopCh, done chan struct{}

	mu sync.Mutex
	// samples counts the samples taken while the canary had a ready pod.
	samples    int
	violations []string
}

func sampleEndpoints(namespace, service string) *endpointSampler {
	e := &endpointSampler{stopCh: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer GinkgoRecover()
		defer close(e.done)
		for deadline := time.Now().Add(10 * time.Minute); time.Now().Before(deadline); {
			e.sample(namespace, service)
			select {
			case <-e.stopCh:
				return
			case <-time.After(200 * time.Millisecond):
			}
		}
	}()
	return e
}

func (e *endpointSampler) sample(namespace, service string) {
	pods := &corev1.PodList{}
	if k8s.List(ctx, pods, client.InNamespace(namespace), client.MatchingLabels{"apps.msvc.dev/microservice": service, "apps.msvc.dev/track": "canary"}) != nil {
		return
	}
	canary := map[string]string{}
	for _, p := range pods.Items {
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue && p.Status.PodIP != "" {
				canary[p.Status.PodIP] = p.Name
			}
		}
	}
	if len(canary) == 0 {
		return
	}
	slices := &discoveryv1.EndpointSliceList{}
	if k8s.List(ctx, slices, client.InNamespace(namespace), client.MatchingLabels{discoveryv1.LabelServiceName: service}) != nil {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.samples++
	for _, s := range slices.Items {
		for _, ep := range s.Endpoints {
			for _, ip := range ep.Addresses {
				if pod, ok := canary[ip]; ok {
					e.violations = append(e.violations, fmt.Sprintf("%s: EndpointSlice %s of Service %s holds canary pod %s (%s)",
						time.Now().Format(time.TimeOnly), s.Name, service, pod, ip))
				}
			}
		}
	}
}

// stop ends the sampling and returns the samples taken while the canary
// had ready pods and what was wrong in them.
func (e *endpointSampler) stop() (int, []string) {
	close(e.stopCh)
	<-e.done
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.samples, append([]string(nil), e.violations...)
}
