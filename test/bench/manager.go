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
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"sync"
	"syscall"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"

	mscontroller "github.com/msvc-dev/msvc-operator/internal/controller"
	"github.com/msvc-dev/msvc-operator/internal/memlimit"
)

// managerFlag runs the bench binary as the manager process alone.
const managerFlag = "manager"

// managerOptions configure the manager as cmd/main.go's flags do.
type managerOptions struct {
	Kubeconfig  string
	Concurrency int
	QPS         float64
	Burst       int
	// Addr is where the manager process serves its stats.
	Addr string
	// CPUProfile is written between /profile/start and /profile/stop,
	// HeapProfile at /profile/heap.
	CPUProfile  string
	HeapProfile string
	// MemoryLimit is the container memory limit the manager runs under, as
	// the manifests hand it over (MEMORY_LIMIT); empty for none.
	MemoryLimit string
}

func (o managerOptions) args() []string {
	return []string{
		"-" + managerFlag,
		"-manager-kubeconfig", o.Kubeconfig,
		"-concurrency", fmt.Sprint(o.Concurrency),
		"-qps", fmt.Sprint(o.QPS),
		"-burst", fmt.Sprint(o.Burst),
		"-stats-addr", o.Addr,
		"-cpuprofile", o.CPUProfile,
		"-heapprofile", o.HeapProfile,
	}
}

// managerStats is what the manager process reports about itself.
type managerStats struct {
	Synced      bool           `json:"synced"`
	Requests    map[string]int `json:"requests"`
	PeakHeapMiB float64        `json:"peakHeapMiB"`
	PeakRSSMiB  float64        `json:"peakRSSMiB"`
	// PeakAnonRSSMiB is the peak of RssAnon, sampled with the heap.
	PeakAnonRSSMiB float64 `json:"peakAnonRSSMiB"`
	// CPUSeconds is the process's user and system CPU time so far.
	CPUSeconds float64 `json:"cpuSeconds"`
}

// runManager is the manager process: the operator configured as cmd/main.go
// configures it, its API requests counted, and its stats served on opts.Addr.
func runManager(opts managerOptions) error {
	if opts.HeapProfile != "" {
		// Every 4 KiB allocated rather than every 512 KiB: a profile of a
		// cache of small objects needs the finer sample.
		runtime.MemProfileRate = 4096
	}
	// As cmd/main.go does: the soft memory limit from the container's.
	if _, _, err := memlimit.Apply(os.Getenv); err != nil {
		return err
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", opts.Kubeconfig)
	if err != nil {
		return err
	}
	cfg.QPS, cfg.Burst = float32(opts.QPS), opts.Burst
	cfg.UserAgent = rest.DefaultKubernetesUserAgent() + " msvc-operator"
	count := &counter{m: map[string]int{}}
	cfg.Wrap(count.RoundTrip)

	scheme, err := mscontroller.NewScheme()
	if err != nil {
		return err
	}
	// The informers' periodic resync stays at its default (about ten hours),
	// as in production: a resync every few seconds would reconcile every
	// Microservice again and again during a create phase that lasts minutes.
	// The quiet period has a full resync in it all the same, on demand.
	cacheOpts := mscontroller.CacheOptions()
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{Scheme: scheme, Cache: cacheOpts, Metrics: metricsserver.Options{BindAddress: "0"}})
	if err != nil {
		return err
	}
	r := &mscontroller.MicroserviceReconciler{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Recorder: mgr.GetEventRecorder("msvc-operator")}
	if err := r.SetupWithManager(mgr, controller.Options{MaxConcurrentReconciles: opts.Concurrency}); err != nil {
		return err
	}
	resync, err := addResync(mgr, r, opts.Concurrency)
	if err != nil {
		return err
	}
	ctx := ctrl.SetupSignalHandler()
	mem := &memorySampler{}
	go mem.run(ctx)

	var synced sync.Once
	ready := make(chan struct{})
	go func() {
		if mgr.GetCache().WaitForCacheSync(ctx) {
			synced.Do(func() { close(ready) })
		}
	}()
	prof := profiles{cpu: opts.CPUProfile, heap: opts.HeapProfile}
	var stopCPU func()
	mux := http.NewServeMux()
	mux.HandleFunc("/stats", func(w http.ResponseWriter, _ *http.Request) {
		st := managerStats{Requests: count.snapshot()}
		select {
		case <-ready:
			st.Synced = true
		default:
		}
		st.PeakHeapMiB, st.PeakRSSMiB, st.PeakAnonRSSMiB = mem.peaks()
		var ru syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err == nil {
			st.CPUSeconds = time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
		}
		_ = json.NewEncoder(w).Encode(st)
	})
	mux.HandleFunc("/resync", func(w http.ResponseWriter, req *http.Request) {
		n, err := resync.run(req.Context())
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		_, _ = fmt.Fprint(w, n)
	})
	mux.HandleFunc("/profile/start", func(w http.ResponseWriter, _ *http.Request) {
		stop, err := prof.startCPU()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		stopCPU = stop
	})
	mux.HandleFunc("/profile/stop", func(w http.ResponseWriter, _ *http.Request) {
		if stopCPU != nil {
			stopCPU()
		}
	})
	mux.HandleFunc("/profile/heap", func(w http.ResponseWriter, _ *http.Request) {
		if err := prof.writeHeap(); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})
	srv := &http.Server{Addr: opts.Addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.ListenAndServe() }()
	defer func() { _ = srv.Close() }()
	return mgr.Start(ctx)
}

