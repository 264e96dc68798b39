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
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
	"github.com/msvc-dev/msvc-operator/internal/testutil/promserver"
)

// The rollout phase: R Microservices with a canary strategy of two weight
// steps and two short pauses get a new image at once. The harness plays
// the Deployment controller (every Deployment of the phase becomes ready at
// its replica count), as envtest has none.
const (
	rolloutPrefix = "roll-"
	rolloutPause  = 5 * time.Second
	// The analysis variant: its own Microservices, whose first pause is an
	// analysis step of analysisCount measurements, analysisInterval apart,
	// of one metric on a real Prometheus.
	analysisPrefix   = "rolla-"
	analysisInterval = 2 * time.Second
	analysisCount    = 2
)

// rolloutVariant is what one run of the rollout phase delivers.
type rolloutVariant struct {
	prefix string
	// prometheus is the address of the Prometheus the analysis step
	// queries; empty for the variant without analysis.
	prometheus string
}

func (v rolloutVariant) stepSeconds() float64 {
	if v.prometheus == "" {
		return (2 * rolloutPause).Seconds()
	}
	return (analysisCount*analysisInterval + rolloutPause).Seconds()
}

// RolloutPhase is what the rollout phase measured.
type RolloutPhase struct {
	N int `json:"n"`
	// Analysis is true for the variant whose first pause is an analysis
	// step against a real Prometheus.
	Analysis bool `json:"analysis"`
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

	// The analysis variant: each rollout's analysis step, from the status
	// that starts it to the one that leaves it, against the configured
	// count times interval; the queries Prometheus answered during the
	// phase, per rollout and per measurement; and Prometheus's own mean
	// time to answer one (prometheus_http_request_duration_seconds).
	AnalysisStepSeconds       float64 `json:"analysisStepSeconds,omitempty"`
	AnalysisStepMedianSeconds float64 `json:"analysisStepMedianSeconds,omitempty"`
	AnalysisStepP99Seconds    float64 `json:"analysisStepP99Seconds,omitempty"`
	AnalysisStepMaxSeconds    float64 `json:"analysisStepMaxSeconds,omitempty"`
	PrometheusQueries         int     `json:"prometheusQueries,omitempty"`
	QueriesPerMeasurement     float64 `json:"queriesPerMeasurement,omitempty"`
	QueryMeanMillis           float64 `json:"prometheusQueryMeanMillis,omitempty"`
}

func rolloutWorkload(n int, v rolloutVariant) []*msv1.Microservice {
	out := make([]*msv1.Microservice, n)
	for i := range out {
		ms := &msv1.Microservice{ObjectMeta: metav1.ObjectMeta{Namespace: "bench", Name: fmt.Sprintf("%s%04d", v.prefix, i)}}
		ms.Spec.Image = "ghcr.io/acme/roll:1.0.0"
		ms.Spec.Replicas = ptr.To[int32](2)
		ms.Spec.Ports = []msv1.ServicePort{{Name: "http", Port: 80}}
		ms.Spec.Route = &msv1.Route{ParentRefs: []msv1.ParentReference{{Name: "public", Namespace: "gateway-system"}}, PathPrefix: "/" + ms.Name}
		pause := &metav1.Duration{Duration: rolloutPause}
		ms.Spec.Rollout = &msv1.Rollout{Strategy: msv1.CanaryStrategy, Canary: &msv1.Canary{Steps: []msv1.CanaryStep{
			{SetWeight: ptr.To[int32](20)}, {Pause: &msv1.PauseStep{Duration: pause}},
			{SetWeight: ptr.To[int32](50)}, {Pause: &msv1.PauseStep{Duration: pause}},
		}}}
		if v.prometheus != "" {
			c := ms.Spec.Rollout.Canary
			c.Steps[1] = msv1.CanaryStep{Analysis: &msv1.AnalysisStep{}}
			c.Analysis = &msv1.Analysis{
				Interval: &metav1.Duration{Duration: analysisInterval},
				Count:    ptr.To[int32](analysisCount),
				Provider: &msv1.MetricProvider{Prometheus: &msv1.PrometheusProvider{Address: v.prometheus}},
				Metrics: []msv1.Metric{{
					Name: "success-ratio", Query: "min(bench_success_ratio)",
					SuccessCondition: msv1.SuccessCondition{Min: ptr.To("0.99")},
				}},
			}
		}
		out[i] = ms
	}
	return out
}

