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

// Command bench measures the operator against the API server's own floor.
//
// It starts an envtest control plane (KUBEBUILDER_ASSETS), and for N
// Microservices of realistic shape measures: the time from create until every
// Microservice's children exist and its status is observed; the operator's
// API requests by verb and resource; its writes during a quiet period that
// begins with a full resync (every Microservice reconciled once more, on
// demand, while the periodic resync keeps its production default); the requests and time of a bulk image change; and the
// manager's peak heap and RSS. The manager runs as a process of its own (this
// binary again, with -manager), configured as cmd/main.go configures it, so
// that its memory is its own; the harness waits on informers, not on polled
// lists. The floor is the same child objects applied
// straight to the same API server by a plain server-side-apply loop with the
// same concurrency, in the same run. Each phase (the floors, the operator)
// runs on a control plane of its own, started afresh from the same binaries
// and flags. It prints a table and writes JSON.
//
//	go run ./test/bench -n 1000 -out bench-1000.json   (make bench N=1000)
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"go.uber.org/zap/zapcore"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
	"github.com/msvc-dev/msvc-operator/internal/builder"
	mscontroller "github.com/msvc-dev/msvc-operator/internal/controller"
	"github.com/msvc-dev/msvc-operator/internal/memlimit"
	"github.com/msvc-dev/msvc-operator/internal/ssa"
	"github.com/msvc-dev/msvc-operator/internal/traffic"
)

// counter counts requests by "VERB resource"; those the server refused or
// that failed on the way once more, by "failed VERB resource CODE"; and
// patches that change nothing once more, by "empty PATCH resource".
type counter struct {
	mu sync.Mutex
	m  map[string]int
}

func (c *counter) RoundTrip(next http.RoundTripper) http.RoundTripper {
	return roundTripper(func(req *http.Request) (*http.Response, error) {
		key := req.Method + " " + resourceOf(req.URL.Path)
		c.add(key)
		if req.Method == http.MethodPatch && req.GetBody != nil && emptyPatch(req) {
			c.add(emptyPrefix + key)
		}
		resp, err := next.RoundTrip(req)
		switch {
		case err != nil:
			c.add(failedPrefix + key + " error")
		case resp.StatusCode >= 400:
			c.add(failedPrefix + key + " " + strconv.Itoa(resp.StatusCode))
		}
		return resp, err
	})
}

func (c *counter) add(key string) {
	c.mu.Lock()
	c.m[key]++
	c.mu.Unlock()
}

func (c *counter) snapshot() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]int{}
	for k, v := range c.m {
		out[k] = v
	}
	return out
}

func diff(after, before map[string]int) map[string]int {
	out := map[string]int{}
	for k, v := range after {
		if d := v - before[k]; d > 0 {
			out[k] = d
		}
	}
	return out
}

const (
	failedPrefix = "failed "
	emptyPrefix  = "empty "
)

// emptyPatch is true for a patch that changes nothing: a status written
// again as it was costs the API server a write and every watcher an event.
func emptyPatch(req *http.Request) bool {
	body, err := req.GetBody()
	if err != nil {
		return false
	}
	defer func() { _ = body.Close() }()
	b, err := io.ReadAll(io.LimitReader(body, 64))
	if err != nil {
		return false
	}
	switch strings.TrimSpace(string(b)) {
	case "{}", `{"status":{}}`, `{"metadata":{}}`:
		return true
	}
	return false
}

