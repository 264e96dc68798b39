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

// Package msvctest starts a Kubernetes API server for tests, with the
// Microservice CRD installed and, optionally, the msvc-operator running
// against it in the test's process, so that a platform team can check its
// own Microservice manifests (are they admitted? what does the operator make
// of them?) and its own controllers that work with Microservices.
//
// It runs envtest (sigs.k8s.io/controller-runtime/pkg/envtest): a real
// kube-apiserver and etcd, whose binaries it finds in
// Options.BinaryAssetsDirectory or $KUBEBUILDER_ASSETS. There is no
// kube-controller-manager, scheduler or kubelet: no pod ever runs, so a
// Deployment never reports ready pods by itself. SimulateDeployments stands
// in for the Deployment controller and the kubelets, and says so in its name.
package msvctest

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"io"
	"path"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
	"sigs.k8s.io/yaml"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
	"github.com/msvc-dev/msvc-operator/internal/builder"
	mscontroller "github.com/msvc-dev/msvc-operator/internal/controller"
)

// crds are the Microservice and AnalysisTemplate CRDs (copied from
// config/crd/bases by make manifests) and the Gateway API's standard CRDs that the operator uses
// (GatewayClass, Gateway, HTTPRoute, ReferenceGrant), at the version the
// operator is built against.
//
//go:embed crds/*.yaml
var crds embed.FS

// Options configure Start.
type Options struct {
	// BinaryAssetsDirectory holds kube-apiserver and etcd. Empty:
	// $KUBEBUILDER_ASSETS.
	BinaryAssetsDirectory string
	// GatewayAPI installs the Gateway API CRDs too, so that Microservices
	// with a route or a canary get their HTTPRoutes.
	GatewayAPI bool
	// RunOperator runs the msvc-operator's manager in the test's process,
	// configured as its Deployment runs it. Without it only admission
	// (the CRD's schema and validation rules) is tested.
	RunOperator bool
	// NetworkIsolation is the operator's --network-isolation.
	NetworkIsolation bool
	// CRDs are more CRDs to install (for example your own).
	CRDs []*apiextensionsv1.CustomResourceDefinition
}

// Env is a running API server, and the operator when asked for.
type Env struct {
	// Config reaches the API server as its administrator.
	Config *rest.Config
	// Client is a client of Config that knows the Microservice and Gateway
	// API kinds.
	Client client.Client

	testEnv *envtest.Environment
	stop    context.CancelFunc
	done    chan error
}

// Start starts the API server (and the operator). Call Stop when done, even
// after a failed test: the API server and etcd are processes of their own.
func Start(o Options) (*Env, error) {
	installed, err := embeddedCRDs(o.GatewayAPI)
	if err != nil {
		return nil, err
	}
	e := &Env{testEnv: &envtest.Environment{
		BinaryAssetsDirectory: o.BinaryAssetsDirectory,
		CRDInstallOptions:     envtest.CRDInstallOptions{CRDs: append(installed, o.CRDs...)},
	}}
	cfg, err := e.testEnv.Start()
	if err != nil {
		_ = e.testEnv.Stop()
		return nil, fmt.Errorf("starting kube-apiserver and etcd (are they in $KUBEBUILDER_ASSETS?): %w", err)
	}
	e.Config = cfg
	scheme, err := mscontroller.NewScheme()
	if err == nil {
		e.Client, err = client.New(cfg, client.Options{Scheme: scheme})
	}
	if err == nil && o.RunOperator {
		err = e.runOperator(o)
	}
	if err != nil {
		_ = e.Stop()
		return nil, err
	}
	return e, nil
}

func embeddedCRDs(gatewayAPI bool) ([]*apiextensionsv1.CustomResourceDefinition, error) {
	files, err := crds.ReadDir("crds")
	if err != nil {
		return nil, err
	}
	var out []*apiextensionsv1.CustomResourceDefinition
	for _, f := range files {
		data, err := crds.ReadFile(path.Join("crds", f.Name()))
		if err != nil {
			return nil, err
		}
		crd := &apiextensionsv1.CustomResourceDefinition{}
		if err := yaml.Unmarshal(data, crd); err != nil {
			return nil, fmt.Errorf("decoding %s: %w", f.Name(), err)
		}
		if crd.Spec.Group == msv1.GroupVersion.Group || gatewayAPI {
			out = append(out, crd)
		}
	}
	return out, nil
}