// playDeployments makes every Deployment of the rollout phase ready at its
// replica count for its generation, with the conditions the Deployment
// controller writes then, as it and the kubelet would, until ctx ends.
func playDeployments(ctx context.Context, c cache.Cache, admin client.Client, prefix string) error {
	inf, err := c.GetInformer(ctx, &appsv1.Deployment{})
	if err != nil {
		return err
	}
	queue := make(chan string, 4096)
	enqueue := func(o any) {
		if d, ok := o.(*appsv1.Deployment); ok && strings.HasPrefix(d.Name, prefix) && !played(d) {
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
					now := metav1.Now()
					d.Status = appsv1.DeploymentStatus{
						ObservedGeneration: d.Generation, Replicas: n, UpdatedReplicas: n, ReadyReplicas: n, AvailableReplicas: n,
						Conditions: []appsv1.DeploymentCondition{
							{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue, Reason: "MinimumReplicasAvailable",
								Message: "Deployment has minimum availability.", LastUpdateTime: now, LastTransitionTime: now},
							{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionTrue, Reason: "NewReplicaSetAvailable",
								Message: "ReplicaSet has successfully progressed.", LastUpdateTime: now, LastTransitionTime: now},
						},
					}
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
	mu sync.Mutex
	// prefix names the Microservices of the phase under way.
	prefix    string
	asked     map[string]time.Time
	succeeded map[string]time.Time
	// analysisFrom and analysisTo are when each rollout was first seen at
	// its analysis step (step 1) and first seen past it.
	analysisFrom, analysisTo map[string]time.Time
	// stableAt is the stable revision each Microservice had before.
	stableAt map[string]string
}

func (t *rolloutTimes) observe(ms *msv1.Microservice) {
	if ms.Status.Rollout == nil {
		return
	}
	st := ms.Status.Rollout
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.asked == nil || !strings.HasPrefix(ms.Name, t.prefix) {
		return
	}
	before, ok := t.stableAt[ms.Name]
	if !ok || ms.Status.ObservedGeneration != ms.Generation || st.StableRevision == before && st.CanaryRevision == before {
		return
	}
	now := time.Now()
	if st.CurrentStep != nil && *st.CurrentStep == 1 {
		if _, seen := t.analysisFrom[ms.Name]; !seen {
			t.analysisFrom[ms.Name] = now
		}
	} else if _, from := t.analysisFrom[ms.Name]; from {
		if _, seen := t.analysisTo[ms.Name]; !seen {
			t.analysisTo[ms.Name] = now
		}
	}
	if st.Phase != msv1.RolloutPhaseSucceeded || st.StableRevision == before {
		return
	}
	if _, seen := t.succeeded[ms.Name]; !seen {
		t.succeeded[ms.Name] = time.Now()
	}
}

// measureRollouts runs the rollout phase on r Microservices.
func measureRollouts(ctx context.Context, admin client.Client, watched cache.Cache, op *managerProcess, r, concurrency int, times *rolloutTimes, v rolloutVariant) (*RolloutPhase, error) {
	services := rolloutWorkload(r, v)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if err := playDeployments(ctx, watched, admin, v.prefix); err != nil {
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
			if strings.HasPrefix(ms.Name, v.prefix) && ms.Status.Rollout != nil && ms.Status.Rollout.StableRevision != "" &&
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
	var queriesBefore promQueries
	if v.prometheus != "" {
		if queriesBefore, err = queriesOf(ctx, v.prometheus); err != nil {
			return nil, err
		}
	}
	times.mu.Lock()
	times.prefix, times.asked, times.succeeded, times.stableAt = v.prefix, map[string]time.Time{}, map[string]time.Time{}, stable
	times.analysisFrom, times.analysisTo = map[string]time.Time{}, map[string]time.Time{}
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
	res := &RolloutPhase{N: r, Analysis: v.prometheus != "", StepSeconds: v.stepSeconds(), Seconds: time.Since(start).Seconds()}
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
	var analysis []time.Duration
	for name, from := range times.analysisFrom {
		if to, ok := times.analysisTo[name]; ok {
			analysis = append(analysis, to.Sub(from))
		}
	}
	times.mu.Unlock()
	res.MedianSeconds, res.P99Seconds, res.MaxSeconds = percentiles(each)
	res.OverheadMedian = 100 * (res.MedianSeconds - res.StepSeconds) / res.StepSeconds
	if v.prometheus != "" {
		if len(analysis) != r {
			return nil, fmt.Errorf("rollout phase: %d of %d rollouts were seen entering and leaving their analysis step", len(analysis), r)
		}
		res.AnalysisStepSeconds = (analysisCount * analysisInterval).Seconds()
		res.AnalysisStepMedianSeconds, res.AnalysisStepP99Seconds, res.AnalysisStepMaxSeconds = percentiles(analysis)
		after, err := queriesOf(ctx, v.prometheus)
		if err != nil {
			return nil, err
		}
		res.PrometheusQueries = int(after.count - queriesBefore.count)
		res.QueriesPerMeasurement = float64(res.PrometheusQueries) / float64(r*analysisCount)
		if res.PrometheusQueries > 0 {
			res.QueryMeanMillis = 1000 * (after.seconds - queriesBefore.seconds) / float64(res.PrometheusQueries)
		}
	}
	return res, nil
}

func reportRollouts(p *RolloutPhase) {
	if p.Analysis {
		fmt.Printf("\nrollout phase with analysis: %d canaries (setWeight 20, analysis of %d measurements %s apart on a real Prometheus, setWeight 50, pause %s) get a new image at once\n",
			p.N, analysisCount, analysisInterval, rolloutPause)
	} else {
		fmt.Printf("\nrollout phase: %d canaries (setWeight 20, pause %s, setWeight 50, pause %s) get a new image at once\n", p.N, rolloutPause, rolloutPause)
	}
	fmt.Printf("%-46s %12.1f s\n", "configured step durations per rollout", p.StepSeconds)
	fmt.Printf("%-46s %12.1f s\n", "first change -> last rollout Succeeded", p.Seconds)
	fmt.Printf("%-46s %12.1f s\n", "each rollout: median", p.MedianSeconds)
	fmt.Printf("%-46s %12.1f s\n", "  99th percentile", p.P99Seconds)
	fmt.Printf("%-46s %12.1f s\n", "  slowest", p.MaxSeconds)
	fmt.Printf("%-46s %12.0f %%\n", "  median over the configured durations", p.OverheadMedian)
	fmt.Printf("%-46s %12.2f\n", "writes per rollout", p.WritesPerRollout)
	fmt.Printf("%-46s %12.2f\n", "  of them status patches", p.StatusWritesPerRollout)
	fmt.Printf("%-46s %12.1f s\n", "manager CPU during the phase", p.ManagerCPUSeconds)
	if p.Analysis {
		fmt.Printf("%-46s %12.1f s\n", "analysis step: configured count x interval", p.AnalysisStepSeconds)
		fmt.Printf("%-46s %12.1f s\n", "  each rollout's step: median", p.AnalysisStepMedianSeconds)
		fmt.Printf("%-46s %12.1f s\n", "  99th percentile", p.AnalysisStepP99Seconds)
		fmt.Printf("%-46s %12.1f s\n", "  slowest", p.AnalysisStepMaxSeconds)
		fmt.Printf("%-46s %12d\n", "queries Prometheus answered", p.PrometheusQueries)
		fmt.Printf("%-46s %12.2f\n", "  per measurement (1 metric each)", p.QueriesPerMeasurement)
		fmt.Printf("%-46s %12.2f ms\n", "  Prometheus's mean time per query", p.QueryMeanMillis)
	}
	fmt.Printf("requests of the rollout phase, by verb and resource:\n")
	printRequests(p.Requests)
}

// exporter serves the one series the analysis variant's metric reads, for
// the real Prometheus to scrape, until ctx ends.
func exporter(ctx context.Context) (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = fmt.Fprint(w, "# TYPE bench_success_ratio gauge\nbench_success_ratio 1\n")
	})}
	go func() { _ = srv.Serve(l) }()
	go func() { <-ctx.Done(); _ = srv.Close() }()
	return l.Addr().String(), nil
}