// writes counts the write requests sent, refused ones too (each cost the
// API server a request); the failed and empty counts are not requests of
// their own.
func writes(m map[string]int) int {
	n := 0
	for k, v := range m {
		if !strings.HasPrefix(k, "GET ") && !strings.HasPrefix(k, failedPrefix) && !strings.HasPrefix(k, emptyPrefix) {
			n += v
		}
	}
	return n
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// resourceOf turns /apis/apps/v1/namespaces/ns/deployments/x/status into deployments/status.
func resourceOf(path string) string {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	for i := 0; i+2 < len(parts); i++ {
		if parts[i] == "namespaces" {
			rest := parts[i+2:]
			if len(rest) > 2 {
				return rest[0] + "/" + rest[2]
			}
			return rest[0]
		}
	}
	if len(parts) > 0 {
		return parts[len(parts)-1]
	}
	return path
}

// Result is what one run measured; it is written as JSON.
type Result struct {
	N            int     `json:"n"`
	MemoryLimit  string  `json:"memoryLimit,omitempty"`
	QPS          float32 `json:"qps"`
	Burst        int     `json:"burst"`
	Concurrency  int     `json:"concurrency"`
	Children     int     `json:"children"`
	FloorSeconds float64 `json:"floorSeconds"`
	FloorWrites  int     `json:"floorWrites"`
	// FloorWithMicroservicesSeconds also creates each Microservice and writes its status once.
	FloorWithMicroservicesSeconds float64        `json:"floorWithMicroservicesSeconds"`
	RatioToFloorWithMicroservices float64        `json:"ratioToFloorWithMicroservices"`
	CreateSeconds                 float64        `json:"createSeconds"`
	RatioToFloor                  float64        `json:"ratioToFloor"`
	CreateRequests                map[string]int `json:"createRequests"`
	CreateWritesPerMS             float64        `json:"createWritesPerMicroservice"`
	ChildrenPlusStatusPerMS       float64        `json:"childrenPlusOneStatusPerMicroservice"`
	SettleSeconds                 float64        `json:"settleSeconds"`
	SettleRequests                map[string]int `json:"settleRequests"`
	QuietSeconds                  float64        `json:"quietSeconds"`
	ResyncReconciles              int            `json:"resyncReconciles"`
	ResyncSeconds                 float64        `json:"resyncSeconds"`
	QuietWrites                   int            `json:"quietWrites"`
	QuietRequests                 map[string]int `json:"quietRequests"`
	BulkSeconds                   float64        `json:"bulkChangeSeconds"`
	BulkRequests                  map[string]int `json:"bulkChangeRequests"`
	// FirstStatus* are, over the Microservices of the create, the time
	// from the harness's create request to the first status the harness's
	// informer sees (observedGeneration set).
	FirstStatusP50Seconds float64 `json:"firstStatusP50Seconds"`
	FirstStatusP99Seconds float64 `json:"firstStatusP99Seconds"`
	FirstStatusMaxSeconds float64 `json:"firstStatusMaxSeconds"`
	// FirstStatusOver5s counts the Microservices whose first status came
	// more than 5 s after their create.
	FirstStatusOver5s int     `json:"firstStatusOver5s"`
	PeakHeapMiB       float64 `json:"peakHeapMiB"`
	PeakRSSMiB        float64 `json:"peakRSSMiB"`
	// ManagerCPUSeconds is the manager process's CPU time from its start
	// to the end of the bulk change.
	ManagerCPUSeconds float64 `json:"managerCPUSeconds"`
	// ManagerGOGC is the GOGC the manager process ran with ("" for the
	// operator's default, memlimit.DefaultGCPercent).
	ManagerGOGC    string  `json:"managerGOGC,omitempty"`
	PeakAnonRSSMiB float64 `json:"peakAnonRSSMiB"`
	// Rollouts is the rollout phase's, when -rollouts asks for it.
	Rollouts *RolloutPhase `json:"rollouts,omitempty"`
	// RolloutsWithAnalysis is the rollout phase's analysis variant, when
	// -rollout-analysis asks for it.
	RolloutsWithAnalysis *RolloutPhase `json:"rolloutsWithAnalysis,omitempty"`
}

func main() {
	n := flag.Int("n", 1000, "Microservices")
	concurrency := flag.Int("concurrency", 8, "concurrent reconciles, and goroutines of the floor")
	quiet := flag.Duration("quiet", 20*time.Second, "quiet period after convergence, after a full resync")
	rollouts := flag.Int("rollouts", 0, "then run the rollout phase on this many canaries (0: skip it)")
	rolloutAnalysis := flag.Bool("rollout-analysis", false, "with -rollouts, run the rollout phase again on as many new canaries whose first pause is an analysis step against a real Prometheus ($PROMETHEUS_BIN, /usr/bin/prometheus or $PATH)")
	withFloor := flag.Bool("floor", true, "measure the floors; -floor=false skips them (no ratios), for quicker profiling runs")
	out := flag.String("out", "", "JSON output file (default bench-N.json)")
	qps := flag.Float64("qps", mscontroller.DefaultKubeAPIQPS, "the operator's --kube-api-qps (default: what the operator ships with)")
	burst := flag.Int("burst", mscontroller.DefaultKubeAPIBurst, "the operator's --kube-api-burst (default: what the operator ships with)")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the manager process during the create phase to this file")
	heapProfile := flag.String("heapprofile", "", "write a heap profile of the manager process, taken at rest at the end of the quiet period, to this file")
	memoryLimit := flag.String("memory-limit", "", "run the manager under this container memory limit (MEMORY_LIMIT, for example 160Mi), as the manifests do; the Go soft limit is 90% of it")
	manager := flag.Bool(managerFlag, false, "run as the manager process (the bench starts it so)")
	kubeconfig := flag.String("manager-kubeconfig", "", "the manager process's kubeconfig")
	statsAddr := flag.String("stats-addr", "", "where the manager process serves its stats")
	flag.Parse()
	if *out == "" {
		*out = fmt.Sprintf("bench-%d.json", *n)
	}
	// Errors only; reconciles cancelled at shutdown are not worth reporting.
	ctrl.SetLogger(zap.New(zap.WriteTo(os.Stderr), zap.Level(zapcore.DPanicLevel)))
	opts := managerOptions{
		Kubeconfig: *kubeconfig, Concurrency: *concurrency, QPS: *qps, Burst: *burst,
		Addr: *statsAddr, CPUProfile: *cpuProfile, HeapProfile: *heapProfile, MemoryLimit: *memoryLimit,
	}
	var err error
	if *manager {
		err = runManager(opts)
	} else {
		err = run(*n, *quiet, *withFloor, *rollouts, *rolloutAnalysis, *out, opts)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// profiles names the profile files to write; empty names write none.
type profiles struct {
	cpu  string
	heap string
}

// startCPU starts the CPU profile, and returns the function that stops it.
func (p profiles) startCPU() (func(), error) {
	if p.cpu == "" {
		return func() {}, nil
	}
	f, err := os.Create(p.cpu)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		_ = f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); _ = f.Close() }, nil
}

// writeHeap writes a heap profile after a garbage collection.
func (p profiles) writeHeap() error {
	if p.heap == "" {
		return nil
	}
	f, err := os.Create(p.heap)
	if err != nil {
		return err
	}
	defer func() { _ = f.Close() }()
	runtime.GC()
	return pprof.WriteHeapProfile(f)
}

func run(n int, quiet time.Duration, withFloor bool, rollouts int, rolloutAnalysis bool, out string, opts managerOptions) error {
	ctx := context.Background()
	scheme, err := mscontroller.NewScheme()
	if err != nil {
		return err
	}
	gw, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "sigs.k8s.io/gateway-api").Output()
	if err != nil {
		return fmt.Errorf("finding the gateway-api module: %w", err)
	}
	gwDir := filepath.Join(strings.TrimSpace(string(gw)), "config", "crd", "standard")
	crds := []string{
		"config/crd/bases",
		filepath.Join(gwDir, "gateway.networking.k8s.io_httproutes.yaml"),
		filepath.Join(gwDir, "gateway.networking.k8s.io_gateways.yaml"),
	}

	// An interrupted run must not leave etcd and kube-apiserver behind.
	var running atomic.Pointer[controlPlane]
	var onSignal atomic.Pointer[managerProcess]
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sig
		if op := onSignal.Load(); op != nil {
			op.stop()
		}
		if cp := running.Load(); cp != nil {
			cp.stop()
		}
		os.Exit(130)
	}()
	// Each phase runs on a control plane of its own, started afresh from the
	// same binaries and flags: a store that has held and deleted another
	// phase's tens of thousands of objects is slower, and whichever phase
	// came later would pay for it (at N=5000 the operator took 216 s after
	// the floors on one store, 131 s on a store of its own).
	phase := func(ns string) (*controlPlane, error) {
		cp, err := startControlPlane(crds, scheme, ns)
		if err != nil {
			return nil, err
		}
		running.Store(cp)
		return cp, nil
	}

	concurrency := opts.Concurrency
	res := Result{N: n, Concurrency: concurrency, QPS: float32(opts.QPS), Burst: opts.Burst, MemoryLimit: opts.MemoryLimit}
	services := workload(n)
	if withFloor {
		if err := measureFloors(ctx, phase, services, &res); err != nil {
			return err
		}
	}

	cp, err := phase("bench")
	if err != nil {
		return err
	}
	defer cp.stop()
	env, cfg, admin := cp.env, cp.cfg, cp.admin

	// The harness watches what it waits for: polling lists would cost the
	// API server (and the cores it shares with the operator) real work.
	firsts, times := newFirstStatus(), &rolloutTimes{}
	watched, err := watchBench(ctx, cfg, scheme, func(ms *msv1.Microservice) { firsts.observe(ms); times.observe(ms) })
	if err != nil {
		return err
	}

	// The operator, in a process of its own, configured as cmd/main.go configures it.
	op, err := startOperator(ctx, env, opts)
	if err != nil {
		return err
	}
	defer op.stop()
	onSignal.Store(op)

	before, err := op.requests()
	if err != nil {
		return err
	}
	if opts.CPUProfile != "" {
		if _, err := op.call("/profile/start"); err != nil {
			return err
		}
	}
	createStart := time.Now()
	if err := parallel(len(services), concurrency, func(i int) error {
		firsts.created(services[i].Name)
		return admin.Create(ctx, services[i].DeepCopy())
	}); err != nil {
		return err
	}
	if err := waitConverged(ctx, watched, services, func(ms *msv1.Microservice, d *appsv1.Deployment) bool { return true }); err != nil {
		return err
	}
	res.FirstStatusP50Seconds, res.FirstStatusP99Seconds, res.FirstStatusMaxSeconds, res.FirstStatusOver5s = firsts.summary(5 * time.Second)
	res.CreateSeconds = time.Since(createStart).Seconds()
	if opts.CPUProfile != "" {
		if _, err := op.call("/profile/stop"); err != nil {
			return err
		}
	}
	now, err := op.requests()
	if err != nil {
		return err
	}
	if withFloor {
		res.RatioToFloor = res.CreateSeconds / res.FloorSeconds
		res.RatioToFloorWithMicroservices = res.CreateSeconds / res.FloorWithMicroservicesSeconds
	}
	res.CreateRequests = diff(now, before)
	res.CreateWritesPerMS = float64(writes(res.CreateRequests)) / float64(n)
	res.Children = childCount(services)
	res.ChildrenPlusStatusPerMS = float64(res.Children+n) / float64(n)

	// Let the last status updates settle (dependents learn of their
	// dependencies' states), then watch a quiet period that starts with a
	// full resync: every Microservice reconciled once more, at rest.
	settleStart := time.Now()
	for last, still := writes(now), 0; still < 3 && time.Since(settleStart) < 2*time.Minute; {
		time.Sleep(time.Second)
		if now, err = op.requests(); err != nil {
			return err
		}
		if writes(now) == last {
			still++
		} else {
			still, last = 0, writes(now)
		}
	}
	res.SettleSeconds = time.Since(settleStart).Seconds()
	res.SettleRequests = diff(now, before)
	before = now
	quietStart := time.Now()
	body, err := op.call("/resync")
	if err != nil {
		return fmt.Errorf("resync: %w", err)
	}
	if res.ResyncReconciles, err = strconv.Atoi(body); err != nil || res.ResyncReconciles != n {
		return fmt.Errorf("resync reconciled %q Microservices, want %d (%v)", body, n, err)
	}
	res.ResyncSeconds = time.Since(quietStart).Seconds()
	time.Sleep(quiet)
	if now, err = op.requests(); err != nil {
		return err
	}
	res.QuietSeconds = time.Since(quietStart).Seconds()
	// At rest, nothing is allocating: a profile taken while reconciles run
	// counts as live what they allocate during the collection's mark phase.
	if opts.HeapProfile != "" {
		if _, err := op.call("/profile/heap"); err != nil {
			return err
		}
	}
	res.QuietRequests = diff(now, before)
	res.QuietWrites = writes(res.QuietRequests)

	// A new image on every Microservice.
	before = now
	bulkStart := time.Now()
	const newImage = "ghcr.io/acme/bench:2.0.0"
	if err := parallel(len(services), concurrency, func(i int) error {
		ms := &msv1.Microservice{}
		if err := admin.Get(ctx, client.ObjectKeyFromObject(services[i]), ms); err != nil {
			return err
		}
		ms.Spec.Image = newImage
		return admin.Update(ctx, ms)
	}); err != nil {
		return err
	}
	if err := waitConverged(ctx, watched, services, func(ms *msv1.Microservice, d *appsv1.Deployment) bool {
		return d.Spec.Template.Spec.Containers[0].Image == newImage
	}); err != nil {
		return err
	}
	res.BulkSeconds = time.Since(bulkStart).Seconds()
	st, err := op.stats()
	if err != nil {
		return err
	}
	res.BulkRequests = diff(st.Requests, before)
	res.PeakHeapMiB, res.PeakRSSMiB, res.PeakAnonRSSMiB = st.PeakHeapMiB, st.PeakRSSMiB, st.PeakAnonRSSMiB
	res.ManagerCPUSeconds, res.ManagerGOGC = st.CPUSeconds, os.Getenv("GOGC")

	if rollouts > 0 {
		if res.Rollouts, err = measureRollouts(ctx, admin, watched, op, rollouts, concurrency, times, rolloutVariant{prefix: rolloutPrefix}); err != nil {
			return err
		}
	}
	if rollouts > 0 && rolloutAnalysis {
		if res.RolloutsWithAnalysis, err = measureRolloutsWithAnalysis(ctx, admin, watched, op, rollouts, concurrency, times); err != nil {
			return err
		}
	}
	report(res)
	for _, p := range []*RolloutPhase{res.Rollouts, res.RolloutsWithAnalysis} {
		if p != nil {
			reportRollouts(p)
		}
	}
	data, _ := json.MarshalIndent(res, "", "  ")
	return os.WriteFile(out, data, 0o644)
}

