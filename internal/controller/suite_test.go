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
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/yaml"

	"github.com/msvc-dev/msvc-operator/internal/notify"
	"github.com/msvc-dev/msvc-operator/internal/shard"
)

// The suite runs the real manager against envtest's kube-apiserver and etcd,
// built from Go modules by hack/kube-bins.sh (make test sets KUBEBUILDER_ASSETS).
// envtest runs no kube-controller-manager: tests play the Deployment, HPA and
// Gateway controllers by writing status, and the garbage collector is proved
// by the end-to-end suite.

var (
	ctx       context.Context
	cancel    context.CancelFunc
	k8sClient client.Client
	scheme    *runtime.Scheme
	env       *operatorEnv
	// health judges every status of the suite's Microservices with kstatus.
	health *healthJudge
)

func TestControllers(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Controller Suite")
}

// operatorEnv is one API server with the operator running against it.
type operatorEnv struct {
	testEnv *envtest.Environment
	cfg     *rest.Config
	// operatorCfg acts as a user that holds only the ClusterRole that
	// make manifests generates: every test proves that RBAC is enough.
	operatorCfg *rest.Config
	mgr         ctrl.Manager
	running     *runningManager
	writes      *writeCounter
}

// startOperatorEnv starts an API server with the given CRDs and runs the
// operator's manager against it, exactly as cmd/main.go configures it.
func startOperatorEnv(crdPaths []string, customize ...func(*envtest.Environment)) *operatorEnv {
	Expect(os.Getenv("KUBEBUILDER_ASSETS")).NotTo(BeEmpty(),
		"KUBEBUILDER_ASSETS is not set: run the tests with 'make test', which builds kube-apiserver and etcd")
	e := &operatorEnv{
		testEnv: &envtest.Environment{
			CRDDirectoryPaths:     crdPaths,
			ErrorIfCRDPathMissing: true,
		},
		writes: &writeCounter{},
	}
	// envtest's default Service range is a /24. Nothing deletes a spec's
	// namespace here (no namespace controller), so the Services of the
	// whole suite add up: past about 250, a Service could not be created
	// ("failed to allocate a serviceIP: range is full", seen in a full run).
	e.testEnv.ControlPlane.GetAPIServer().Configure().Set("service-cluster-ip-range", "10.96.0.0/16")
	for _, c := range customize {
		c(e.testEnv)
	}
	cfg, err := e.testEnv.Start()
	if err != nil {
		// Do not leave etcd and kube-apiserver behind when, say, a CRD is refused.
		_ = e.testEnv.Stop()
	}
	Expect(err).NotTo(HaveOccurred())
	e.cfg = cfg
	// Nor when the manager cannot start: a failed assertion unwinds
	// through here, and the control plane must not outlive the test.
	started := false
	defer func() {
		if !started {
			_ = e.testEnv.Stop()
		}
	}()
	e.operatorCfg = operatorIdentity(e.testEnv, cfg)
	e.startManager()
	started = true
	return e
}

// startManager runs a new manager, with fresh memory, against the API server.
func (e *operatorEnv) startManager() {
	e.running = e.runManager(managerOptions{})
	e.mgr = e.running.mgr
}

// stopManager stops the manager, as a crash or a rollout of the operator would.
func (e *operatorEnv) stopManager() {
	Expect(e.running.Stop()).To(Succeed())
}

// managerOptions are what the fault tests vary between managers.
type managerOptions struct {
	// wrap is an extra transport around the manager's requests.
	wrap func(http.RoundTripper) http.RoundTripper
	// leaderElection, when set, makes the manager campaign for this lease.
	leaderElection *leaderElection
	// namespaces limits the manager to these namespaces (--watch-namespaces).
	namespaces []string
	// wrapClient, when set, wraps the client the reconciler uses for every
	// read and write.
	wrapClient func(client.Client) client.Client
	// alerts, when set, is the manager's alert sender (--alert-providers-file).
	alerts *notify.Sender
	// shards, when set, makes the manager hold shard Leases (--shards).
	shards *shard.Options
}

type leaderElection struct {
	namespace                            string
	leaseDuration, renewDeadline, period time.Duration
}

// runningManager is one manager started by runManager.
type runningManager struct {
	mgr  ctrl.Manager
	stop context.CancelFunc
	done chan struct{}
	// err is what mgr.Start returned, once done is closed.
	err error
	// shards is the manager's shard Coordinator, with managerOptions.shards.
	shards *shard.Coordinator
}

// Stop cancels the manager's context, waits for it to return and returns
// what its Start returned.
func (m *runningManager) Stop() error {
	m.stop()
	<-m.done
	return m.err
}

// replaceSuiteManager stops the suite's manager for each spec of the
// container it is called in (the spec runs managers of its own), and starts
// a fresh one after it.
func replaceSuiteManager() {
	BeforeEach(func() {
		env.stopManager()
		DeferCleanup(env.startManager)
	})
}