// promQueries is what Prometheus says of the instant queries it answered.
type promQueries struct {
	count   float64
	seconds float64
}

// queriesOf reads Prometheus's own metrics of its /api/v1/query handler.
func queriesOf(ctx context.Context, url string) (promQueries, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/metrics", nil)
	if err != nil {
		return promQueries{}, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return promQueries{}, err
	}
	defer func() { _ = resp.Body.Close() }()
	var q promQueries
	found := false
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.Contains(line, `handler="/api/v1/query"`) {
			continue
		}
		fields := strings.Fields(line)
		v, err := strconv.ParseFloat(fields[len(fields)-1], 64)
		if err != nil {
			continue
		}
		switch {
		case strings.HasPrefix(line, "prometheus_http_request_duration_seconds_count{"):
			q.count += v
			found = true
		case strings.HasPrefix(line, "prometheus_http_request_duration_seconds_sum{"):
			q.seconds += v
		}
	}
	if err := sc.Err(); err != nil {
		return promQueries{}, err
	}
	if !found {
		// Before its first query Prometheus has no series of the handler.
		return promQueries{}, nil
	}
	return q, nil
}

// measureRolloutsWithAnalysis runs the rollout phase's analysis variant
// against a real Prometheus that scrapes the harness's exporter each second.
func measureRolloutsWithAnalysis(ctx context.Context, admin client.Client, watched cache.Cache, op *managerProcess, r, concurrency int, times *rolloutTimes) (*RolloutPhase, error) {
	bin, err := promserver.Find()
	if err != nil {
		return nil, fmt.Errorf("the rollout phase with analysis needs a Prometheus: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	target, err := exporter(ctx)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "msvc-bench-prometheus-")
	if err != nil {
		return nil, err
	}
	defer func() { _ = os.RemoveAll(dir) }()
	prom, err := promserver.Start(bin, dir, target)
	if err != nil {
		return nil, err
	}
	defer func() { _ = prom.Stop() }()
	// The series exists once Prometheus has scraped it.
	deadline := time.Now().Add(30 * time.Second)
	for {
		if ok, err := hasSeries(ctx, prom.URL); err == nil && ok {
			break
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("prometheus at %s has no bench_success_ratio after 30s; log:\n%s", prom.URL, prom.LogTail())
		}
		time.Sleep(500 * time.Millisecond)
	}
	return measureRollouts(ctx, admin, watched, op, r, concurrency, times, rolloutVariant{prefix: analysisPrefix, prometheus: prom.URL})
}

func hasSeries(ctx context.Context, url string) (bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/api/v1/query?query=bench_success_ratio", nil)
	if err != nil {
		return false, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false, err
	}
	defer func() { _ = resp.Body.Close() }()
	var body struct {
		Data struct {
			Result []json.RawMessage `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return false, err
	}
	return len(body.Data.Result) > 0, nil
}