// resyncer does on demand what a periodic resync does to the operator: it
// sends every cached Microservice through the reconciler once more. It is a
// controller of its own with the same reconciler, fed by a channel.
type resyncer struct {
	cache  client.Reader
	events chan event.GenericEvent
	done   chan struct{}
}

func addResync(mgr ctrl.Manager, r reconcile.Reconciler, concurrency int) (*resyncer, error) {
	rs := &resyncer{cache: mgr.GetCache(), events: make(chan event.GenericEvent), done: make(chan struct{}, 1024)}
	counted := reconcile.Func(func(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
		res, err := r.Reconcile(ctx, req)
		rs.done <- struct{}{}
		return res, err
	})
	err := ctrl.NewControllerManagedBy(mgr).
		Named("bench-resync").
		WatchesRawSource(source.Channel(rs.events, &handler.EnqueueRequestForObject{})).
		WithOptions(controller.Options{MaxConcurrentReconciles: concurrency}).
		Complete(counted)
	return rs, err
}

// run reconciles every Microservice once and returns how many it did.
func (rs *resyncer) run(ctx context.Context) (int, error) {
	list := &msv1.MicroserviceList{}
	// Without copies, as an informer's resync: only the keys are read.
	if err := rs.cache.List(ctx, list, client.UnsafeDisableDeepCopy); err != nil {
		return 0, err
	}
	go func() {
		for i := range list.Items {
			select {
			case rs.events <- event.GenericEvent{Object: &list.Items[i]}:
			case <-ctx.Done():
				return
			}
		}
	}()
	for i := range list.Items {
		select {
		case <-rs.done:
		case <-ctx.Done():
			return i, ctx.Err()
		}
	}
	return len(list.Items), nil
}

// memorySampler keeps the peak heap and anonymous RSS of its process.
type memorySampler struct {
	mu   sync.Mutex
	heap float64
	anon float64
}

func (m *memorySampler) run(ctx context.Context) {
	for {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		m.mu.Lock()
		m.heap = max(m.heap, float64(ms.HeapAlloc)/(1<<20))
		m.anon = max(m.anon, procStatusMiB("RssAnon"))
		m.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (m *memorySampler) peaks() (heapMiB, rssMiB, anonMiB float64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.heap, procStatusMiB("VmHWM"), m.anon
}

// managerProcess is the manager running as a child process of the bench.
type managerProcess struct {
	cmd  *exec.Cmd
	addr string
}

// startManager runs this binary again as the manager process, and waits
// until its caches have synced.
func startManager(ctx context.Context, opts managerOptions) (*managerProcess, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	opts.Addr = l.Addr().String()
	_ = l.Close()
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, self, opts.args()...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	cmd.Env = os.Environ()
	if opts.MemoryLimit != "" {
		cmd.Env = append(cmd.Env, memlimit.EnvVar+"="+opts.MemoryLimit)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting the manager process: %w", err)
	}
	p := &managerProcess{cmd: cmd, addr: opts.Addr}
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if st, err := p.stats(); err == nil && st.Synced {
			return p, nil
		}
	}
	p.stop()
	return nil, errors.New("the manager process did not sync its caches within a minute")
}

func (p *managerProcess) stats() (managerStats, error) {
	var st managerStats
	resp, err := http.Get("http://" + p.addr + "/stats")
	if err != nil {
		return st, err
	}
	defer func() { _ = resp.Body.Close() }()
	err = json.NewDecoder(resp.Body).Decode(&st)
	return st, err
}

// requests is the manager's request count so far.
func (p *managerProcess) requests() (map[string]int, error) {
	st, err := p.stats()
	if err != nil {
		return nil, fmt.Errorf("reading the manager's stats: %w", err)
	}
	return st.Requests, nil
}

// call GETs path from the manager process and returns the body.
func (p *managerProcess) call(path string) (string, error) {
	resp, err := http.Get("http://" + p.addr + path)
	if err != nil {
		return "", err
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%s: %s: %s", path, resp.Status, body)
	}
	return string(body), err
}

func (p *managerProcess) stop() {
	_ = p.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-done
	}
}