// measureFloors applies the children straight to the API server, then the
// whole scenario's writes, each phase on a control plane of its own, and
// records their times.
func measureFloors(ctx context.Context, phase func(ns string) (*controlPlane, error), services []*msv1.Microservice, res *Result) error {
	measure := func(ns string, f func(client.Client) error) (float64, int, error) {
		cp, err := phase(ns)
		if err != nil {
			return 0, 0, err
		}
		defer cp.stop()
		count := &counter{m: map[string]int{}}
		cfg := rest.CopyConfig(cp.cfg)
		cfg.Wrap(count.RoundTrip)
		c, err := client.New(cfg, client.Options{Scheme: cp.admin.Scheme()})
		if err != nil {
			return 0, 0, err
		}
		start := time.Now()
		if err := f(c); err != nil {
			return 0, 0, err
		}
		return time.Since(start).Seconds(), writes(count.snapshot()), nil
	}
	var err error
	res.FloorSeconds, res.FloorWrites, err = measure("floor", func(c client.Client) error {
		return floor(ctx, c, services, res.Concurrency)
	})
	if err != nil {
		return err
	}
	// The floor of the whole scenario, for reference: the harness's creates
	// of the Microservices, their children and one status write each.
	res.FloorWithMicroservicesSeconds, _, err = measure(floorMicroservicesNamespace, func(c client.Client) error {
		return floorWithMicroservices(ctx, c, services, res.Concurrency)
	})
	return err
}

