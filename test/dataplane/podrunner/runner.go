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
	"errors"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
)

// defaultResync is how often the runner reconciles without an event, a
// safety net under the informers' events.
const defaultResync = 10 * time.Second

// Runner runs one testapp process for every pod of a kwok node.
type Runner struct {
	// Config reaches the API server.
	Config *rest.Config
	// Testapp is the path of the testapp binary.
	Testapp string
	// LogDir receives each process's output, as <namespace>_<pod>.log.
	LogDir string
	// Log receives the runner's own lines; log.Default() when nil.
	Log *log.Logger
	// Resync is how often to reconcile without an event; defaultResync
	// when zero.
	Resync time.Duration

	sup     *supervisor
	clients kubernetes.Interface
	trigger chan struct{}
	// services is the path of the service table the testapps resolve
	// Service names with.
	services string
}

// syncServiceTable writes the service table from the cache.
func (r *Runner) syncServiceTable(listServices func(labels.Selector) ([]*corev1.Service, error), listSlices func(labels.Selector) ([]*discoveryv1.EndpointSlice, error), pods corelisters.PodLister) error {
	svcs, err := listServices(labels.Everything())
	if err != nil {
		return err
	}
	eps, err := listSlices(labels.Everything())
	if err != nil {
		return err
	}
	live := func(namespace, name, ip string) bool {
		pod, err := pods.Pods(namespace).Get(name)
		return err == nil && pod.DeletionTimestamp == nil && pod.Status.PodIP == ip
	}
	_, err = writeServiceTable(r.services, serviceTable(svcs, eps, live))
	return err
}

// Run watches pods and nodes and reconciles the processes until ctx ends,
// then kills every process and returns.
func (r *Runner) Run(ctx context.Context) error {
	if r.Log == nil {
		r.Log = log.Default()
	}
	if r.Resync == 0 {
		r.Resync = defaultResync
	}
	if err := os.MkdirAll(r.LogDir, 0o755); err != nil {
		return fmt.Errorf("creating the log folder: %w", err)
	}
	if _, err := os.Stat(r.Testapp); err != nil {
		return fmt.Errorf("the testapp binary: %w", err)
	}
	clients, err := kubernetes.NewForConfig(r.Config)
	if err != nil {
		return fmt.Errorf("creating the Kubernetes client: %w", err)
	}
	r.clients = clients
	r.trigger = make(chan struct{}, 1)
	r.sup = newSupervisor(r.launch, r.Log)
	defer r.sup.stopAll()

	factory := informers.NewSharedInformerFactory(clients, 0)
	pods := factory.Core().V1().Pods()
	nodes := factory.Core().V1().Nodes()
	services := factory.Core().V1().Services()
	endpointSlices := factory.Discovery().V1().EndpointSlices()
	// Every event asks for a reconcile of everything: which pod changed
	// does not matter, what should run does.
	wake := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { r.poke() },
		UpdateFunc: func(any, any) { r.poke() },
		DeleteFunc: func(any) { r.poke() },
	}
	if _, err := pods.Informer().AddEventHandler(wake); err != nil {
		return err
	}
	if _, err := nodes.Informer().AddEventHandler(wake); err != nil {
		return err
	}
	// Services and their endpoints only rewrite the service table.
	if _, err := services.Informer().AddEventHandler(wake); err != nil {
		return err
	}
	if _, err := endpointSlices.Informer().AddEventHandler(wake); err != nil {
		return err
	}
	if r.services, err = filepath.Abs(filepath.Join(r.LogDir, serviceTableFile)); err != nil {
		return err
	}
	factory.Start(ctx.Done())
	defer factory.Shutdown()
	for typ, ok := range factory.WaitForCacheSync(ctx.Done()) {
		if !ok {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("the %v cache did not sync", typ)
		}
	}
	r.Log.Printf("Watching pods; serving those of nodes annotated %s=%s", kwokNodeAnnotation, kwokNodeValue)

	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			r.Log.Printf("Stopping: killing every process")
			return nil
		case <-r.trigger:
		case <-timer.C:
		}
		if err := r.syncServiceTable(services.Lister().List, endpointSlices.Lister().List, pods.Lister()); err != nil {
			r.Log.Printf("Service table: %v", err)
		}
		next, err := r.reconcile(ctx, pods.Lister().List, nodes.Lister().Get)
		if err != nil {
			r.Log.Printf("Reconcile: %v", err)
		}
		if next == 0 || next > r.Resync {
			next = r.Resync
		}
		timer.Reset(next)
	}
}

// finalizerRetry is how soon a reconcile runs again after a finalizer patch
// that conflicted or failed.
const finalizerRetry = 500 * time.Millisecond

// reconcile computes the desired processes from the cache, hands them to
// the supervisor, then holds the pods whose process runs and releases those
// whose process has exited (podFinalizer).
func (r *Runner) reconcile(ctx context.Context, listPods func(labels.Selector) ([]*corev1.Pod, error), getNode func(string) (*corev1.Node, error)) (time.Duration, error) {
	all, err := listPods(labels.Everything())
	if err != nil {
		return 0, fmt.Errorf("listing pods: %w", err)
	}
	kwok := map[string]bool{}
	onKwokNode := func(name string) bool {
		is, seen := kwok[name]
		if !seen {
			node, err := getNode(name)
			is = err == nil && isKwokNode(node)
			kwok[name] = is
		}
		return is
	}
	desired := desiredProcesses(all, onKwokNode)
	next := r.sup.reconcile(desired, time.Now())
	failed, err := applyFinalizerChanges(ctx, r.clients, finalizerChanges(all, desired, r.sup.hasProcess))
	if failed > 0 && (next == 0 || next > finalizerRetry) {
		next = finalizerRetry
	}
	if err != nil {
		return next, fmt.Errorf("finalizers: %w", err)
	}
	return next, nil
}

// Serving lists the pods whose process runs, as namespace/name.
func (r *Runner) Serving() []string {
	if r.sup == nil {
		return nil
	}
	return r.sup.serving()
}

func (r *Runner) poke() {
	select {
	case r.trigger <- struct{}{}:
	default:
	}
}

// launch starts the testapp of p in a process group of its own, writing to
// p's log file; its exit wakes the runner.
func (r *Runner) launch(p podProcess) (process, error) {
	path := filepath.Join(r.LogDir, p.Namespace+"_"+p.Name+".log")
	out, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer func() { _ = out.Close() }() // the started process has its own descriptor
	if _, err := fmt.Fprintf(out, "%s podrunner: starting %s on %s version %s\n",
		time.Now().Format(time.RFC3339), p.key(), strings.Join(p.Listen, ","), p.Version); err != nil {
		return nil, fmt.Errorf("writing %s: %w", path, err)
	}
	cmd := exec.Command(r.Testapp)
	cmd.Env = append(p.environ(), "TESTAPP_SERVICES="+r.services, "TESTAPP_NAMESPACE="+p.Namespace)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	proc := &execProcess{cmd: cmd, done: make(chan struct{})}
	go func() {
		proc.err = cmd.Wait()
		close(proc.done)
		r.poke()
	}()
	return proc, nil
}

// execProcess is a started testapp.
type execProcess struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

func (p *execProcess) Signal(sig syscall.Signal) error {
	err := syscall.Kill(-p.cmd.Process.Pid, sig)
	if errors.Is(err, syscall.ESRCH) {
		return nil
	}
	return err
}

func (p *execProcess) Done() <-chan struct{} { return p.done }

func (p *execProcess) Err() error { return p.err }