func (e *Env) runOperator(o Options) error {
	scheme, err := mscontroller.NewScheme()
	if err != nil {
		return err
	}
	mgr, err := ctrl.NewManager(e.Config, ctrl.Options{
		Scheme:                 scheme,
		Cache:                  mscontroller.CacheOptions(),
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		// Tests may start several environments in one process.
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		return fmt.Errorf("creating the operator's manager: %w", err)
	}
	r := &mscontroller.MicroserviceReconciler{
		Client:           mgr.GetClient(),
		APIReader:        mgr.GetAPIReader(),
		Recorder:         mgr.GetEventRecorder("msvc-operator"),
		NetworkIsolation: o.NetworkIsolation,
	}
	if err := r.SetupWithManager(mgr, controller.Options{MaxConcurrentReconciles: 4}); err != nil {
		return fmt.Errorf("setting up the operator: %w", err)
	}
	ctx, stop := context.WithCancel(context.Background())
	e.stop, e.done = stop, make(chan error, 1)
	go func() { e.done <- mgr.Start(ctx) }()
	return nil
}

// Stop stops the operator, then the API server and etcd.
func (e *Env) Stop() error {
	var errs []error
	if e.stop != nil {
		e.stop()
		if err := <-e.done; err != nil {
			errs = append(errs, fmt.Errorf("the operator stopped with: %w", err))
		}
		e.stop = nil
	}
	if e.testEnv != nil {
		errs = append(errs, e.testEnv.Stop())
	}
	return errors.Join(errs...)
}

// Apply creates or updates every object of a YAML stream (documents
// separated by ---) in namespace, unless a document names its own, with
// server-side apply. It stops at the first object the API server refuses
// and returns the server's message, which says what to fix.
func (e *Env) Apply(ctx context.Context, namespace string, manifests []byte) ([]*unstructured.Unstructured, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(manifests), 4096)
	var applied []*unstructured.Unstructured
	for i := 1; ; i++ {
		obj := &unstructured.Unstructured{}
		if err := dec.Decode(&obj.Object); err != nil {
			if errors.Is(err, io.EOF) {
				return applied, nil
			}
			return applied, fmt.Errorf("document %d: %w", i, err)
		}
		if len(obj.Object) == 0 {
			continue
		}
		if obj.GetNamespace() == "" {
			obj.SetNamespace(namespace)
		}
		if err := e.Client.Apply(ctx, client.ApplyConfigurationFromUnstructured(obj), client.FieldOwner("msvctest"), client.ForceOwnership); err != nil {
			return applied, fmt.Errorf("%s %s: %w", obj.GetKind(), obj.GetName(), err)
		}
		applied = append(applied, obj)
	}
}

// CreateNamespace creates a namespace with a generated name.
func (e *Env) CreateNamespace(ctx context.Context) (string, error) {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "msvctest-"}}
	if err := e.Client.Create(ctx, ns); err != nil {
		return "", err
	}
	return ns.Name, nil
}