// controlPlane is an envtest kube-apiserver and etcd with the CRDs installed,
// and an admin client with a namespace of the run's.
type controlPlane struct {
	env   *envtest.Environment
	cfg   *rest.Config
	admin client.Client
	once  sync.Once
}

func startControlPlane(crds []string, scheme *k8sruntime.Scheme, ns string) (*controlPlane, error) {
	env := &envtest.Environment{CRDDirectoryPaths: crds, ErrorIfCRDPathMissing: true}
	// envtest's default Service range holds 254 addresses; the run needs 2N.
	env.ControlPlane.GetAPIServer().Configure().Set("service-cluster-ip-range", "10.96.0.0/12")
	cfg, err := env.Start()
	if err != nil {
		return nil, fmt.Errorf("starting envtest (is KUBEBUILDER_ASSETS set? make bench sets it): %w", err)
	}
	cp := &controlPlane{env: env, cfg: cfg}
	cfg.QPS, cfg.Burst = 1000, 2000
	if cp.admin, err = client.New(cfg, client.Options{Scheme: scheme}); err == nil {
		err = cp.admin.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
	}
	if err != nil {
		cp.stop()
		return nil, err
	}
	return cp, nil
}

func (cp *controlPlane) stop() { cp.once.Do(func() { _ = cp.env.Stop() }) }

