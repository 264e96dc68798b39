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

package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
)

// The rollout phase: R Microservices with a canary strategy of two weight
// steps and two short pauses get a new image at once. The harness plays
// the Deployment controller (every Deployment of the phase becomes ready at
// its replica count), as envtest has none.
const (
	rolloutPrefix = "roll-"
	rolloutPause  = 5 * time.Second
)

// RolloutPhase is what the rollout phase measured.
type RolloutPhase struct {
	N int `json:"n"`
	// StepSeconds is the sum of each rollout's configured step durations.
	StepSeconds float64 `json:"configuredStepSeconds"`
	// Seconds is from the first image change to the last rollout seen
	// Succeeded; Median, P99 and Max are of each rollout's own time, from
	// its image change to its Succeeded.
	Seconds        float64 `json:"seconds"`
	MedianSeconds  float64 `json:"medianSeconds"`
	P99Seconds     float64 `json:"p99Seconds"`
	MaxSeconds     float64 `json:"maxSeconds"`
	OverheadMedian float64 `json:"overheadMedianPercent"`
	// Requests are the manager's during the phase, by verb and resource.
	Requests         map[string]int `json:"requests"`
	WritesPerRollout float64        `json:"writesPerRollout"`
	// StatusWritesPerRollout are the status patches per rollout; the steps
	// are StepChanges per rollout (start, each step, promotion, success).
	StatusWritesPerRollout float64 `json:"statusWritesPerRollout"`
	ManagerCPUSeconds      float64 `json:"managerCPUSeconds"`
}

func rolloutWorkload(n int) []*msv1.Microservice {
	out := make([]*msv1.Microservice, n)
	for i := range out {
		ms := &msv1.Microservice{ObjectMeta: metav1.ObjectMeta{Namespace: "bench", Name: fmt.Sprintf("%s%04d", rolloutPrefix, i)}}
		ms.Spec.Image = "ghcr.io/acme/roll:1.0.0"
		ms.Spec.Replicas = ptr.To[int32](2)
		ms.Spec.Ports = []msv1.ServicePort{{Name: "http", Port: 80}}
		ms.Spec.Route = &msv1.Route{ParentRefs: []msv1.ParentReference{{Name: "public", Namespace: "gateway-system"}}, PathPrefix: "/" + ms.Name}
		pause := &metav1.Duration{Duration: rolloutPause}
		ms.Spec.Rollout = &msv1.Rollout{Strategy: msv1.CanaryStrategy, Canary: &msv1.Canary{Steps: []msv1.CanaryStep{
			{SetWeight: ptr.To[int32](20)}, {Pause: &msv1.PauseStep{Duration: pause}},
			{SetWeight: ptr.To[int32](50)}, {Pause: &msv1.PauseStep{Duration: pause}},
		}}}
		out[i] = ms
	}
	return out
}

// playDeployments makes every Deployment of the rollout phase ready at its
// replica count for its generation, as the Deployment controller and the
// kubelet would, until ctx ends.
func playDeployments(ctx context.Context, c cache.Cache, admin client.Client) error {
	inf, err := c.GetInformer(ctx, &appsv1.Deployment{})
	if err != nil {
		return err
	}
	queue := make(chan string, 4096)
	enqueue := func(o any) {
		if d, ok := o.(*appsv1.Deployment); ok && strings.HasPrefix(d.Name, rolloutPrefix) && !played(d) {
			select {
			case queue <- d.Name:
			case <-ctx.Done():
			}
		}
	}
	if _, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{AddFunc: enqueue, UpdateFunc: func(_, o any) { enqueue(o) }}); err != nil {
		return err
	}
	for range 4 {
		go func() {
			for {
				select {
				case <-ctx.Done():
					return
				case name := <-queue:
					d := &appsv1.Deployment{}
					if err := admin.Get(ctx, client.ObjectKey{Namespace: "bench", Name: name}, d); err != nil || played(d) {
						continue
					}
					n := ptr.Deref(d.Spec.Replicas, 1)
					d.Status = appsv1.DeploymentStatus{ObservedGeneration: d.Generation, Replicas: n, UpdatedReplicas: n, ReadyReplicas: n, AvailableReplicas: n}
					if err := admin.Status().Update(ctx, d); err != nil {
						// A newer version will come through the informer.
						continue
					}
				}
			}
		}()
	}
	return nil
}

func played(d *appsv1.Deployment) bool {
	n := ptr.Deref(d.Spec.Replicas, 1)
	return d.Status.ObservedGeneration == d.Generation && d.Status.ReadyReplicas == n && d.Status.UpdatedReplicas == n && d.Status.Replicas == n
}

// rolloutTimes records when each rollout was asked for and when its
// Microservice was first seen Succeeded at the new image's revision.
type rolloutTimes struct {
	mu        sync.Mutex
	asked     map[string]time.Time
	succeeded map[string]time.Time
	// stableAt is the stable revision each Microservice had before.
	stableAt map[string]string
}

func (t *rolloutTimes) observe(ms *msv1.Microservice) {
	if !strings.HasPrefix(ms.Name, rolloutPrefix) || ms.Status.Rollout == nil {
		return
	}
	st := ms.Status.Rollout
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.asked == nil {
		return
	}
	before, ok := t.stableAt[ms.Name]
	if !ok || st.Phase != msv1.RolloutPhaseSucceeded || st.StableRevision == before || ms.Status.ObservedGeneration != ms.Generation {
		return
	}
	if _, seen := t.succeeded[ms.Name]; !seen {
		t.succeeded[ms.Name] = time.Now()
	}
}