// runOwnManager runs a manager with o for the current spec; it is stopped,
// and must stop cleanly, when the spec ends.
func runOwnManager(o managerOptions) {
	m := env.runManager(o)
	DeferCleanup(func() { Expect(m.Stop()).To(Succeed()) })
}

// runManager runs a manager configured as cmd/main.go configures it.
func (e *operatorEnv) runManager(o managerOptions) *runningManager {
	// The manager's requests go through a counter, so tests can assert how
	// many writes a reconcile made.
	mgrCfg := rest.CopyConfig(e.operatorCfg)
	// cmd/main.go's rate limit: envtest's users get client-go's 5 requests
	// a second, which made a restarted manager take over 20 s to catch up
	// with the Microservices earlier specs left (seen in CI).
	mgrCfg.QPS, mgrCfg.Burst = DefaultKubeAPIQPS, DefaultKubeAPIBurst
	mgrCfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { return &countingTransport{next: rt, counter: e.writes} })
	mgrCfg.Wrap(secretRequests.wrap)
	if o.wrap != nil {
		mgrCfg.Wrap(o.wrap)
	}

	cacheOpts := CacheOptions()
	if len(o.namespaces) > 0 {
		cacheOpts.DefaultNamespaces = map[string]cache.Config{}
		for _, ns := range o.namespaces {
			cacheOpts.DefaultNamespaces[ns] = cache.Config{}
		}
	}
	opts := ctrl.Options{
		Scheme:  scheme,
		Cache:   cacheOpts,
		Metrics: metricsserver.Options{BindAddress: "0"},
		// Several managers run in this process (with and without the Gateway
		// API, and restarted ones).
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	}
	if le := o.leaderElection; le != nil {
		opts.LeaderElection = true
		opts.LeaderElectionID = "msvc-operator.apps.msvc.dev"
		opts.LeaderElectionNamespace = le.namespace
		opts.LeaderElectionConfig = mgrCfg
		opts.LeaseDuration, opts.RenewDeadline, opts.RetryPeriod = &le.leaseDuration, &le.renewDeadline, &le.period
		opts.HealthProbeBindAddress = "0"
	}
	mgr, err := ctrl.NewManager(mgrCfg, opts)
	Expect(err).NotTo(HaveOccurred())
	c := mgr.GetClient()
	if o.wrapClient != nil {
		c = o.wrapClient(c)
	}
	r := &MicroserviceReconciler{Client: c, APIReader: mgr.GetAPIReader(), Recorder: mgr.GetEventRecorder("msvc-operator")}
	if o.alerts != nil {
		r.Alerts = o.alerts
		Expect(mgr.Add(o.alerts)).To(Succeed())
	}
	if o.shards != nil {
		so := *o.shards
		so.Client, err = client.New(mgrCfg, client.Options{Scheme: scheme})
		Expect(err).NotTo(HaveOccurred())
		so.Acquired = r.ShardAcquired
		r.Shards, err = shard.New(so)
		Expect(err).NotTo(HaveOccurred())
		Expect(mgr.Add(r.Shards)).To(Succeed())
	}
	Expect(r.SetupWithManager(mgr, controller.Options{MaxConcurrentReconciles: 2})).To(Succeed())

	mgrCtx, stop := context.WithCancel(ctx)
	m := &runningManager{mgr: mgr, stop: stop, done: make(chan struct{}), shards: r.Shards}
	go func() {
		defer close(m.done)
		m.err = mgr.Start(mgrCtx)
	}()
	return m
}

func (e *operatorEnv) Stop() {
	e.stopManager()
	Expect(e.testEnv.Stop()).To(Succeed())
}

// operatorIdentity creates a user bound to the generated ClusterRole
// (config/rbac/role.yaml) and nothing else, and returns its config.
func operatorIdentity(testEnv *envtest.Environment, admin *rest.Config) *rest.Config {
	data, err := os.ReadFile(filepath.Join("..", "..", "config", "rbac", "role.yaml"))
	Expect(err).NotTo(HaveOccurred())
	role := &rbacv1.ClusterRole{}
	Expect(yaml.Unmarshal(data, role)).To(Succeed())
	for _, rule := range role.Rules {
		for _, list := range [][]string{rule.APIGroups, rule.Resources, rule.Verbs} {
			Expect(list).NotTo(ContainElement("*"), "the generated ClusterRole has no wildcards")
		}
	}
	c, err := client.New(admin, client.Options{})
	Expect(err).NotTo(HaveOccurred())
	Expect(c.Create(ctx, role)).To(Succeed())
	const user = "msvc-operator"
	Expect(c.Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "msvc-operator"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: user}},
	})).To(Succeed())
	authenticated, err := testEnv.AddUser(envtest.User{Name: user}, nil)
	Expect(err).NotTo(HaveOccurred())
	// RBAC is enforced: the identity can do what the role grants and no more.
	limited, err := client.New(authenticated.Config(), client.Options{})
	Expect(err).NotTo(HaveOccurred())
	err = limited.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "not-allowed"}})
	Expect(apierrors.IsForbidden(err)).To(BeTrue(), "creating a namespace must be forbidden, got %v", err)
	return authenticated.Config()
}