// startOperator gives the manager a kubeconfig of its own and starts it.
func startOperator(ctx context.Context, env *envtest.Environment, opts managerOptions) (*managerProcess, error) {
	user, err := env.AddUser(envtest.User{Name: "msvc-operator", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return nil, err
	}
	kubeconfig, err := user.KubeConfig()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "msvc-bench-")
	if err != nil {
		return nil, err
	}
	opts.Kubeconfig = filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(opts.Kubeconfig, kubeconfig, 0o600); err != nil {
		return nil, err
	}
	return startManager(ctx, opts)
}

// watchBench starts an informer cache of the Microservices and Deployments
// of the bench namespace, for the harness to wait on.
func watchBench(ctx context.Context, cfg *rest.Config, scheme *k8sruntime.Scheme, onMicroservice func(*msv1.Microservice)) (cache.Cache, error) {
	c, err := cache.New(cfg, cache.Options{
		Scheme:            scheme,
		DefaultNamespaces: map[string]cache.Config{"bench": {}},
		DefaultTransform:  cache.TransformStripManagedFields(),
	})
	if err != nil {
		return nil, err
	}
	for _, obj := range []client.Object{&msv1.Microservice{}, &appsv1.Deployment{}} {
		inf, err := c.GetInformer(ctx, obj)
		if err != nil {
			return nil, err
		}
		if _, ok := obj.(*msv1.Microservice); ok {
			handle := func(o any) {
				if ms, ok := o.(*msv1.Microservice); ok {
					onMicroservice(ms)
				}
			}
			if _, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
				AddFunc:    handle,
				UpdateFunc: func(_, o any) { handle(o) },
			}); err != nil {
				return nil, err
			}
		}
	}
	go func() { _ = c.Start(ctx) }()
	if !c.WaitForCacheSync(ctx) {
		return nil, fmt.Errorf("the harness's cache did not sync")
	}
	return c, nil
}