// measureRollouts runs the rollout phase on r Microservices.
func measureRollouts(ctx context.Context, admin client.Client, watched cache.Cache, op *managerProcess, r, concurrency int, times *rolloutTimes) (*RolloutPhase, error) {
	services := rolloutWorkload(r)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if err := playDeployments(ctx, watched, admin); err != nil {
		return nil, err
	}
	if err := parallel(len(services), concurrency, func(i int) error { return admin.Create(ctx, services[i].DeepCopy()) }); err != nil {
		return nil, err
	}
	// Every Microservice at rest (Idle, stable ready) before the change.
	stable := map[string]string{}
	deadline := time.Now().Add(10 * time.Minute)
	for len(stable) < r {
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("rollout phase: %d of %d Microservices at rest after 10 minutes", len(stable), r)
		}
		time.Sleep(500 * time.Millisecond)
		list := &msv1.MicroserviceList{}
		if err := watched.List(ctx, list, client.InNamespace("bench")); err != nil {
			return nil, err
		}
		for i := range list.Items {
			ms := &list.Items[i]
			if strings.HasPrefix(ms.Name, rolloutPrefix) && ms.Status.Rollout != nil && ms.Status.Rollout.StableRevision != "" &&
				ms.Status.ObservedGeneration == ms.Generation && ms.Status.Rollout.Phase == msv1.RolloutPhaseIdle {
				stable[ms.Name] = ms.Status.Rollout.StableRevision
			}
		}
	}
	time.Sleep(3 * time.Second) // the last status writes of the create settle
	before, err := op.stats()
	if err != nil {
		return nil, err
	}
	times.mu.Lock()
	times.asked, times.succeeded, times.stableAt = map[string]time.Time{}, map[string]time.Time{}, stable
	times.mu.Unlock()
	start := time.Now()
	if err := parallel(len(services), concurrency, func(i int) error {
		ms := &msv1.Microservice{}
		if err := admin.Get(ctx, client.ObjectKeyFromObject(services[i]), ms); err != nil {
			return err
		}
		ms.Spec.Image = "ghcr.io/acme/roll:2.0.0"
		times.mu.Lock()
		times.asked[ms.Name] = time.Now()
		times.mu.Unlock()
		return admin.Update(ctx, ms)
	}); err != nil {
		return nil, err
	}
	deadline = time.Now().Add(30 * time.Minute)
	for {
		times.mu.Lock()
		done := len(times.succeeded)
		times.mu.Unlock()
		if done == r {
			break
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("rollout phase: %d of %d rollouts Succeeded after 30 minutes", done, r)
		}
		time.Sleep(200 * time.Millisecond)
	}
	res := &RolloutPhase{N: r, StepSeconds: (2 * rolloutPause).Seconds(), Seconds: time.Since(start).Seconds()}
	// The last writes of the rollouts (the canary scaled to zero) settle.
	time.Sleep(3 * time.Second)
	after, err := op.stats()
	if err != nil {
		return nil, err
	}
	res.Requests = diff(after.Requests, before.Requests)
	res.WritesPerRollout = float64(writes(res.Requests)) / float64(r)
	res.StatusWritesPerRollout = float64(res.Requests["PATCH microservices/status"]) / float64(r)
	res.ManagerCPUSeconds = after.CPUSeconds - before.CPUSeconds
	times.mu.Lock()
	var each []time.Duration
	for name, asked := range times.asked {
		each = append(each, times.succeeded[name].Sub(asked))
	}
	times.mu.Unlock()
	res.MedianSeconds, res.P99Seconds, res.MaxSeconds = percentiles(each)
	res.OverheadMedian = 100 * (res.MedianSeconds - res.StepSeconds) / res.StepSeconds
	return res, nil
}

func reportRollouts(p *RolloutPhase) {
	fmt.Printf("\nrollout phase: %d canaries (setWeight 20, pause %s, setWeight 50, pause %s) get a new image at once\n", p.N, rolloutPause, rolloutPause)
	fmt.Printf("%-46s %12.1f s\n", "configured step durations per rollout", p.StepSeconds)
	fmt.Printf("%-46s %12.1f s\n", "first change -> last rollout Succeeded", p.Seconds)
	fmt.Printf("%-46s %12.1f s\n", "each rollout: median", p.MedianSeconds)
	fmt.Printf("%-46s %12.1f s\n", "  99th percentile", p.P99Seconds)
	fmt.Printf("%-46s %12.1f s\n", "  slowest", p.MaxSeconds)
	fmt.Printf("%-46s %12.0f %%\n", "  median over the configured durations", p.OverheadMedian)
	fmt.Printf("%-46s %12.2f\n", "writes per rollout", p.WritesPerRollout)
	fmt.Printf("%-46s %12.2f\n", "  of them status patches", p.StatusWritesPerRollout)
	fmt.Printf("%-46s %12.1f s\n", "manager CPU during the phase", p.ManagerCPUSeconds)
	fmt.Printf("requests of the rollout phase, by verb and resource:\n")
	printRequests(p.Requests)
}