// WaitFor reads the Microservice every 100 ms until done returns true for
// it, and returns it; or ctx's error, with the last status read.
func (e *Env) WaitFor(ctx context.Context, key client.ObjectKey, done func(*msv1.Microservice) bool) (*msv1.Microservice, error) {
	ms := &msv1.Microservice{}
	for {
		err := e.Client.Get(ctx, key, ms)
		if err == nil && done(ms) {
			return ms, nil
		}
		select {
		case <-ctx.Done():
			if err != nil {
				return nil, fmt.Errorf("waiting for Microservice %s: %w (last read: %v)", key, ctx.Err(), err)
			}
			return ms, fmt.Errorf("waiting for Microservice %s: %w (last conditions: %s)", key, ctx.Err(), conditions(ms))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func conditions(ms *msv1.Microservice) string {
	var b bytes.Buffer
	for _, c := range ms.Status.Conditions {
		fmt.Fprintf(&b, "%s=%s (%s: %s); ", c.Type, c.Status, c.Reason, c.Message)
	}
	return b.String()
}

// Observed is true once the operator has reconciled the Microservice's
// current generation.
func Observed(ms *msv1.Microservice) bool {
	return ms.Status.ObservedGeneration == ms.Generation
}

// Ready is true when the operator reports the Microservice's current
// generation Ready.
func Ready(ms *msv1.Microservice) bool {
	return Observed(ms) && apimeta.IsStatusConditionTrue(ms.Status.Conditions, msv1.ReadyCondition)
}

// SimulateDeployments is a stand-in for kube-controller-manager and the
// kubelets, which envtest does not run: it writes, on every Deployment the
// operator manages in namespace, the status of a Deployment whose pods all
// run the current template and are ready. Call it again after a change
// (a new image, a canary step) that makes the operator write a Deployment.
func (e *Env) SimulateDeployments(ctx context.Context, namespace string) error {
	list := &appsv1.DeploymentList{}
	if err := e.Client.List(ctx, list, client.InNamespace(namespace), client.MatchingLabels{builder.LabelManagedBy: builder.ManagedByValue}); err != nil {
		return err
	}
	for i := range list.Items {
		d := &list.Items[i]
		n := ptr.Deref(d.Spec.Replicas, 1)
		now := metav1.Now()
		d.Status = appsv1.DeploymentStatus{
			ObservedGeneration: d.Generation,
			Replicas:           n, UpdatedReplicas: n, ReadyReplicas: n, AvailableReplicas: n,
			Conditions: []appsv1.DeploymentCondition{
				{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue, Reason: "MinimumReplicasAvailable",
					Message: "Simulated by msvctest", LastUpdateTime: now, LastTransitionTime: now},
				{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionTrue, Reason: "NewReplicaSetAvailable",
					Message: "Simulated by msvctest", LastUpdateTime: now, LastTransitionTime: now},
			},
		}
		if err := e.Client.Status().Update(ctx, d); err != nil {
			return fmt.Errorf("writing the status of Deployment %s: %w", d.Name, err)
		}
	}
	return nil
}

// SimulatedGatewayController is the controllerName SimulateGateway reports
// routes under.
const SimulatedGatewayController = "msvctest.apps.msvc.dev/simulated-gateway"

// SimulateGateway is a stand-in for a Gateway API implementation, which
// envtest does not run: on every HTTPRoute the operator manages in
// namespace it reports each parent as accepting the route's current
// generation, with its backends resolved. Nothing serves the route.
func (e *Env) SimulateGateway(ctx context.Context, namespace string) error {
	list := &gwv1.HTTPRouteList{}
	if err := e.Client.List(ctx, list, client.InNamespace(namespace), client.MatchingLabels{builder.LabelManagedBy: builder.ManagedByValue}); err != nil {
		return err
	}
	for i := range list.Items {
		r := &list.Items[i]
		r.Status.Parents = nil
		for _, ref := range r.Spec.ParentRefs {
			now := metav1.Now()
			r.Status.Parents = append(r.Status.Parents, gwv1.RouteParentStatus{
				ParentRef:      ref,
				ControllerName: SimulatedGatewayController,
				Conditions: []metav1.Condition{
					{Type: string(gwv1.RouteConditionAccepted), Status: metav1.ConditionTrue, Reason: string(gwv1.RouteReasonAccepted),
						Message: "Simulated by msvctest", ObservedGeneration: r.Generation, LastTransitionTime: now},
					{Type: string(gwv1.RouteConditionResolvedRefs), Status: metav1.ConditionTrue, Reason: string(gwv1.RouteReasonResolvedRefs),
						Message: "Simulated by msvctest", ObservedGeneration: r.Generation, LastTransitionTime: now},
				},
			})
		}
		if err := e.Client.Status().Update(ctx, r); err != nil {
			return fmt.Errorf("writing the status of HTTPRoute %s: %w", r.Name, err)
		}
	}
	return nil
}