// firstStatus records, per Microservice, when the harness asked for its
// create and when its informer first saw a status.
type firstStatus struct {
	mu      sync.Mutex
	asked   map[string]time.Time
	statusd map[string]time.Time
}

func newFirstStatus() *firstStatus {
	return &firstStatus{asked: map[string]time.Time{}, statusd: map[string]time.Time{}}
}

func (f *firstStatus) created(name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asked[name] = time.Now()
}

func (f *firstStatus) observe(ms *msv1.Microservice) {
	if ms.Status.ObservedGeneration == 0 {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.statusd[ms.Name]; !ok {
		f.statusd[ms.Name] = time.Now()
	}
}

// summary is the median, 99th percentile and maximum of the delays from
// create to first status, and how many exceeded over.
func (f *firstStatus) summary(over time.Duration) (p50, p99, maxSeconds float64, late int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var delays []time.Duration
	for name, asked := range f.asked {
		seen, ok := f.statusd[name]
		if !ok {
			continue
		}
		d := max(seen.Sub(asked), 0)
		delays = append(delays, d)
		if d > over {
			late++
		}
	}
	p50, p99, maxSeconds = percentiles(delays)
	return p50, p99, maxSeconds, late
}

// percentiles are the median, 99th percentile and maximum of delays, in
// seconds (zeros when there are none).
func percentiles(delays []time.Duration) (p50, p99, maxSeconds float64) {
	if len(delays) == 0 {
		return 0, 0, 0
	}
	slices.Sort(delays)
	at := func(q float64) float64 { return delays[min(len(delays)-1, int(q*float64(len(delays))))].Seconds() }
	return at(0.5), at(0.99), delays[len(delays)-1].Seconds()
}

// workload is N Microservices: ports, autoscaling on half, a route on a
// third, 0-3 (optional) dependencies on earlier ones.
func workload(n int) []*msv1.Microservice {
	out := make([]*msv1.Microservice, n)
	for i := range out {
		ms := &msv1.Microservice{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("svc-%05d", i), Namespace: "bench"},
			Spec: msv1.MicroserviceSpec{
				Image:    "ghcr.io/acme/bench:1.0.0",
				Ports:    []msv1.ServicePort{{Name: "http", Port: 80, TargetPort: ptr.To[int32](8080)}, {Name: "metrics", Port: 9090}},
				Replicas: ptr.To[int32](2),
				Env:      []corev1.EnvVar{{Name: "LOG_LEVEL", Value: "info"}},
			},
		}
		if i%2 == 0 {
			ms.Spec.Autoscaling = &msv1.Autoscaling{MinReplicas: ptr.To[int32](2), MaxReplicas: 10, TargetCPUUtilizationPercentage: ptr.To[int32](70)}
		}
		if i%3 == 0 {
			ms.Spec.Route = &msv1.Route{ParentRefs: []msv1.ParentReference{{Name: "public", Namespace: "gateway-system"}}, PathPrefix: fmt.Sprintf("/svc-%05d", i)}
		}
		// Optional, so that a dependency without a Deployment controller (envtest
		// runs none) never holds a service at zero replicas.
		for d := 1; d <= i%4 && i-d >= 0; d++ {
			ms.Spec.Dependencies = append(ms.Spec.Dependencies, msv1.Dependency{Name: fmt.Sprintf("svc-%05d", i-d), Optional: true})
		}
		out[i] = ms
	}
	return out
}

func childCount(services []*msv1.Microservice) int {
	n := 0
	for _, ms := range services {
		n += 2 // Deployment, Service
		if ms.Spec.Autoscaling != nil {
			n++
		}
		if ms.Spec.Route != nil {
			n++
		}
		if builder.PodDisruptionBudget(ms, false) != nil {
			n++
		}
	}
	return n
}

// floorMicroservicesNamespace holds the floor that creates Microservices too.
const floorMicroservicesNamespace = "floor-ms"