var _ = BeforeSuite(func() {
	logf.SetLogger(zap.New(zap.WriteTo(io.MultiWriter(GinkgoWriter, managerLogs)), zap.UseDevMode(true)))
	ctx, cancel = context.WithCancel(context.TODO())

	var err error
	scheme, err = NewScheme()
	Expect(err).NotTo(HaveOccurred())

	env = startOperatorEnv(append([]string{projectCRDs()}, gatewayAPICRDs()...))
	k8sClient, err = client.New(env.cfg, client.Options{Scheme: scheme})
	Expect(err).NotTo(HaveOccurred())
	health = judgeHealth(env.cfg)
})

var _ = AfterSuite(func() {
	// The control plane stops even when the judge fails the suite.
	defer func() {
		if env != nil {
			env.Stop()
		}
		cancel()
	}()
	if health != nil {
		health.Check()
	}
})

// projectCRDs is the folder of the CRDs that make manifests generates.
func projectCRDs() string {
	return filepath.Join("..", "..", "config", "crd", "bases")
}

// gatewayAPICRDs are the standard-channel Gateway API CRDs, read from the
// gateway-api module that go.mod pins, so that the tests install exactly the
// API version the operator is built against.
func gatewayAPICRDs() []string { return gatewayAPICRDsOf("standard") }

// gatewayAPICRDsOf are the Gateway API CRDs of a release channel: standard
// or experimental.
func gatewayAPICRDsOf(channel string) []string {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "sigs.k8s.io/gateway-api").Output()
	Expect(err).NotTo(HaveOccurred(), "finding the gateway-api module (go mod download may be needed)")
	dir := filepath.Join(strings.TrimSpace(string(out)), "config", "crd", channel)
	var files []string
	for _, kind := range []string{"gatewayclasses", "gateways", "httproutes", "referencegrants"} {
		files = append(files, filepath.Join(dir, "gateway.networking.k8s.io_"+kind+".yaml"))
	}
	return files
}

// newNamespace creates a namespace of its own for one test.
func newNamespace() string {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "ms-test-"}}
	Expect(k8sClient.Create(ctx, ns)).To(Succeed())
	return ns.Name
}

// writeKey is one kind of write request.
type writeKey struct {
	verb, namespace, resource string
}

// writeCounter counts the manager's write requests, by verb, namespace and resource.
type writeCounter struct {
	mu     sync.Mutex
	counts map[writeKey]int
}

func (w *writeCounter) add(k writeKey) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.counts == nil {
		w.counts = map[writeKey]int{}
	}
	w.counts[k]++
}

// Snapshot copies the counts so far.
func (w *writeCounter) Snapshot() map[writeKey]int {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make(map[writeKey]int, len(w.counts))
	for k, v := range w.counts {
		out[k] = v
	}
	return out
}

// Since returns the writes in namespace made after the snapshot before, as
// "VERB resource[/subresource]" -> count.
func (w *writeCounter) Since(before map[writeKey]int, namespace string) map[string]int {
	out := map[string]int{}
	for k, v := range w.Snapshot() {
		if d := v - before[k]; d > 0 && k.namespace == namespace {
			out[k.verb+" "+k.resource] = d
		}
	}
	return out
}

type countingTransport struct {
	next    http.RoundTripper
	counter *writeCounter
}

func (t *countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	switch req.Method {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		ns, resource := describePath(req.URL.Path)
		t.counter.add(writeKey{verb: req.Method, namespace: ns, resource: resource})
	}
	return t.next.RoundTrip(req)
}

// describePath turns /apis/apps/v1/namespaces/ns/deployments/name/scale into
// ("ns", "deployments/scale").
func describePath(path string) (namespace, resource string) {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	for i := 0; i+2 < len(parts); i++ {
		if parts[i] == "namespaces" {
			rest := parts[i+2:]
			resource = rest[0]
			if len(rest) > 2 {
				resource += "/" + rest[2]
			}
			return parts[i+1], resource
		}
	}
	return "", path
}

var _ = Describe("the test harness", func() {
	It("counts writes by namespace and resource", func() {
		ns, res := describePath("/apis/apps/v1/namespaces/a/deployments/x/scale")
		Expect([]string{ns, res}).To(Equal([]string{"a", "deployments/scale"}))
		ns, res = describePath("/api/v1/namespaces/a/services/x")
		Expect([]string{ns, res}).To(Equal([]string{"a", "services"}))
		w := &writeCounter{}
		w.add(writeKey{"PATCH", "a", "deployments"})
		before := w.Snapshot()
		w.add(writeKey{"PATCH", "a", "deployments"})
		w.add(writeKey{"PATCH", "b", "deployments"})
		Expect(w.Since(before, "a")).To(Equal(map[string]int{"PATCH deployments": 1}))
	})
})
