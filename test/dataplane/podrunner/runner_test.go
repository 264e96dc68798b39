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
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// The runner against a real kube-apiserver and etcd (envtest), with pods
// whose IPs are loopback addresses: the test plays kwok, writing each pod's
// status, and the runner serves them as in the local cluster.

const kwokNode, realNode = "kwok-0", "worker-0"

type runnerEnv struct {
	t       *testing.T
	clients kubernetes.Interface
	runner  *Runner
	logDir  string
}

func TestRunnerAgainstAnAPIServer(t *testing.T) {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		t.Skip("KUBEBUILDER_ASSETS is not set: build kube-apiserver and etcd with hack/kube-bins.sh, " +
			"then run with KUBEBUILDER_ASSETS=$(hack/kube-bins.sh --print-dir)")
	}
	e := startRunnerEnv(t)

	t.Run("serves the image tag on the pod IP and port", func(t *testing.T) {
		ip, port := "127.0.0.11", freePort(t, "127.0.0.11")
		e.createPod("cart", kwokNode, "shop/cart:v0.10.2", port, "TESTAPP_DRAIN=200ms", ip)
		e.eventuallyVersion(ip, port, "v0.10.2", 10*time.Second)
		logFile, err := os.ReadFile(filepath.Join(e.logDir, "default_cart.log"))
		if err != nil || !strings.Contains(string(logFile), "testapp version v0.10.2 serving on "+net.JoinHostPort(ip, strconv.Itoa(port))) {
			t.Errorf("the process's log (%v):\n%s", err, logFile)
		}
	})

	t.Run("deleting the pod stops its process after the drain", func(t *testing.T) {
		ip, port := "127.0.0.12", freePort(t, "127.0.0.12")
		e.createPod("deleted", kwokNode, "shop/cart:v1", port, "TESTAPP_DRAIN=200ms", ip)
		e.eventuallyVersion(ip, port, "v1", 10*time.Second)
		// The pod is bound to a node: the API server marks it terminating
		// and keeps it, waiting for a kubelet that never comes.
		if err := e.clients.CoreV1().Pods("default").Delete(context.Background(), "deleted", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		deleted := time.Now()
		e.eventuallyRefused(ip, port, 10*time.Second)
		t.Logf("the process stopped %s after the pod's deletion", time.Since(deleted).Round(10*time.Millisecond))
		if slices.Contains(e.runner.Serving(), "default/deleted") {
			t.Errorf("still serving the deleted pod: %v", e.runner.Serving())
		}
		logFile, _ := os.ReadFile(filepath.Join(e.logDir, "default_deleted.log"))
		if !strings.Contains(string(logFile), "exiting on terminated after a drain of 200ms") {
			t.Errorf("the process did not drain and exit on SIGTERM:\n%s", logFile)
		}
	})

	t.Run("a pod deleted at once, as kwok deletes it, stays until its process has drained", func(t *testing.T) {
		ip, port := "127.0.0.16", freePort(t, "127.0.0.16")
		e.createPod("held", kwokNode, "shop/cart:v1", port, "TESTAPP_DRAIN=1s", ip)
		e.eventuallyVersion(ip, port, "v1", 10*time.Second)
		pods := e.clients.CoreV1().Pods("default")
		for start := time.Now(); ; time.Sleep(50 * time.Millisecond) {
			pod, err := pods.Get(context.Background(), "held", metav1.GetOptions{})
			if err == nil && slices.Contains(pod.Finalizers, podFinalizer) {
				break
			}
			if time.Since(start) > 10*time.Second {
				t.Fatalf("the serving pod has no finalizer %s after 10s (%v)", podFinalizer, err)
			}
		}
		if err := pods.Delete(context.Background(), "held", *metav1.NewDeleteOptions(0)); err != nil {
			t.Fatal(err)
		}
		deleted := time.Now()
		var servedWhileHeld bool
		for {
			_, err := pods.Get(context.Background(), "held", metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if v, err := get(ip, port); err == nil && v == "v1" {
				servedWhileHeld = true
			}
			if time.Since(deleted) > 10*time.Second {
				t.Fatalf("the pod is still in the API 10s after its deletion; serving %v", e.runner.Serving())
			}
			time.Sleep(50 * time.Millisecond)
		}
		gone := time.Since(deleted)
		t.Logf("the pod left the API %s after its deletion", gone.Round(10*time.Millisecond))
		if !servedWhileHeld || gone < time.Second {
			t.Errorf("the pod went %s after its deletion (served while held: %v), want after its process's drain of 1s", gone, servedWhileHeld)
		}
		if _, err := get(ip, port); !errors.Is(err, syscall.ECONNREFUSED) {
			t.Errorf("GET after the pod went: %v, want connection refused (its process exited first)", err)
		}
	})

	t.Run("a pod of a node without the kwok annotation gets no process", func(t *testing.T) {
		ip, port := "127.0.0.13", freePort(t, "127.0.0.13")
		e.createPod("real", realNode, "shop/cart:v1", port, "", ip)
		// Once a pod created later is served, the runner has seen both.
		laterIP, laterPort := "127.0.0.14", freePort(t, "127.0.0.14")
		e.createPod("later", kwokNode, "shop/cart:v1", laterPort, "TESTAPP_DRAIN=200ms", laterIP)
		e.eventuallyVersion(laterIP, laterPort, "v1", 10*time.Second)
		if _, err := get(ip, port); !errors.Is(err, syscall.ECONNREFUSED) {
			t.Errorf("GET on the real node's pod: %v, want connection refused", err)
		}
		if slices.Contains(e.runner.Serving(), "default/real") {
			t.Errorf("serving the real node's pod: %v", e.runner.Serving())
		}
	})

	t.Run("a new pod on a draining pod's IP replaces its process at once", func(t *testing.T) {
		ip, port := "127.0.0.15", freePort(t, "127.0.0.15")
		e.createPod("old", kwokNode, "shop/cart:v1", port, "TESTAPP_DRAIN=60s", ip)
		e.eventuallyVersion(ip, port, "v1", 10*time.Second)
		if err := e.clients.CoreV1().Pods("default").Delete(context.Background(), "old", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		e.createPod("new", kwokNode, "shop/cart:v2", port, "TESTAPP_DRAIN=200ms", ip)
		// Well before the old process's drain of 60s is over.
		e.eventuallyVersion(ip, port, "v2", 10*time.Second)
	})
}

func startRunnerEnv(t *testing.T) *runnerEnv {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "testapp")
	if out, err := exec.Command("go", "build", "-o", bin, "../testapp").CombinedOutput(); err != nil {
		t.Fatalf("go build ../testapp: %v\n%s", err, out)
	}
	testEnv := &envtest.Environment{}
	cfg, err := testEnv.Start()
	if err != nil {
		_ = testEnv.Stop()
		t.Fatalf("starting envtest: %v", err)
	}
	t.Cleanup(func() { _ = testEnv.Stop() })
	clients, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e := &runnerEnv{t: t, clients: clients, logDir: t.TempDir()}
	for name, annotations := range map[string]map[string]string{
		kwokNode: {kwokNodeAnnotation: kwokNodeValue},
		realNode: nil,
	} {
		node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: annotations}}
		if _, err := clients.CoreV1().Nodes().Create(context.Background(), node, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	e.runner = &Runner{
		Config: cfg, Testapp: bin, LogDir: e.logDir, Resync: time.Second,
		Log: log.New(testWriter{t}, "podrunner: ", log.Lmicroseconds),
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.runner.Run(ctx) }()
	// Registered after testEnv.Stop, so run before it: the runner and its
	// processes stop while the API server is still up.
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Error("Run did not return 15s after its context ended")
		}
	})
	return e
}