// floor applies the children of every Microservice straight to the API
// server with server-side apply, with the given concurrency.
func floor(ctx context.Context, c client.Client, services []*msv1.Microservice, concurrency int) error {
	return parallel(len(services), concurrency, func(i int) error {
		ms := services[i].DeepCopy()
		ms.Namespace = "floor"
		ms.UID = "00000000-0000-0000-0000-000000000000"
		return applyChildren(ctx, c, ms)
	})
}

// floorWithMicroservices does, with the given concurrency, the least any
// operator makes the API server do for the run's create phase, the
// harness's part included: create each Microservice, apply its children,
// write its status once.
func floorWithMicroservices(ctx context.Context, c client.Client, services []*msv1.Microservice, concurrency int) error {
	return parallel(len(services), concurrency, func(i int) error {
		ms := services[i].DeepCopy()
		ms.Namespace = floorMicroservicesNamespace
		if err := c.Create(ctx, ms); err != nil {
			return err
		}
		if err := applyChildren(ctx, c, ms); err != nil {
			return err
		}
		base := ms.DeepCopy()
		ms.Status.ObservedGeneration = ms.Generation
		ms.Status.URL = builder.URL(ms)
		ms.Status.Selector = builder.SelectorString(ms)
		for _, t := range []string{msv1.ReadyCondition, msv1.AvailableCondition, msv1.ReconcilingCondition} {
			ms.Status.Conditions = append(ms.Status.Conditions, metav1.Condition{
				Type: t, Status: metav1.ConditionFalse, Reason: "Floor", Message: "Written once by the floor",
				ObservedGeneration: ms.Generation, LastTransitionTime: metav1.Now(),
			})
		}
		return c.Status().Patch(ctx, ms, client.MergeFrom(base))
	})
}

// applyChildren applies the children of ms as the floor's field manager.
func applyChildren(ctx context.Context, c client.Client, ms *msv1.Microservice) error {
	acs := []ssa.ApplyConfiguration{builder.Deployment(ms, builder.DecideReplicas(ms, false), builder.PodInputs{}), builder.Service(ms, false)}
	if h := builder.HorizontalPodAutoscaler(ms); h != nil {
		acs = append(acs, h)
	}
	if r := traffic.HTTPRoute(ms, 0, false); r != nil {
		acs = append(acs, r)
	}
	if b := builder.PodDisruptionBudget(ms, false); b != nil {
		acs = append(acs, b)
	}
	for _, ac := range acs {
		asFloorObject(ac)
		if err := c.Apply(ctx, ac, client.FieldOwner("floor"), client.ForceOwnership); err != nil {
			return err
		}
	}
	return nil
}

// asFloorObject drops the owner reference (the floor has no owner object) and
// the managed-by label, so that the operator's caches do not hold the floor.
func asFloorObject(ac ssa.ApplyConfiguration) {
	data, _ := json.Marshal(ac)
	var m map[string]any
	_ = json.Unmarshal(data, &m)
	if md, ok := m["metadata"].(map[string]any); ok {
		delete(md, "ownerReferences")
		if l, ok := md["labels"].(map[string]any); ok {
			delete(l, builder.LabelManagedBy)
		}
	}
	data, _ = json.Marshal(m)
	_ = json.Unmarshal(data, ac)
}

