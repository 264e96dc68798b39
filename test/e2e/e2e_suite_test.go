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

// Package e2e runs the operator as a user installs it, on the local control
// plane of hack/local-cluster.sh: real kube-controller-manager (Deployment,
// ReplicaSet, HPA and garbage-collection controllers), kube-scheduler, kwok
// nodes whose pods become Running and Ready, a real Prometheus, and a real
// data plane: Traefik programs the Gateway gateway-system/public and routes
// real requests by the operator's HTTPRoute weights to test apps that serve
// on the pods' IPs, in a network namespace of the local cluster's own.
//
// Run it with make test-e2e.
package e2e

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mscontroller "github.com/msvc-dev/msvc-operator/internal/controller"
)

var (
	root       string
	state      string
	kubeconfig string
	promURL    string
	gatewayURL string
	netns      string
	k8s        client.Client
	operator   *exec.Cmd
)

func TestE2E(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "End-to-end suite")
}

// run runs a command from the repository root and returns its output.
func run(name string, args ...string) string {
	cmd := exec.Command(name, args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	ExpectWithOffset(1, cmd.Run()).To(Succeed(), "%s %s: %s", name, strings.Join(args, " "), errOut.String())
	return out.String()
}

func kubectl(args ...string) string {
	return run(filepath.Join(kubeBins(), "kubectl"), args...)
}

func kubeBins() string {
	out, err := exec.Command(filepath.Join(root, "hack", "kube-bins.sh"), "--print-dir").Output()
	Expect(err).NotTo(HaveOccurred())
	return strings.TrimSpace(string(out))
}

// start runs a long-lived process in its own process group, logging to a file.
// started names the logs that a process of this run wrote: a process
// started again (the operator after its restart) appends to its log, so
// that the log of the first one is kept.
var started = map[string]bool{}

func start(logName string, env []string, name string, args ...string) *exec.Cmd {
	flags := os.O_CREATE | os.O_WRONLY | os.O_TRUNC
	if started[logName] {
		flags = os.O_CREATE | os.O_WRONLY | os.O_APPEND
	}
	started[logName] = true
	logFile, err := os.OpenFile(filepath.Join(state, logName), flags, 0o644)
	Expect(err).NotTo(HaveOccurred())
	cmd := exec.Command(name, args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	Expect(cmd.Start()).To(Succeed())
	return cmd
}

func stop(cmd *exec.Cmd) {
	if cmd == nil || cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
}

// operatorKubeconfig writes a kubeconfig that acts as the ServiceAccount the
// installed manifests give the manager, so the test runs the manager with
// exactly the RBAC a user installs, and reaches the API server through the
// fault proxy (chaos_test.go), which only forwards outside the chaos spec.
func operatorKubeconfig() string {
	token := strings.TrimSpace(kubectl("create", "token", "msvc-controller-manager", "-n", "msvc-system", "--duration", "2h"))
	cfg, err := clientcmd.LoadFromFile(kubeconfig)
	Expect(err).NotTo(HaveOccurred())
	current := cfg.Contexts[cfg.CurrentContext]
	cfg.AuthInfos[current.AuthInfo] = &clientcmdapi.AuthInfo{Token: token}
	cfg.Clusters[current.Cluster] = proxiedCluster()
	path := filepath.Join(state, "operator.kubeconfig")
	Expect(clientcmd.WriteToFile(*cfg, path)).To(Succeed())
	return path
}

func startOperator() {
	operator = start("e2e-operator.log", []string{"KUBECONFIG=" + operatorKubeconfig()}, filepath.Join(root, "bin", "manager"),
		"--leader-elect", "--leader-election-namespace=msvc-system",
		"--metrics-bind-address=0", "--health-probe-bind-address=127.0.0.1:28081",
		"--default-prometheus-address="+promURL)
	Eventually(func() error {
		resp, err := http.Get("http://127.0.0.1:28081/readyz")
		if err == nil {
			_ = resp.Body.Close()
		}
		return err
	}, 30*time.Second, 200*time.Millisecond).Should(Succeed())
}

var _ = BeforeSuite(func() {
	wd, err := os.Getwd()
	Expect(err).NotTo(HaveOccurred())
	root = filepath.Clean(filepath.Join(wd, "..", ".."))
	state = filepath.Join(root, ".cache", "local")

	By("starting the local control plane")
	cmd := exec.Command(filepath.Join(root, "hack", "local-cluster.sh"), "up")
	cmd.Stdout, cmd.Stderr = GinkgoWriter, GinkgoWriter
	Expect(cmd.Run()).To(Succeed())
	out, err := exec.Command(filepath.Join(root, "hack", "local-cluster.sh"), "env").Output()
	Expect(err).NotTo(HaveOccurred())
	for _, line := range strings.Split(string(out), "\n") {
		k, v, ok := strings.Cut(strings.TrimPrefix(line, "export "), "=")
		if !ok {
			continue
		}
		switch k {
		case "KUBECONFIG":
			kubeconfig = v
		case "MSVC_PROMETHEUS_URL":
			promURL = v
		case "MSVC_GATEWAY_URL":
			gatewayURL = v
		case "MSVC_NETNS":
			netns = v
		}
	}

	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	Expect(err).NotTo(HaveOccurred())
	scheme, err := mscontroller.NewScheme()
	Expect(err).NotTo(HaveOccurred())
	k8s, err = client.New(cfg, client.Options{Scheme: scheme})
	Expect(err).NotTo(HaveOccurred())
	apiProxy = startAPIProxy(cfg)

	By("installing the operator from config/default, as a user would")
	run("make", "kustomize")
	manifests := run("bash", "-c", "bin/kustomize-* build config/default")
	apply := exec.Command(filepath.Join(kubeBins(), "kubectl"), "apply", "--server-side", "-f", "-")
	apply.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
	apply.Stdin = strings.NewReader(manifests)
	applyOut, err := apply.CombinedOutput()
	Expect(err).NotTo(HaveOccurred(), string(applyOut))
	// No image can run here: the manager runs as a process, with the
	// installed ServiceAccount's identity and RBAC.
	kubectl("scale", "deployment", "msvc-controller-manager", "-n", "msvc-system", "--replicas=0")
	// From here to AfterSuite, every version of every Microservice, and of
	// their Pods and ReplicaSets, goes to the invariants' history.
	invariants = startInvariants(cfg, scheme)

	By("building and starting the manager")
	run("go", "build", "-o", "bin/manager", "./cmd")
	startOperator()
})

var _ = AfterSuite(func() {
	stop(operator)
	if apiProxy != nil {
		apiProxy.close()
	}
	var violations []string
	if invariants != nil {
		violations = invariants.finish()
	}
	if os.Getenv("E2E_KEEP_CLUSTER") != "1" {
		cmd := exec.Command(filepath.Join(root, "hack", "local-cluster.sh"), "down")
		cmd.Stdout, cmd.Stderr = GinkgoWriter, GinkgoWriter
		Expect(cmd.Run()).To(Succeed())
		Expect(leftBehind()).To(BeEmpty(), "local-cluster.sh down left these behind")
	}
	shown := violations[:min(len(violations), 20)]
	Expect(violations).To(BeEmpty(), "the invariants were broken %d times (all of them in %s), first:\n%s",
		len(violations), filepath.Join(state, "e2e-invariants.txt"), strings.Join(shown, "\n"))
})

var ctx = context.Background()

// leftBehind lists what of the local cluster still exists after down: its
// network namespace, and any process started from the project's binaries
// (Kubernetes, kwok, Traefik, the pod runner and test apps) or socat.
func leftBehind() []string {
	var out []string
	if netns != "" {
		if list, err := exec.Command("ip", "netns", "list").Output(); err == nil && strings.Contains(string(list), netns) {
			out = append(out, "network namespace "+netns)
		}
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		data, err := os.ReadFile(p)
		if err != nil || len(data) == 0 {
			continue
		}
		cmdline := strings.ReplaceAll(strings.TrimRight(string(data), "\x00"), "\x00", " ")
		exe := strings.Fields(cmdline)[0]
		if strings.HasPrefix(exe, filepath.Join(root, ".cache")) || strings.HasPrefix(exe, filepath.Join(root, "bin")) ||
			filepath.Base(exe) == "socat" && strings.Contains(cmdline, state) {
			out = append(out, strings.TrimPrefix(filepath.Dir(p), "/proc/")+": "+cmdline)
		}
	}
	return out
}