// createPod creates a pod of node with one app container serving port, then
// plays kwok: phase Running and IP ip. env is one NAME=value, or "".
func (e *runnerEnv) createPod(name, node, image string, port int, env, ip string) {
	e.t.Helper()
	ctx := context.Background()
	app := corev1.Container{Name: "app", Image: image, Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: int32(port)}}}
	if n, v, ok := strings.Cut(env, "="); ok {
		app.Env = []corev1.EnvVar{{Name: n, Value: v}}
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name},
		Spec:       corev1.PodSpec{NodeName: node, Containers: []corev1.Container{app}},
	}
	created, err := e.clients.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	created.Status = corev1.PodStatus{Phase: corev1.PodRunning, PodIP: ip, PodIPs: []corev1.PodIP{{IP: ip}}}
	if _, err := e.clients.CoreV1().Pods("default").UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
		e.t.Fatal(err)
	}
}

// eventuallyVersion waits, at most within, until ip:port answers with version.
func (e *runnerEnv) eventuallyVersion(ip string, port int, version string, within time.Duration) {
	e.t.Helper()
	start := time.Now()
	var last string
	for time.Since(start) < within {
		got, err := get(ip, port)
		if err == nil && got == version {
			e.t.Logf("%s:%d answers %s after %s", ip, port, version, time.Since(start).Round(10*time.Millisecond))
			return
		}
		last = fmt.Sprintf("version %q, error %v", got, err)
		time.Sleep(50 * time.Millisecond)
	}
	e.t.Fatalf("%s:%d does not answer %s after %s: last %s; serving %v", ip, port, version, within, last, e.runner.Serving())
}

// eventuallyRefused waits, at most within, until nothing listens on ip:port.
func (e *runnerEnv) eventuallyRefused(ip string, port int, within time.Duration) {
	e.t.Helper()
	start := time.Now()
	for time.Since(start) < within {
		if _, err := get(ip, port); errors.Is(err, syscall.ECONNREFUSED) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	e.t.Fatalf("%s:%d still accepts connections after %s", ip, port, within)
}

var noKeepAlive = &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}

// get returns the X-Version of a GET on ip:port.
func get(ip string, port int) (string, error) {
	resp, err := noKeepAlive.Get("http://" + net.JoinHostPort(ip, strconv.Itoa(port)) + "/")
	if err != nil {
		return "", err
	}
	defer func() { _ = resp.Body.Close() }()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.Header.Get("X-Version"), nil
}

// freePort returns a port nothing listens on at ip.
func freePort(t *testing.T, ip string) int {
	t.Helper()
	l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Fatalf("listen on %s: %v (a loopback address other than 127.0.0.1 needs Linux)", ip, err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return port
}

// testWriter sends the runner's log lines to the test's log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}