func parallel(n, workers int, f func(int) error) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := f(i); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// waitConverged waits until every Microservice's status is observed and its
// children exist (and the Deployment passes check), as the harness's
// informers see them.
func waitConverged(ctx context.Context, c client.Reader, services []*msv1.Microservice, check func(*msv1.Microservice, *appsv1.Deployment) bool) error {
	deadline := time.Now().Add(30 * time.Minute)
	for time.Now().Before(deadline) {
		list := &msv1.MicroserviceList{}
		if err := c.List(ctx, list, client.InNamespace("bench"), client.UnsafeDisableDeepCopy); err != nil {
			return err
		}
		deps := &appsv1.DeploymentList{}
		if err := c.List(ctx, deps, client.InNamespace("bench"), client.UnsafeDisableDeepCopy); err != nil {
			return err
		}
		byName := map[string]*appsv1.Deployment{}
		for i := range deps.Items {
			byName[deps.Items[i].Name] = &deps.Items[i]
		}
		done := 0
		for i := range list.Items {
			ms := &list.Items[i]
			d := byName[ms.Name]
			if d != nil && ms.Status.ObservedGeneration == ms.Generation && check(ms, d) {
				done++
			}
		}
		if done == len(services) {
			return nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("not converged after 30 minutes")
}

// procStatusMiB reads a "kB" field of /proc/self/status, such as VmHWM (the
// process's peak resident set size) or RssAnon (its resident anonymous
// memory: heap and stacks, without the pages of the binary).
func procStatusMiB(field string) float64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, field+":") {
			f := strings.Fields(line)
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	return 0
}

func report(r Result) {
	limit := fmt.Sprintf("QPS %.0f burst %d", r.QPS, r.Burst)
	if r.QPS < 0 {
		limit = "client-side rate limit off (API priority and fairness)"
	}
	fmt.Printf("\nmsvc-operator bench: N=%d Microservices (%d children), concurrency %d, operator %s\n\n", r.N, r.Children, r.Concurrency, limit)
	fmt.Printf("%-46s %12s\n", "measure", "value")
	if r.FloorSeconds == 0 {
		fmt.Printf("%-46s %12s\n", "floors", "skipped")
		fmt.Printf("%-46s %12.1f s\n", "operator: create -> all children + status", r.CreateSeconds)
	} else {
		fmt.Printf("%-46s %12.1f s\n", "floor: plain SSA of the same children", r.FloorSeconds)
		fmt.Printf("%-46s %12.1f s\n", "operator: create -> all children + status", r.CreateSeconds)
		fmt.Printf("%-46s %12.2f x\n", "ratio to the floor", r.RatioToFloor)
		fmt.Printf("%-46s %12.1f s\n", "floor with the Microservices (create, children,", r.FloorWithMicroservicesSeconds)
		fmt.Printf("%-46s %12.2f x\n", "  one status write each); ratio to it", r.RatioToFloorWithMicroservices)
	}
	fmt.Printf("%-46s %12.2f s\n", "first status after create: median", r.FirstStatusP50Seconds)
	fmt.Printf("%-46s %12.2f s\n", "  99th percentile", r.FirstStatusP99Seconds)
	fmt.Printf("%-46s %12.2f s\n", "  slowest", r.FirstStatusMaxSeconds)
	fmt.Printf("%-46s %12d\n", "  Microservices later than 5 s", r.FirstStatusOver5s)
	fmt.Printf("%-46s %12.2f\n", "writes per Microservice on create", r.CreateWritesPerMS)
	fmt.Printf("%-46s %12.2f\n", "  target: children + 1 status write", r.ChildrenPlusStatusPerMS)
	fmt.Printf("%-46s %12d\n", fmt.Sprintf("writes settling after convergence (%.0fs)", r.SettleSeconds), writes(diff(r.SettleRequests, r.CreateRequests)))
	fmt.Printf("%-46s %12d\n", fmt.Sprintf("writes in %.0fs quiet (incl. a full resync)", r.QuietSeconds), r.QuietWrites)
	fmt.Printf("%-46s %12.1f s\n", fmt.Sprintf("  the resync: %d reconciles at rest", r.ResyncReconciles), r.ResyncSeconds)
	fmt.Printf("%-46s %12.1f s\n", "bulk image change -> all Deployments updated", r.BulkSeconds)
	fmt.Printf("%-46s %12d\n", "  writes for the bulk change", writes(r.BulkRequests))
	fmt.Printf("%-46s %12.0f MiB\n", "peak heap (manager process)", r.PeakHeapMiB)
	fmt.Printf("%-46s %12.0f MiB\n", "peak RSS (manager process)", r.PeakRSSMiB)
	fmt.Printf("%-46s %12.0f MiB\n", "  of it anonymous (heap, stacks; sampled)", r.PeakAnonRSSMiB)
	if r.MemoryLimit != "" {
		fmt.Printf("%-46s %12s\n", "  under the container memory limit", r.MemoryLimit)
	}
	gogc := r.ManagerGOGC
	if gogc == "" {
		gogc = fmt.Sprintf("%d (default)", memlimit.DefaultGCPercent)
	}
	fmt.Printf("%-46s %12s\n", "  the manager's GOGC", gogc)
	fmt.Printf("%-46s %12.1f s\n", "manager CPU, start to end of the bulk change", r.ManagerCPUSeconds)
	fmt.Printf("\nrequests on create, by verb and resource:\n")
	printRequests(r.CreateRequests)
	fmt.Printf("requests in the quiet period:\n")
	printRequests(r.QuietRequests)
	fmt.Printf("requests for the bulk change:\n")
	printRequests(r.BulkRequests)
}

func printRequests(m map[string]int) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if len(keys) == 0 {
		fmt.Println("  (none)")
	}
	for _, k := range keys {
		fmt.Printf("  %-44s %8d\n", k, m[k])
	}
}
