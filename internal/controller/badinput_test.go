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
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
	"github.com/msvc-dev/msvc-operator/internal/analysis"
)

var updateDocs = flag.Bool("update-docs", false, "rewrite docs/bad-input.md from the bad input catalogue")

// badInputDoc is the user-facing page generated from badInputs.
const badInputDoc = "../../docs/bad-input.md"

// badInput is one malformed or hostile Microservice and what its author gets.
type badInput struct {
	// category groups the cases in the doc page.
	category string
	// name says what is wrong, in a few words.
	name string
	// input is YAML, in flow style so that it fits a table cell. For a
	// refused input it is merged (RFC 7386: objects merge, lists are
	// replaced) onto a valid Microservice named checkout.
	input string
	// expand, when set, adds to the valid object what is too large to show
	// in input (which then describes it in words).
	expand func(obj map[string]any)
	// observe, when set, runs an input that admission accepts and returns
	// what the user gets (a condition, the pods' environment, a rendered
	// query). Without it the input must be refused at admission.
	observe func(ns string) string
	// message is exactly what the user gets: the API server's message after
	// `Microservice.apps.msvc.dev "<name>" is invalid: `, or what observe returns.
	message string
	// fix says what to do.
	fix string
}

// refused reports whether admission must refuse the input.
func (b badInput) refused() bool { return b.observe == nil }

// repeat returns n copies of item built from its index.
func repeat(n int, item func(i int) any) []any {
	out := make([]any, n)
	for i := range out {
		out[i] = item(i)
	}
	return out
}

// setPath sets obj[path[0]][path[1]]... to v, creating maps on the way.
func setPath(obj map[string]any, v any, path ...string) {
	for _, p := range path[:len(path)-1] {
		next, ok := obj[p].(map[string]any)
		if !ok {
			next = map[string]any{}
			obj[p] = next
		}
		obj = next
	}
	obj[path[len(path)-1]] = v
}

const promQLTemplate = `sum(rate(http_requests_total{app="{{ .Name }}",code=~"5.."}[1m]))`

// render renders promQLTemplate (or tmpl) with a hostile Name and returns
// the query Prometheus would receive, or the error the metric reports.
func render(tmpl, name string) func(string) string {
	return func(string) string {
		q, err := analysis.RenderQuery(tmpl, analysis.QueryVars{Name: name, Namespace: "shop", Track: "canary", Revision: "checkout-5d4f9c"})
		if err != nil {
			return "measurement Inconclusive: " + err.Error()
		}
		return "query sent: " + q
	}
}

// renderTemplate renders template tmpl for implementation impl, for the
// canary of checkout in namespace shop, as a measurement would.
func renderTemplate(impl analysis.Implementation, tmpl analysis.Template) func(string) string {
	return func(string) string {
		q, err := analysis.TemplateQuery(impl, tmpl, analysis.Target{Namespace: "shop", Service: "checkout-canary", Workload: "checkout-canary", Window: analysis.RateWindow(time.Minute, 0)})
		if err != nil {
			return "measurement Inconclusive: " + err.Error()
		}
		return "query sent: " + q
	}
}

var badInputs = []badInput{
	// Names.
	{category: "Names", name: "name longer than 56 characters",
		input:   `metadata: {name: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa}`,
		message: `<nil>: Invalid value: metadata.name must be at most 56 characters: the operator derives Service and Deployment names from it`,
		fix:     "Use at most 56 characters: the operator adds suffixes such as `-canary` to derive child names of at most 63."},
	{category: "Names", name: "name starting with a digit", input: `metadata: {name: 1checkout}`,
		message: `<nil>: Invalid value: metadata.name must start with a letter and contain only lower case letters, digits and '-', because it becomes a Service name`,
		fix:     "Start the name with a letter."},
	{category: "Names", name: "upper-case name", input: `metadata: {name: Checkout}`,
		message: `[metadata.name: Invalid value: "Checkout": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*'), <nil>: Invalid value: metadata.name must start with a letter and contain only lower case letters, digits and '-', because it becomes a Service name]`,
		fix:     "Use lower case."},
	{category: "Names", name: "name with a dot", input: `metadata: {name: checkout.v2}`,
		message: `<nil>: Invalid value: metadata.name must start with a letter and contain only lower case letters, digits and '-', because it becomes a Service name`,
		fix:     "Use '-' instead of '.': the name becomes a Service name, which has no dots."},
	{category: "Names", name: "PromQL injection through the name", input: `metadata: {name: 'checkout"} or vector(1) or x{a="'}`,
		message: `[metadata.name: Invalid value: "checkout\"} or vector(1) or x{a=\"": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*'), <nil>: Invalid value: metadata.name must start with a letter and contain only lower case letters, digits and '-', because it becomes a Service name]`,
		fix:     "Names are plain DNS labels: nothing in them can reach a query unescaped."},

	// Image.
	{category: "Image", name: "empty image", input: `spec: {image: ""}`,
		message: `spec.image: Invalid value: "": spec.image is required: set it to a container image such as ghcr.io/acme/app:1.0`,
		fix:     "Set spec.image."},
	{category: "Image", name: "image with whitespace", input: `spec: {image: "ghcr.io/acme/checkout :1.0"}`,
		message: `spec.image: Invalid value: "ghcr.io/acme/checkout :1.0": spec.image must not contain whitespace`,
		fix:     "Remove the space."},
	{category: "Image", name: "image ending in a colon", input: `spec: {image: "ghcr.io/acme/checkout:"}`,
		message: `spec.image: Invalid value: "ghcr.io/acme/checkout:": spec.image must be a reference such as registry.example.com/team/app:1.0 (no leading or trailing ':' or '@')`,
		fix:     "Add the tag after ':' or remove the ':'."},
	{category: "Image", name: "image of 600 characters", input: `spec: {image: <600 characters>}`,
		expand:  func(o map[string]any) { setPath(o, "ghcr.io/"+strings.Repeat("a", 592), "spec", "image") },
		message: `[spec.image: Too long: may not be more than 512 bytes, <nil>: Invalid value: null: some validation rules were not checked because the object was invalid; correct the existing errors to complete validation]`,
		fix:     "Use a real image reference."},

	// Ports.
	{category: "Ports", name: "duplicate port names", input: `spec: {ports: [{name: http, port: 80}, {name: http, port: 81}]}`,
		message: `[spec.ports[1]: Duplicate value: {"name":"http"}, spec.ports: Invalid value: spec.ports[].name must be unique: give each entry its own name]`,
		fix:     "Give each port its own name."},
	{category: "Ports", name: "duplicate port numbers", input: `spec: {ports: [{name: http, port: 80}, {name: admin, port: 80}]}`,
		message: `spec.ports: Invalid value: spec.ports[].port must be unique: give each entry its own port number`,
		fix:     "Give each port its own number."},
	{category: "Ports", name: "port zero", input: `spec: {ports: [{name: http, port: 0}]}`,
		message: `spec.ports[0].port: Invalid value: 0: spec.ports[0].port in body should be greater than or equal to 1`,
		fix:     "Use a port from 1 to 65535."},
	{category: "Ports", name: "port above 65535", input: `spec: {ports: [{name: http, port: 70000}]}`,
		message: `spec.ports[0].port: Invalid value: 70000: spec.ports[0].port in body should be less than or equal to 65535`,
		fix:     "Use a port from 1 to 65535."},
	{category: "Ports", name: "target port zero", input: `spec: {ports: [{name: http, port: 80, targetPort: 0}]}`,
		message: `spec.ports[0].targetPort: Invalid value: 0: spec.ports[0].targetPort in body should be greater than or equal to 1`,
		fix:     "Use the port the container listens on, or leave targetPort out to use port."},
	{category: "Ports", name: "upper-case port name", input: `spec: {ports: [{name: HTTP, port: 80}]}`,
		message: `spec.ports[0].name: Invalid value: "HTTP": spec.ports[].name must be lower case letters, digits and '-', contain a letter, and start and end with a letter or digit (for example http or grpc-api)`,
		fix:     "Use lower case."},
	{category: "Ports", name: "port name of digits only", input: `spec: {ports: [{name: "8080", port: 8080}]}`,
		message: `spec.ports[0].name: Invalid value: "8080": spec.ports[].name must be lower case letters, digits and '-', contain a letter, and start and end with a letter or digit (for example http or grpc-api)`,
		fix:     "Name the port after its protocol, for example http."},
	{category: "Ports", name: "port name longer than 15", input: `spec: {ports: [{name: a-very-long-port-name, port: 80}]}`,
		message: `[spec.ports[0].name: Too long: may not be more than 15 bytes, <nil>: Invalid value: null: some validation rules were not checked because the object was invalid; correct the existing errors to complete validation]`,
		fix:     "Use at most 15 characters."},
	{category: "Ports", name: "unknown protocol", input: `spec: {ports: [{name: http, port: 80, protocol: HTTP}]}`,
		message: `[spec.ports[0].protocol: Unsupported value: "HTTP": supported values: "TCP", "UDP", "SCTP", <nil>: Invalid value: null: some validation rules were not checked because the object was invalid; correct the existing errors to complete validation]`,
		fix:     "protocol is the transport (TCP, UDP or SCTP); put http in appProtocol."},
	{category: "Ports", name: "33 ports", input: `spec: {ports: [33 ports]}`,
		expand: func(o map[string]any) {
			setPath(o, repeat(33, func(i int) any { return map[string]any{"name": fmt.Sprintf("p%d", i), "port": 8000 + i} }), "spec", "ports")
		},
		message: `[spec.ports: Too many: 33: must have at most 32 items, <nil>: Invalid value: null: some validation rules were not checked because the object was invalid; correct the existing errors to complete validation]`,
		fix:     "Split the service, or expose a port range through one port."},

	// Replicas and autoscaling.
	{category: "Replicas and autoscaling", name: "negative replicas", input: `spec: {replicas: -1}`,
		message: `.spec.replicas: Invalid value: -1: should be a non-negative integer`,
		fix:     "Use 0 or more."},
	{category: "Replicas and autoscaling", name: "a million replicas", input: `spec: {replicas: 1000000}`,
		message: `spec.replicas: Invalid value: 1000000: spec.replicas in body should be less than or equal to 10000`,
		fix:     "Use at most 10000."},
	{category: "Replicas and autoscaling", name: "replicas beyond int32", input: `spec: {replicas: 4294967297}`,
		message: `[<nil>: Invalid value: "": Checked value must be of type integer with format int32 in spec.replicas, spec.replicas: Invalid value: 4294967297: spec.replicas in body should be less than or equal to 10000, .spec.replicas: Invalid value: 4294967297: should be less than or equal to 2147483647]`,
		fix:     "Use at most 10000."},
	{category: "Replicas and autoscaling", name: "replicas as a word", input: `spec: {replicas: three}`,
		message: `[spec.replicas: Invalid value: "string": spec.replicas in body must be of type integer: "string", .spec.replicas: Invalid value: 0: .spec.replicas accessor error: three is of the type string, expected int64, <nil>: Invalid value: null: some validation rules were not checked because the object was invalid; correct the existing errors to complete validation]`,
		fix:     "Write a number."},
	{category: "Replicas and autoscaling", name: "minReplicas above maxReplicas", input: `spec: {autoscaling: {minReplicas: 5, maxReplicas: 3, targetCPUUtilizationPercentage: 70}}`,
		message: `spec.autoscaling: Invalid value: spec.autoscaling.minReplicas must be less than or equal to spec.autoscaling.maxReplicas`,
		fix:     "Swap them."},
	{category: "Replicas and autoscaling", name: "maxReplicas zero", input: `spec: {autoscaling: {maxReplicas: 0, targetCPUUtilizationPercentage: 70}}`,
		message: `spec.autoscaling.maxReplicas: Invalid value: 0: spec.autoscaling.maxReplicas in body should be greater than or equal to 1`,
		fix:     "Use at least 1; for zero pods remove autoscaling and set replicas: 0."},
	{category: "Replicas and autoscaling", name: "autoscaling without a target", input: `spec: {autoscaling: {maxReplicas: 4}}`,
		message: `spec.autoscaling: Invalid value: spec.autoscaling needs targetCPUUtilizationPercentage or targetMemoryUtilizationPercentage (or both)`,
		fix:     "Set a CPU or memory target."},
	{category: "Replicas and autoscaling", name: "CPU target zero", input: `spec: {autoscaling: {maxReplicas: 4, targetCPUUtilizationPercentage: 0}}`,
		message: `spec.autoscaling.targetCPUUtilizationPercentage: Invalid value: 0: spec.autoscaling.targetCPUUtilizationPercentage in body should be greater than or equal to 1`,
		fix:     "Use a percentage from 1 to 1000."},

	// Environment variables.
	{category: "Environment variables", name: "the same variable twice", input: `spec: {env: [{name: MODE, value: a}, {name: MODE, value: b}]}`,
		message: `spec.env[1]: Duplicate value: {"name":"MODE"}`,
		fix:     "Keep one of them."},
	{category: "Environment variables", name: "257 variables", input: `spec: {env: [257 variables]}`,
		expand: func(o map[string]any) {
			setPath(o, repeat(257, func(i int) any { return map[string]any{"name": fmt.Sprintf("VAR_%d", i), "value": "x"} }), "spec", "env")
		},
		message: `[spec.env: Too many: 257: must have at most 256 items, <nil>: Invalid value: null: some validation rules were not checked because the object was invalid; correct the existing errors to complete validation]`,
		fix:     "Put them in a ConfigMap and use envFrom."},
	{category: "Environment variables", name: "two dependencies of the same name in different namespaces",
		input:   `spec: {dependencies: [{name: payments}, {name: payments, namespace: legacy}]}`,
		message: `spec.dependencies: Invalid value: spec.dependencies must give each dependency its own environment variables: two of them would set the same one (dependencies of the same name in two namespaces both get <NAME>_URL, <NAME>_HOST and <NAME>_PORT); set env.name on one of them to a name no other dependency uses`,
		fix:     "Set env.name on one of them, for example LEGACY_PAYMENTS_URL."},
	{category: "Environment variables", name: "two dependencies given the same variable",
		input:   `spec: {dependencies: [{name: payments, env: {name: BACKEND}}, {name: ledger, env: {name: BACKEND}}]}`,
		message: `spec.dependencies: Invalid value: spec.dependencies must give each dependency its own environment variables: two of them would set the same one (dependencies of the same name in two namespaces both get <NAME>_URL, <NAME>_HOST and <NAME>_PORT); set env.name on one of them to a name no other dependency uses`,
		fix:     "Give each its own env.name."},
	{category: "Environment variables", name: "a dependency's variable named like another's injected one",
		input:   `spec: {dependencies: [{name: payments}, {name: ledger, env: {name: PAYMENTS_URL}}]}`,
		message: `spec.dependencies: Invalid value: spec.dependencies must give each dependency its own environment variables: two of them would set the same one (dependencies of the same name in two namespaces both get <NAME>_URL, <NAME>_HOST and <NAME>_PORT); set env.name on one of them to a name no other dependency uses`,
		fix:     "Choose another env.name."},
	{category: "Environment variables", name: "dependency variable that is no variable name",
		input:   `spec: {dependencies: [{name: payments, env: {name: PAYMENTS-ADDR}}]}`,
		message: `spec.dependencies[0].env.name: Invalid value: "PAYMENTS-ADDR": spec.dependencies[0].env.name in body should match '^[A-Za-z_][A-Za-z0-9_]*$'`,
		fix:     "Use letters, digits and '_', not starting with a digit."},
	{category: "Environment variables", name: "spec.env sets a variable that a dependency injects",
		input: `payments exists; checkout: spec: {env: [{name: PAYMENTS_URL, value: "https://payments.example.org"}], dependencies: [{name: payments}]}`,
		observe: func(ns string) string {
			payments := service(ns, "payments", 8080)
			co := service(ns, "checkout", 80, dep("payments"))
			co.Spec.Env = []corev1.EnvVar{{Name: "PAYMENTS_URL", Value: "https://payments.example.org"}}
			Expect(k8sClient.Create(ctx, payments)).To(Succeed())
			Expect(k8sClient.Create(ctx, co)).To(Succeed())
			var env []corev1.EnvVar
			Eventually(func() []corev1.EnvVar {
				d := &appsv1.Deployment{}
				if err := k8sClient.Get(ctx, key(co), d); err != nil {
					return nil
				}
				env = d.Spec.Template.Spec.Containers[0].Env
				return env
			}, timeout, interval).Should(ContainElement(HaveField("Name", "PAYMENTS_HOST")))
			var parts []string
			for _, e := range env {
				parts = append(parts, e.Name+"="+strings.ReplaceAll(e.Value, ns, "<namespace>"))
			}
			return "accepted; the pods get " + strings.Join(parts, ", ")
		},
		message: `accepted; the pods get PAYMENTS_URL=https://payments.example.org, PAYMENTS_HOST=payments.<namespace>.svc.cluster.local, PAYMENTS_PORT=8080`,
		fix:     "Nothing: your own value wins over the injected address, and the other variables are still injected. Remove it from spec.env to get the dependency's address."},

	// Route.
	{category: "Route", name: "route with parentRefs left out", input: `spec: {route: {hostnames: [shop.example.com]}}`,
		message: `spec.route: Invalid value: spec.route.parentRefs needs at least one entry: name the Gateway that exposes this service`,
		fix:     "Name the Gateway."},
	{category: "Route", name: "route without parentRefs", input: `spec: {route: {parentRefs: []}}`,
		message: `spec.route: Invalid value: spec.route.parentRefs needs at least one entry: name the Gateway that exposes this service`,
		fix:     "Name the Gateway."},
	{category: "Route", name: "path without a leading slash", input: `spec: {route: {parentRefs: [{name: public}], pathPrefix: checkout}}`,
		message: `spec.route.pathPrefix: Invalid value: "checkout": spec.route.pathPrefix must start with '/'`,
		fix:     "Start the path with '/'."},
	{category: "Route", name: "path climbing up", input: `spec: {route: {parentRefs: [{name: public}], pathPrefix: /shop/../admin}}`,
		message: `spec.route.pathPrefix: Invalid value: "/shop/../admin": spec.route.pathPrefix must be a plain path: no '//', '/./', '/../', '#' or encoded '/'`,
		fix:     "Write the path the route should match, without '..'."},
	{category: "Route", name: "upper-case hostname", input: `spec: {route: {parentRefs: [{name: public}], hostnames: [Shop.Example.com]}}`,
		message: `spec.route.hostnames[0]: Invalid value: "Shop.Example.com": spec.route.hostnames[] must be a lower-case DNS name such as shop.example.com or *.example.com, without port or scheme`,
		fix:     "Use lower case."},
	{category: "Route", name: "hostname with a scheme", input: `spec: {route: {parentRefs: [{name: public}], hostnames: ["https://shop.example.com"]}}`,
		message: `spec.route.hostnames[0]: Invalid value: "https://shop.example.com": spec.route.hostnames[] must be a lower-case DNS name such as shop.example.com or *.example.com, without port or scheme`,
		fix:     "Write the host alone."},
	{category: "Route", name: "route without ports", input: `spec: {ports: null, route: {parentRefs: [{name: public}]}}`,
		message: `spec: Invalid value: spec.route needs at least one entry in spec.ports to send traffic to`,
		fix:     "Add a port."},
	{category: "Route", name: "route to an unknown port", input: `spec: {route: {parentRefs: [{name: public}], port: grpc}}`,
		message: `spec: Invalid value: spec.route.port must name one of the entries in spec.ports`,
		fix:     "Name one of spec.ports."},

	// Probes.
	{category: "Probes", name: "probe with two handlers", input: `spec: {probes: {readiness: {httpGet: {path: /ready, port: http}, tcpSocket: {port: http}}}}`,
		message: `spec.probes: Invalid value: spec.probes.readiness needs exactly one of httpGet, grpc, tcpSocket or exec`,
		fix:     "Keep one handler."},
	{category: "Probes", name: "probe without a handler", input: `spec: {probes: {liveness: {periodSeconds: 5}}}`,
		message: `spec.probes: Invalid value: spec.probes.liveness needs exactly one of httpGet, grpc, tcpSocket or exec`,
		fix:     "Add a handler."},
	{category: "Probes", name: "period beyond int32", input: `spec: {probes: {liveness: {tcpSocket: {port: http}, periodSeconds: 4294967297}}}`,
		message: `<nil>: Invalid value: "": Checked value must be of type integer with format int32 in spec.probes.liveness.periodSeconds`,
		fix:     "Use a number of seconds that fits in 32 bits."},
	{category: "Probes", name: "probe naming a port the service does not have", input: `spec: {probes: {readiness: {httpGet: {path: /ready, port: admin}}}}`,
		message: `spec: Invalid value: spec.probes.readiness.httpGet.port names a port that is not in spec.ports: use one of spec.ports[].name, or the container port number`,
		fix:     "Name one of spec.ports (a probe can only call the service's own container), or add the port."},
	{category: "Probes", name: "gRPC probe on the Service port",
		input:   `spec: {ports: [{name: grpc, port: 50051, targetPort: 8080}], probes: {readiness: {grpc: {port: 50051}}}}`,
		message: `spec: Invalid value: spec.probes.readiness.grpc.port is the Service port of an entry in spec.ports whose targetPort differs: a probe calls the container, so use its targetPort (or the port's name)`,
		fix:     "Use the container's port (targetPort), 8080 here: the kubelet probes the pod, not the Service."},
	{category: "Probes", name: "HTTP probe on the Service port number",
		input:   `spec: {ports: [{name: http, port: 80, targetPort: 8080}], probes: {liveness: {httpGet: {path: /healthz, port: 80}}}}`,
		message: `spec: Invalid value: spec.probes.liveness.httpGet.port is the Service port of an entry in spec.ports whose targetPort differs: a probe calls the container, so use its targetPort (or the port's name)`,
		fix:     "Use the port's name (http) or its targetPort (8080)."},

	// Pod template.
	{category: "Pod template", name: "mounting a volume that is not declared",
		input: `spec: {volumeMounts: [{name: cache, mountPath: /cache}]}`,
		observe: func(ns string) string {
			co := service(ns, "checkout", 80)
			co.Spec.VolumeMounts = []corev1.VolumeMount{{Name: "cache", MountPath: "/cache"}}
			Expect(k8sClient.Create(ctx, co)).To(Succeed())
			return stalledMessage(co)
		},
		message: `Stalled=True ApplyFailed: "applying Deployment <ns>/checkout: Deployment.apps \"checkout\" is invalid: spec.template.spec.containers[0].volumeMounts[0].name: Not found: \"cache\""`,
		fix:     "Declare the volume under spec.pod.volumes, for example `{name: cache, emptyDir: {}}`. (A rule at admission comparing the two lists would exceed the API server's validation cost budget, since Kubernetes' volume names have no length limit in the schema; the API server's own check of the Deployment says it instead, and nothing is changed.)"},
	{category: "Pod template", name: "a sidecar named app", input: `spec: {pod: {sidecars: [{name: app, image: "ghcr.io/acme/proxy:1.0"}]}}`,
		message: `spec.pod: Invalid value: spec.pod.sidecars[].name must not be app: that is the name of the service's own container`,
		fix:     "Give the sidecar another name."},
	{category: "Pod template", name: "an init container and a sidecar of one name",
		input: `spec: {pod: {initContainers: [{name: proxy, image: "ghcr.io/acme/proxy:1.0"}], sidecars: [{name: proxy, image: "ghcr.io/acme/proxy:1.0"}]}}`,
		observe: func(ns string) string {
			co := service(ns, "checkout", 80)
			co.Spec.Pod = &msv1.PodOptions{
				InitContainers: []corev1.Container{{Name: "proxy", Image: "ghcr.io/acme/proxy:1.0"}},
				Sidecars:       []corev1.Container{{Name: "proxy", Image: "ghcr.io/acme/proxy:1.0"}},
			}
			Expect(k8sClient.Create(ctx, co)).To(Succeed())
			return stalledMessage(co)
		},
		message: `Stalled=True ApplyFailed: "applying Deployment <ns>/checkout: Deployment.apps \"checkout\" is invalid: spec.template.spec.initContainers[0].name: Duplicate value: \"proxy\""`,
		fix:     "Rename one: a pod's containers, init containers included, have distinct names."},
	{category: "Pod template", name: "a pod label that would change the selector", input: `spec: {pod: {labels: {apps.msvc.dev/track: canary}}}`,
		message: `spec.pod: Invalid value: spec.pod.labels must not set apps.msvc.dev/*, app.kubernetes.io/name or app.kubernetes.io/managed-by: the operator sets them to select the service's pods`,
		fix:     "Use a label key of your own."},
	{category: "Pod template", name: "a disruption budget with both bounds", input: `spec: {disruptionBudget: {minAvailable: 1, maxUnavailable: 1}}`,
		message: `spec.disruptionBudget: Invalid value: spec.disruptionBudget takes minAvailable or maxUnavailable, not both`,
		fix:     "Keep one: maxUnavailable (default 1) is the usual one."},

	// Dependencies.
	{category: "Dependencies", name: "depending on itself", input: `spec: {dependencies: [{name: checkout}]}`,
		message: `<nil>: Invalid value: spec.dependencies must not name this Microservice itself`,
		fix:     "Remove it."},
	{category: "Dependencies", name: "the same dependency twice", input: `spec: {dependencies: [{name: payments}, {name: payments}]}`,
		message: `spec.dependencies: Invalid value: spec.dependencies must not list the same Microservice twice`,
		fix:     "Keep one of them."},
	{category: "Dependencies", name: "malformed dependency name", input: `spec: {dependencies: [{name: Payments_V2}]}`,
		message: `spec.dependencies[0].name: Invalid value: "Payments_V2": spec.dependencies[].name must be a Microservice name: lower case letters, digits and '-', starting with a letter`,
		fix:     "Write the Microservice's name."},
	{category: "Dependencies", name: "unknown address format", input: `spec: {dependencies: [{name: payments, env: {name: PAYMENTS, format: DSN}}]}`,
		message: `[spec.dependencies[0].env.format: Unsupported value: "DSN": supported values: "URL", "HostPort", "Host", <nil>: Invalid value: null: some validation rules were not checked because the object was invalid; correct the existing errors to complete validation]`,
		fix:     "Use URL, HostPort or Host."},
	{category: "Dependencies", name: "65 dependencies", input: `spec: {dependencies: [65 dependencies]}`,
		expand: func(o map[string]any) {
			setPath(o, repeat(65, func(i int) any { return map[string]any{"name": fmt.Sprintf("svc-%d", i)} }), "spec", "dependencies")
		},
		message: `[spec.dependencies: Too many: 65: must have at most 64 items, <nil>: Invalid value: null: some validation rules were not checked because the object was invalid; correct the existing errors to complete validation]`,
		fix:     "Split the service."},
	{category: "Dependencies", name: "short on a dependency in another namespace",
		input:   `spec: {dependencies: [{name: ledger, namespace: finance, env: {name: LEDGER_ADDR, format: HostPort, short: true}}]}`,
		message: `spec.dependencies[0]: Invalid value: spec.dependencies[].env.short gives the bare Service name, which resolves only in this Microservice's own namespace: leave namespace out for a dependency of this namespace, or drop short for one in another`,
		fix:     "Drop short: the full name ledger.finance.svc.cluster.local is what resolves from another namespace."},
	{category: "Dependencies", name: "a dependency's port that does not exist",
		input: `payments: spec: {ports: [{name: http, port: 8080}]}; checkout: spec: {dependencies: [{name: payments, port: grpc}]}`,
		observe: func(ns string) string {
			payments := service(ns, "payments", 8080)
			co := service(ns, "checkout", 80, msv1.Dependency{Name: "payments", Port: "grpc"})
			Expect(k8sClient.Create(ctx, payments)).To(Succeed())
			Expect(k8sClient.Create(ctx, co)).To(Succeed())
			return dependencyReport(co)
		},
		message: `payments: PortNotFound "Microservice ` + "<ns>" + `/payments has no port \"grpc\" (its ports: http): set spec.dependencies[].port to one of them"`,
		fix:     "Name one of the dependency's ports, or leave port out for its first."},
	{category: "Dependencies", name: "depending on a service without ports",
		input: `worker: spec: {ports: null}; checkout: spec: {dependencies: [{name: worker}]}`,
		observe: func(ns string) string {
			worker := service(ns, "worker", 8080)
			worker.Spec.Ports = nil
			co := service(ns, "checkout", 80, dep("worker"))
			Expect(k8sClient.Create(ctx, worker)).To(Succeed())
			Expect(k8sClient.Create(ctx, co)).To(Succeed())
			return dependencyReport(co)
		},
		message: `worker: PortNotFound "Microservice ` + "<ns>" + `/worker has no ports, so nothing can call it: remove it from spec.dependencies, or give it a port"`,
		fix:     "A worker (no ports) has no address: remove the dependency. The dependent waits at zero replicas meanwhile; admission cannot see the other Microservice, so this is reported in status."},
	{category: "Dependencies", name: "a cycle of two",
		input: `a: spec: {dependencies: [{name: b}]}; b: spec: {dependencies: [{name: a}]}`,
		observe: func(ns string) string {
			a := service(ns, "a", 80, dep("b"))
			b := service(ns, "b", 80, dep("a"))
			Expect(k8sClient.Create(ctx, a)).To(Succeed())
			Expect(k8sClient.Create(ctx, b)).To(Succeed())
			return stalledAndHeld(a)
		},
		message: `Stalled=True DependencyCycle: "The dependencies form a cycle: a -> b -> a; remove one of its edges"; DependenciesReady=False DependencyCycle: "Dependency cycle: a -> b -> a"; Deployment a held at 0 replicas`,
		fix:     "Remove one dependency of the cycle (an optional one counts too): every member waits at zero replicas until then, and the rest of the graph carries on."},
	{category: "Dependencies", name: "depending on itself through its own namespace",
		input: `spec: {dependencies: [{name: checkout, namespace: <its own namespace>}]}`,
		observe: func(ns string) string {
			co := service(ns, "checkout", 80, msv1.Dependency{Name: "checkout", Namespace: ns})
			Expect(k8sClient.Create(ctx, co)).To(Succeed())
			return stalledAndHeld(co)
		},
		message: `Stalled=True DependencyCycle: "The dependencies form a cycle: checkout -> checkout; remove one of its edges"; DependenciesReady=False DependencyCycle: "Dependency cycle: checkout -> checkout"; Deployment checkout held at 0 replicas`,
		fix:     "Remove it."},

	// Canary steps.
	{category: "Canary steps", name: "Canary strategy without canary", input: `spec: {rollout: {strategy: Canary}}`,
		message: `spec.rollout: Invalid value: spec.rollout.canary is required when spec.rollout.strategy is Canary`,
		fix:     "Add canary.steps."},
	{category: "Canary steps", name: "canary steps with RollingUpdate", input: `spec: {rollout: {strategy: RollingUpdate, canary: {steps: [{setWeight: 10}]}}}`,
		message: `spec.rollout: Invalid value: spec.rollout.canary is only allowed with spec.rollout.strategy: Canary`,
		fix:     "Set strategy: Canary, or remove canary."},
	{category: "Canary steps", name: "Mesh routing without ports", input: `spec: {ports: null, rollout: {strategy: Canary, canary: {trafficRouting: Mesh, steps: [{setWeight: 10}]}}}`,
		message: `spec: Invalid value: spec.rollout.canary.trafficRouting: Mesh needs at least one entry in spec.ports: the mesh route weighs the tracks on a port of the Service`,
		fix:     "Add a port, or leave trafficRouting out (a worker without ports takes no requests)."},
	{category: "Canary steps", name: "unknown traffic routing", input: `spec: {rollout: {strategy: Canary, canary: {trafficRouting: Istio, steps: [{setWeight: 10}]}}}`,
		message: `[spec.rollout.canary.trafficRouting: Unsupported value: "Istio": supported values: "GatewayAPI", "Mesh", <nil>: Invalid value: null: some validation rules were not checked because the object was invalid; correct the existing errors to complete validation]`,
		fix:     "Use GatewayAPI, or Mesh for a mesh that implements the Gateway API's GAMMA routes (Istio, Linkerd, Cilium)."},
	{category: "Canary steps", name: "a match with nothing to match", input: `spec: {route: {parentRefs: [{name: public}]}, rollout: {strategy: Canary, canary: {matches: [{}], steps: [{setWeight: 10}]}}}`,
		message: `spec.rollout.canary.matches[0]: Invalid value: each entry of spec.rollout.canary.matches needs headers or a cookie, for example headers: [{name: X-Canary, value: always}]`,
		fix:     "Give the entry a header or a cookie."},
	{category: "Canary steps", name: "mirroring without a route", input: `spec: {rollout: {strategy: Canary, canary: {mirror: {percent: 10}, steps: [{setWeight: 10}]}}}`,
		message: `spec: Invalid value: spec.rollout.canary.mirror needs spec.route: requests are mirrored at the Gateway`,
		fix:     "Set spec.route (parentRefs of the Gateway that mirrors), or remove mirror."},
	{category: "Canary steps", name: "a mirror percent out of range", input: `spec: {route: {parentRefs: [{name: public}]}, rollout: {strategy: Canary, canary: {mirror: {percent: 0}, steps: [{setWeight: 10}]}}}`,
		message: `spec.rollout.canary.mirror.percent: Invalid value: 0: spec.rollout.canary.mirror.percent must be between 1 and 100`,
		fix:     "Give a percent from 1 to 100, or leave it out for 100."},
	{category: "Canary steps", name: "session affinity without a route", input: `spec: {rollout: {strategy: Canary, canary: {sessionAffinity: {cookieName: track}, steps: [{setWeight: 10}]}}}`,
		message: `spec: Invalid value: spec.rollout.canary.sessionAffinity needs spec.route: the Gateway keeps the sessions`,
		fix:     "Set spec.route (parentRefs of the Gateway that keeps the sessions), or remove sessionAffinity."},
	{category: "Canary steps", name: "a session cookie name that is no cookie name", input: `spec: {route: {parentRefs: [{name: public}]}, rollout: {strategy: Canary, canary: {sessionAffinity: {cookieName: "my track"}, steps: [{setWeight: 10}]}}}`,
		message: `spec.rollout.canary.sessionAffinity.cookieName: Invalid value: "my track": spec.rollout.canary.sessionAffinity.cookieName must be a cookie name: letters, digits and !#$%&*+-.^_|~ (no spaces, '=', ';' or quotes)`,
		fix:     "Use a name such as checkout-track, or leave cookieName out for the Gateway's own."},
	{category: "Canary steps", name: "a session max age out of range", input: `spec: {route: {parentRefs: [{name: public}]}, rollout: {strategy: Canary, canary: {sessionAffinity: {maxAge: 48h}, steps: [{setWeight: 10}]}}}`,
		message: `spec.rollout.canary.sessionAffinity.maxAge: Invalid value: "48h": spec.rollout.canary.sessionAffinity.maxAge must be from 1s to 24h, for example 30m`,
		fix:     "Give a maxAge from 1s to 24h, or leave it out for a cookie that lasts the browser session."},
	{category: "Canary steps", name: "matches without a route", input: `spec: {rollout: {strategy: Canary, canary: {matches: [{headers: [{name: X-Canary, value: always}]}], steps: [{setWeight: 10}]}}}`,
		message: `spec: Invalid value: spec.rollout.canary.matches need a route to send the matching requests to the canary: set spec.route, or trafficRouting: Mesh`,
		fix:     "Add spec.route, or trafficRouting: Mesh for in-cluster callers; without a router nothing can pick requests."},
	{category: "Canary steps", name: "a header match of an unknown type", input: `spec: {route: {parentRefs: [{name: public}]}, rollout: {strategy: Canary, canary: {matches: [{headers: [{name: X-Canary, value: always, type: Prefix}]}], steps: [{setWeight: 10}]}}}`,
		message: `[spec.rollout.canary.matches[0].headers[0].type: Unsupported value: "Prefix": supported values: "Exact", "RegularExpression", <nil>: Invalid value: null: some validation rules were not checked because the object was invalid; correct the existing errors to complete validation]`,
		fix:     "Use Exact, or RegularExpression with ^always for a prefix."},
	{category: "Canary steps", name: "a cookie value with a space", input: `spec: {route: {parentRefs: [{name: public}]}, rollout: {strategy: Canary, canary: {matches: [{cookie: {name: canary, value: "yes please"}}], steps: [{setWeight: 10}]}}}`,
		message: `spec.rollout.canary.matches[0].cookie.value: Invalid value: "yes please": spec.rollout.canary.matches[0].cookie.value in body should match '^[!#-+./0-9:<-\[\]-~-]+$'`,
		fix:     "Cookie values cannot hold spaces, commas, semicolons or quotes: encode the value."},
	{category: "Canary steps", name: "an alert of an unknown severity", input: `spec: {rollout: {strategy: Canary, canary: {alerts: [{provider: shop-slack, severity: critical}], steps: [{setWeight: 10}]}}}`,
		message: `[spec.rollout.canary.alerts[0].severity: Unsupported value: "critical": supported values: "info", "warning", <nil>: Invalid value: null: some validation rules were not checked because the object was invalid; correct the existing errors to complete validation]`,
		fix:     "Use info (every transition) or warning (only those that need a human)."},
	{category: "Canary steps", name: "the same alert receiver twice", input: `spec: {rollout: {strategy: Canary, canary: {alerts: [{provider: shop-slack}, {provider: shop-slack, severity: warning}], steps: [{setWeight: 10}]}}}`,
		message: `spec.rollout.canary.alerts[1]: Duplicate value: {"provider":"shop-slack"}`,
		fix:     "Name each receiver once, with the severity you want."},
	{category: "Canary steps", name: "no steps", input: `spec: {rollout: {strategy: Canary, canary: {steps: []}}}`,
		message: `spec.rollout.canary.steps: Invalid value: spec.rollout.canary.steps needs at least one step, for example setWeight: 20`,
		fix:     "Add a step."},
	{category: "Canary steps", name: "steps left out", input: `spec: {rollout: {strategy: Canary, canary: {}}}`,
		message: `[spec.rollout.canary.steps: Required value, <nil>: Invalid value: null: some validation rules were not checked because the object was invalid; correct the existing errors to complete validation]`,
		fix:     "Add steps."},
	{category: "Canary steps", name: "weight above 100", input: `spec: {rollout: {strategy: Canary, canary: {steps: [{setWeight: 150}]}}}`,
		message: `spec.rollout.canary.steps[0].setWeight: Invalid value: 150: spec.rollout.canary.steps[0].setWeight in body should be less than or equal to 100`,
		fix:     "Weights are percentages: 0 to 100."},
	{category: "Canary steps", name: "weight of 2^31-1", input: `spec: {rollout: {strategy: Canary, canary: {steps: [{setWeight: 2147483647}]}}}`,
		message: `spec.rollout.canary.steps[0].setWeight: Invalid value: 2147483647: spec.rollout.canary.steps[0].setWeight in body should be less than or equal to 100`,
		fix:     "Weights are percentages: 0 to 100."},
	{category: "Canary steps", name: "weight beyond int64", input: `spec: {rollout: {strategy: Canary, canary: {steps: [{setWeight: 1e30}]}}}`,
		message: `[spec.rollout.canary.steps[0].setWeight: Invalid value: "float64": spec.rollout.canary.steps[0].setWeight in body must be of type int32: "float64", <nil>: Invalid value: "": Checked value must be of type integer with format int32 in spec.rollout.canary.steps[0].setWeight, spec.rollout.canary.steps[0].setWeight: Invalid value: 1e+30: spec.rollout.canary.steps[0].setWeight in body should be less than or equal to 100, <nil>: Invalid value: null: some validation rules were not checked because the object was invalid; correct the existing errors to complete validation]`,
		fix:     "Weights are percentages: 0 to 100."},
	{category: "Canary steps", name: "negative weight", input: `spec: {rollout: {strategy: Canary, canary: {steps: [{setWeight: -5}]}}}`,
		message: `spec.rollout.canary.steps[0].setWeight: Invalid value: -5: spec.rollout.canary.steps[0].setWeight in body should be greater than or equal to 0`,
		fix:     "Weights are percentages: 0 to 100."},
	{category: "Canary steps", name: "weight as a percentage string", input: `spec: {rollout: {strategy: Canary, canary: {steps: [{setWeight: "50%"}]}}}`,
		message: `[spec.rollout.canary.steps[0].setWeight: Invalid value: "string": spec.rollout.canary.steps[0].setWeight in body must be of type integer: "string", <nil>: Invalid value: null: some validation rules were not checked because the object was invalid; correct the existing errors to complete validation]`,
		fix:     "Write the number alone: setWeight: 50."},
	{category: "Canary steps", name: "decreasing weights", input: `spec: {rollout: {strategy: Canary, canary: {steps: [{setWeight: 50}, {pause: {}}, {setWeight: 20}]}}}`,
		message: `spec.rollout.canary.steps: Invalid value: spec.rollout.canary.steps[].setWeight must not decrease from one step to the next`,
		fix:     "Order the weights; to go back, abort the rollout."},
	{category: "Canary steps", name: "step with two actions", input: `spec: {rollout: {strategy: Canary, canary: {steps: [{setWeight: 10, pause: {}}]}}}`,
		message: `spec.rollout.canary.steps[0]: Invalid value: each step of spec.rollout.canary.steps needs exactly one of setWeight, pause or analysis`,
		fix:     "Split it into two steps."},
	{category: "Canary steps", name: "empty step", input: `spec: {rollout: {strategy: Canary, canary: {steps: [{}]}}}`,
		message: `spec.rollout.canary.steps[0]: Invalid value: each step of spec.rollout.canary.steps needs exactly one of setWeight, pause or analysis`,
		fix:     "Give it an action or remove it."},
	{category: "Canary steps", name: "65 steps", input: `spec: {rollout: {strategy: Canary, canary: {steps: [65 x {pause: {}}]}}}`,
		expand: func(o map[string]any) {
			setPath(o, map[string]any{"strategy": "Canary", "canary": map[string]any{
				"steps": repeat(65, func(int) any { return map[string]any{"pause": map[string]any{}} }),
			}}, "spec", "rollout")
		},
		message: `[spec.rollout.canary.steps: Too many: 65: must have at most 64 items, <nil>: Invalid value: null: some validation rules were not checked because the object was invalid; correct the existing errors to complete validation]`,
		fix:     "Use fewer, larger steps."},
	{category: "Canary steps", name: "pause forever", input: `spec: {rollout: {strategy: Canary, canary: {steps: [{pause: {duration: forever}}]}}}`,
		message: `spec.rollout.canary.steps[0].pause.duration: Invalid value: "forever": spec.rollout.canary.steps[].pause.duration must be a duration such as 30s, 10m or 1h30m: up to 4 parts, each a number of at most 5 digits and a unit of ms, s, m or h`,
		fix:     "Leave duration out to wait for a promote."},
	{category: "Canary steps", name: "pause longer than Go can count", input: `spec: {rollout: {strategy: Canary, canary: {steps: [{pause: {duration: 99999999999h}}]}}}`,
		message: `spec.rollout.canary.steps[0].pause.duration: Invalid value: "99999999999h": spec.rollout.canary.steps[].pause.duration must be a duration such as 30s, 10m or 1h30m: up to 4 parts, each a number of at most 5 digits and a unit of ms, s, m or h`,
		fix:     "Leave duration out to wait for a promote."},
	{category: "Canary steps", name: "pause of a year", input: `spec: {rollout: {strategy: Canary, canary: {steps: [{pause: {duration: 8760h}}]}}}`,
		message: `spec.rollout.canary.steps[0].pause.duration: Invalid value: "8760h": spec.rollout.canary.steps[].pause.duration must be at most 720h (30 days): to hold a canary longer, leave duration out and promote it by hand`,
		fix:     "Leave duration out to wait for a promote."},
	{category: "Canary steps", name: "analysis step without analysis", input: `spec: {rollout: {strategy: Canary, canary: {steps: [{setWeight: 10}, {analysis: {}}]}}}`,
		message: `spec.rollout.canary: Invalid value: spec.rollout.canary.analysis (or analysisTemplate) is required when a step runs an analysis`,
		fix:     "Add canary.analysis with its metrics."},
	{category: "Canary steps", name: "progress deadline that is no duration",
		input:   `spec: {rollout: {strategy: Canary, canary: {progressDeadline: "600", steps: [{setWeight: 10}]}}}`,
		message: `spec.rollout.canary.progressDeadline: Invalid value: "600": spec.rollout.canary.progressDeadline must be a duration such as 30s, 10m or 1h: up to 4 parts, each a number of at most 5 digits and a unit of ms, s, m or h`,
		fix:     "Write the unit: 600s or 10m."},
	{category: "Canary steps", name: "progress deadline above 24h",
		input:   `spec: {rollout: {strategy: Canary, canary: {progressDeadline: 48h, steps: [{setWeight: 10}]}}}`,
		message: `spec.rollout.canary.progressDeadline: Invalid value: "48h": spec.rollout.canary.progressDeadline must be from 1s to 24h`,
		fix:     "Use at most 24h; a canary whose pods take longer to start is better fixed in its probes."},

	// Blue-green.
	{category: "Blue-green", name: "BlueGreen strategy without blueGreen",
		input:   `spec: {route: {parentRefs: [{name: public}]}, rollout: {strategy: BlueGreen}}`,
		message: `spec.rollout: Invalid value: spec.rollout.blueGreen is required when spec.rollout.strategy is BlueGreen (blueGreen: {} takes every default)`,
		fix:     "Add blueGreen: {} (switch once the preview is ready, keep the old version 30s)."},
	{category: "Blue-green", name: "blueGreen with another strategy",
		input:   `spec: {route: {parentRefs: [{name: public}]}, rollout: {strategy: RollingUpdate, blueGreen: {}}}`,
		message: `spec.rollout: Invalid value: spec.rollout.blueGreen is only allowed with spec.rollout.strategy: BlueGreen`,
		fix:     "Set strategy: BlueGreen, or remove blueGreen."},
	{category: "Blue-green", name: "pre-promotion analysis without an analysis",
		input:   `spec: {route: {parentRefs: [{name: public}]}, rollout: {strategy: BlueGreen, blueGreen: {prePromotionAnalysis: true}}}`,
		message: `spec.rollout.blueGreen: Invalid value: spec.rollout.blueGreen.analysis (or analysisTemplate) is required with prePromotionAnalysis or postPromotionAnalysis`,
		fix:     "Add blueGreen.analysis with its metrics, or analysisTemplate."},
	{category: "Blue-green", name: "an auto-promotion delay with autoPromotion false",
		input:   `spec: {route: {parentRefs: [{name: public}]}, rollout: {strategy: BlueGreen, blueGreen: {autoPromotion: false, autoPromotionDelay: 5m}}}`,
		message: `spec.rollout.blueGreen: Invalid value: spec.rollout.blueGreen.autoPromotionDelay needs autoPromotion: leave autoPromotion out (or true), or drop the delay`,
		fix:     "Either wait for a promote (autoPromotion: false) or switch after the delay, not both."},
	{category: "Blue-green", name: "a scale-down delay of two days",
		input:   `spec: {route: {parentRefs: [{name: public}]}, rollout: {strategy: BlueGreen, blueGreen: {scaleDownDelay: 48h}}}`,
		message: `spec.rollout.blueGreen.scaleDownDelay: Invalid value: "48h": spec.rollout.blueGreen.scaleDownDelay must be at most 24h`,
		fix:     "Keep the old version at most a day; after the switch it only serves a fast rollback."},
	{category: "Blue-green", name: "blue-green of a service with ports and no route",
		input:   `spec: {ports: [{name: http, port: 80}], rollout: {strategy: BlueGreen, blueGreen: {}}}`,
		message: `spec: Invalid value: spec.rollout.blueGreen needs spec.route (or blueGreen.trafficRouting: Mesh): without a router the Service would send the full-size preview half of the traffic before the switch`,
		fix:     "Add spec.route (the Gateway's route does the switch), or trafficRouting: Mesh for in-cluster callers."},
	{category: "Blue-green", name: "a full-size canary with ports and no route",
		input:   `spec: {ports: [{name: http, port: 80}], rollout: {strategy: Canary, canary: {scale: Full, steps: [{setWeight: 10}]}}}`,
		message: `spec: Invalid value: spec.rollout.canary.scale: Full needs spec.route (or trafficRouting: Mesh): without a router the pod counts split the traffic, and a full-size canary would take half of it at weight 0`,
		fix:     "Add spec.route, or leave scale out so that the pod count follows the weight."},
	{category: "Blue-green", name: "a canary scale that is not Weight or Full",
		input:   `spec: {rollout: {strategy: Canary, canary: {scale: Half, steps: [{setWeight: 10}]}}}`,
		message: `[spec.rollout.canary.scale: Unsupported value: "Half": supported values: "Weight", "Full", <nil>: Invalid value: null: some validation rules were not checked because the object was invalid; correct the existing errors to complete validation]`,
		fix:     "Use Weight (the weight's share of the stable pods) or Full (as many as stable)."},

	// Webhooks.
	{category: "Webhooks", name: "a URL without a scheme",
		input:   `spec: {rollout: {strategy: Canary, canary: {steps: [{setWeight: 10}], webhooks: [{name: load, type: rollout, url: flagger-loadtester.test/}]}}}`,
		message: `spec.rollout.canary.webhooks[0].url: Invalid value: "flagger-loadtester.test/": spec.rollout.canary.webhooks[].url must be an http:// or https:// URL with a host, for example http://flagger-loadtester.test/`,
		fix:     "Write http:// or https:// before the host: http://flagger-loadtester.test/."},
	{category: "Webhooks", name: "a URL on file://",
		input:   `spec: {rollout: {strategy: Canary, canary: {steps: [{setWeight: 10}], webhooks: [{name: load, type: rollout, url: "file:///etc/passwd"}]}}}`,
		message: `spec.rollout.canary.webhooks[0].url: Invalid value: "file:///etc/passwd": spec.rollout.canary.webhooks[].url must be an http:// or https:// URL with a host, for example http://flagger-loadtester.test/`,
		fix:     "Webhooks are HTTP calls: give the receiver's http or https URL."},
	{category: "Webhooks", name: "Flagger's event type",
		input:   `spec: {rollout: {strategy: Canary, canary: {steps: [{setWeight: 10}], webhooks: [{name: events, type: event, url: "http://events.test/"}]}}}`,
		message: `[spec.rollout.canary.webhooks[0].type: Unsupported value: "event": supported values: "confirm-rollout", "pre-rollout", "confirm-traffic-increase", "rollout", "confirm-promotion", "post-rollout", "rollback", <nil>: Invalid value: null: some validation rules were not checked because the object was invalid; correct the existing errors to complete validation]`,
		fix:     "Rollout events go to alert receivers: name one in spec.rollout.canary.alerts (a generic receiver gets JSON)."},
	{category: "Webhooks", name: "the same webhook name twice",
		input:   `spec: {rollout: {strategy: Canary, canary: {steps: [{setWeight: 10}], webhooks: [{name: load, type: rollout, url: "http://a.test/"}, {name: load, type: pre-rollout, url: "http://b.test/"}]}}}`,
		message: `spec.rollout.canary.webhooks[1]: Duplicate value: {"name":"load"}`,
		fix:     "Give each webhook its own name: it keys its state in status.rollout.webhooks."},
	{category: "Webhooks", name: "a timeout above 5m",
		input:   `spec: {rollout: {strategy: Canary, canary: {steps: [{setWeight: 10}], webhooks: [{name: load, type: rollout, url: "http://a.test/", timeout: 10m}]}}}`,
		message: `spec.rollout.canary.webhooks[0].timeout: Invalid value: "10m": spec.rollout.canary.webhooks[].timeout must be from 1s to 5m`,
		fix:     "Use at most 5m; start long load tests asynchronously (Flagger's load tester does) and gate on their result with a later webhook."},
	{category: "Webhooks", name: "an interval below 1s",
		input:   `spec: {rollout: {strategy: Canary, canary: {steps: [{setWeight: 10}], webhooks: [{name: gate, type: confirm-promotion, url: "http://a.test/", interval: 100ms}]}}}`,
		message: `spec.rollout.canary.webhooks[0].interval: Invalid value: "100ms": spec.rollout.canary.webhooks[].interval must be from 1s to 1h`,
		fix:     "Ask at most once a second: 1s or more."},
	{category: "Webhooks", name: "50 retries",
		input:   `spec: {rollout: {strategy: Canary, canary: {steps: [{setWeight: 10}], webhooks: [{name: load, type: rollout, url: "http://a.test/", retries: 50}]}}}`,
		message: `spec.rollout.canary.webhooks[0].retries: Invalid value: 50: spec.rollout.canary.webhooks[].retries must be from 0 to 20`,
		fix:     "Use at most 20; a receiver that needs more is better fixed than retried."},

	// Analysis.
	{category: "Analysis", name: "metric without min or max",
		input:   `spec: {rollout: {strategy: Canary, canary: {steps: [{analysis: {}}], analysis: {metrics: [{name: errors, query: "sum(x)", successCondition: {}}]}}}}`,
		message: `spec.rollout.canary.analysis.metrics[0]: Invalid value: spec.rollout.canary.analysis.metrics[].successCondition needs min, max or both`,
		fix:     "Say which values pass."},
	{category: "Analysis", name: "min above max",
		input:   `spec: {rollout: {strategy: Canary, canary: {steps: [{analysis: {}}], analysis: {metrics: [{name: errors, query: "sum(x)", successCondition: {min: "2", max: "1"}}]}}}}`,
		message: `spec.rollout.canary.analysis.metrics[0]: Invalid value: spec.rollout.canary.analysis.metrics[].successCondition.min must not be above max`,
		fix:     "Swap them."},
	{category: "Analysis", name: "bound that is no number",
		input:   `spec: {rollout: {strategy: Canary, canary: {steps: [{analysis: {}}], analysis: {metrics: [{name: errors, query: "sum(x)", successCondition: {max: "1e3; drop"}}]}}}}`,
		message: `spec.rollout.canary.analysis.metrics[0].successCondition.max: Invalid value: "1e3; drop": successCondition.max must be a decimal number such as 0.5`,
		fix:     "Write a decimal number."},
	{category: "Analysis", name: "failureLimit as large as count",
		input:   `spec: {rollout: {strategy: Canary, canary: {steps: [{analysis: {}}], analysis: {failureLimit: 3, metrics: [{name: errors, query: "sum(x)", successCondition: {max: "1"}}]}}}}`,
		message: `spec.rollout.canary.analysis: Invalid value: spec.rollout.canary.analysis.failureLimit must be less than count (default 3), or an analysis could pass with every measurement failed`,
		fix:     "Lower failureLimit or raise count."},
	{category: "Analysis", name: "interval longer than Go can count",
		input:   `spec: {rollout: {strategy: Canary, canary: {steps: [{analysis: {}}], analysis: {interval: 9999999999999s, metrics: [{name: errors, query: "sum(x)", successCondition: {max: "1"}}]}}}}`,
		message: `spec.rollout.canary.analysis.interval: Invalid value: "9999999999999s": spec.rollout.canary.analysis.interval must be a duration such as 30s, 1m or 1m30s: up to 4 parts, each a number of at most 5 digits and a unit of ms, s, m or h`,
		fix:     "Use an interval of at most 24h."},
	{category: "Analysis", name: "timeout that is no duration",
		input:   `spec: {rollout: {strategy: Canary, canary: {steps: [{analysis: {}}], analysis: {timeout: "10", metrics: [{name: errors, query: "sum(x)", successCondition: {max: "1"}}]}}}}`,
		message: `spec.rollout.canary.analysis.timeout: Invalid value: "10": spec.rollout.canary.analysis.timeout must be a duration such as 5s, 30s or 1m: up to 4 parts, each a number of at most 5 digits and a unit of ms, s, m or h`,
		fix:     "Add a unit: 10s."},
	{category: "Analysis", name: "timeout above 5m",
		input:   `spec: {rollout: {strategy: Canary, canary: {steps: [{analysis: {}}], analysis: {timeout: 10m, metrics: [{name: errors, query: "sum(x)", successCondition: {max: "1"}}]}}}}`,
		message: `spec.rollout.canary.analysis.timeout: Invalid value: "10m": spec.rollout.canary.analysis.timeout must be from 1s to 5m`,
		fix:     "A query that takes minutes is better fixed in Prometheus (a recording rule); use at most 5m."},
	{category: "Analysis", name: "Prometheus address without a scheme",
		input:   `spec: {rollout: {strategy: Canary, canary: {steps: [{analysis: {}}], analysis: {prometheus: {address: "prometheus:9090"}, metrics: [{name: errors, query: "sum(x)", successCondition: {max: "1"}}]}}}}`,
		message: `spec.rollout.canary.analysis.prometheus.address: Invalid value: "prometheus:9090": spec.rollout.canary.analysis.prometheus.address must be an http or https URL such as http://prometheus.monitoring:9090`,
		fix:     "Write http://prometheus:9090."},
	{category: "Analysis", name: "Prometheus address on file://",
		input:   `spec: {rollout: {strategy: Canary, canary: {steps: [{analysis: {}}], analysis: {prometheus: {address: "file:///etc/passwd"}, metrics: [{name: errors, query: "sum(x)", successCondition: {max: "1"}}]}}}}`,
		message: `spec.rollout.canary.analysis.prometheus.address: Invalid value: "file:///etc/passwd": spec.rollout.canary.analysis.prometheus.address must be an http or https URL such as http://prometheus.monitoring:9090`,
		fix:     "Point it at Prometheus over http or https."},
	{category: "Analysis", name: "prometheus and provider both",
		input:   `spec: {rollout: {strategy: Canary, canary: {steps: [{analysis: {}}], analysis: {prometheus: {address: "http://a:9090"}, provider: {prometheus: {address: "http://b:9090"}}, metrics: [{name: errors, query: "sum(x)", successCondition: {max: "1"}}]}}}}`,
		message: `spec.rollout.canary.analysis: Invalid value: spec.rollout.canary.analysis sets both prometheus and provider: move prometheus.address to provider.prometheus.address`,
		fix:     "Keep provider.prometheus; prometheus is deprecated."},
	{category: "Analysis", name: "provider naming no backend",
		input:   `spec: {rollout: {strategy: Canary, canary: {steps: [{analysis: {}}], analysis: {provider: {}, metrics: [{name: errors, query: "sum(x)", successCondition: {max: "1"}}]}}}}`,
		message: `spec.rollout.canary.analysis.provider: Invalid value: spec.rollout.canary.analysis.provider needs exactly one of prometheus or web`,
		fix:     "Set provider.prometheus or provider.web."},
	{category: "Analysis", name: "provider naming two backends",
		input:   `spec: {rollout: {strategy: Canary, canary: {steps: [{analysis: {}}], analysis: {provider: {prometheus: {address: "http://a:9090"}, web: {url: "http://m/v?q={{ .Query }}", jsonPath: "{.value}"}}, metrics: [{name: errors, query: "sum(x)", successCondition: {max: "1"}}]}}}}`,
		message: `spec.rollout.canary.analysis.provider: Invalid value: spec.rollout.canary.analysis.provider needs exactly one of prometheus or web`,
		fix:     "Keep one: each analysis reads one backend."},
	{category: "Analysis", name: "a template with the web provider",
		input:   `spec: {rollout: {strategy: Canary, canary: {steps: [{analysis: {}}], analysis: {provider: {web: {url: "http://m/v?q={{ .Query }}", jsonPath: "{.value}"}}, metrics: [{name: errors, template: request-success-rate, successCondition: {min: "0.99"}}]}}}}`,
		message: `spec.rollout.canary.analysis: Invalid value: spec.rollout.canary.analysis.metrics[].template writes PromQL, which the web provider cannot run: give each metric a query (what {{ .Query }} puts in the provider's url)`,
		fix:     "Write the metric's query for your API instead of a template."},
	{category: "Analysis", name: "web provider url without a scheme",
		input:   `spec: {rollout: {strategy: Canary, canary: {steps: [{analysis: {}}], analysis: {provider: {web: {url: "metrics.example.com/v", jsonPath: "{.value}"}}, metrics: [{name: errors, query: "sum(x)", successCondition: {max: "1"}}]}}}}`,
		message: `spec.rollout.canary.analysis.provider.web.url: Invalid value: "metrics.example.com/v": spec.rollout.canary.analysis.provider.web.url must start with http:// or https://`,
		fix:     "Write https://metrics.example.com/v."},
	{category: "Analysis", name: "header name with a space",
		input:   `spec: {rollout: {strategy: Canary, canary: {steps: [{analysis: {}}], analysis: {provider: {prometheus: {address: "http://a:9090", headers: [{name: "X Org", value: shop}]}}, metrics: [{name: errors, query: "sum(x)", successCondition: {max: "1"}}]}}}}`,
		message: `spec.rollout.canary.analysis.provider.prometheus.headers[0].name: Invalid value: "X Org": spec.rollout.canary.analysis.provider.prometheus.headers[0].name in body should match '^[A-Za-z0-9!#$%&'*+.^_|~-]+$'`,
		fix:     "Header names are tokens: X-Scope-OrgID, not X Scope OrgID."},
	{category: "Analysis", name: "relative to an unknown track",
		input:   `spec: {rollout: {strategy: Canary, canary: {steps: [{analysis: {}}], analysis: {metrics: [{name: errors, query: "sum(x)", successCondition: {relativeTo: Primary, max: "0.01"}}]}}}}`,
		message: `[spec.rollout.canary.analysis.metrics[0].successCondition.relativeTo: Unsupported value: "Primary": supported values: "Stable", <nil>: Invalid value: null: some validation rules were not checked because the object was invalid; correct the existing errors to complete validation]`,
		fix:     "Use relativeTo: Stable, or leave it out to bound the canary's own value."},
	{category: "Analysis", name: "analysis and analysisTemplate both",
		input:   `spec: {rollout: {strategy: Canary, canary: {steps: [{analysis: {}}], analysisTemplate: {name: success-rate}, analysis: {metrics: [{name: errors, query: "sum(x)", successCondition: {max: "1"}}]}}}}`,
		message: `spec.rollout.canary: Invalid value: spec.rollout.canary sets both analysis and analysisTemplate: keep one`,
		fix:     "Keep analysisTemplate, or copy its analysis into the Microservice."},
	{category: "Analysis", name: "background analysis without an analysis",
		input:   `spec: {rollout: {strategy: Canary, canary: {steps: [{setWeight: 10}], backgroundAnalysis: {}}}}`,
		message: `spec.rollout.canary: Invalid value: spec.rollout.canary.backgroundAnalysis runs the canary's analysis: set spec.rollout.canary.analysis (or analysisTemplate) too`,
		fix:     "Add canary.analysis with its metrics (or analysisTemplate); the background analysis runs those."},
	{category: "Analysis", name: "background analysis from a step that does not exist",
		input:   `spec: {rollout: {strategy: Canary, canary: {steps: [{setWeight: 10}, {setWeight: 50}], backgroundAnalysis: {startingStep: 2}, analysis: {metrics: [{name: errors, query: "sum(x)", successCondition: {max: "1"}}]}}}}`,
		message: `spec.rollout.canary: Invalid value: spec.rollout.canary.backgroundAnalysis.startingStep must be the index (from 0) of one of spec.rollout.canary.steps`,
		fix:     "Steps count from 0: the second of two steps is startingStep: 1."},
	{category: "Analysis", name: "background analysis from a negative step",
		input:   `spec: {rollout: {strategy: Canary, canary: {steps: [{setWeight: 10}], backgroundAnalysis: {startingStep: -1}, analysis: {metrics: [{name: errors, query: "sum(x)", successCondition: {max: "1"}}]}}}}`,
		message: `spec.rollout.canary.backgroundAnalysis.startingStep: Invalid value: -1: spec.rollout.canary.backgroundAnalysis.startingStep must be 0 or more`,
		fix:     "Use 0 (the default) to analyse from the first step."},
	{category: "Analysis", name: "a template argument named like a path",
		input:   `spec: {rollout: {strategy: Canary, canary: {steps: [{analysis: {}}], analysisTemplate: {name: success-rate, args: [{name: "error.codes", value: "5.."}]}}}}`,
		message: `spec.rollout.canary.analysisTemplate.args[0].name: Invalid value: "error.codes": spec.rollout.canary.analysisTemplate.args[0].name in body should match '^[A-Za-z][A-Za-z0-9_]*$'`,
		fix:     "Argument names are identifiers ({{ .Args.errorCodes }}): letters, digits and _."},
	{category: "Analysis", name: "the same metric twice",
		input:   `spec: {rollout: {strategy: Canary, canary: {steps: [{analysis: {}}], analysis: {metrics: [{name: errors, query: "sum(x)", successCondition: {max: "1"}}, {name: errors, query: "sum(y)", successCondition: {max: "1"}}]}}}}`,
		message: `spec.rollout.canary.analysis.metrics[1]: Duplicate value: {"name":"errors"}`,
		fix:     "Give each metric its own name."},
	{category: "Analysis", name: "17 metrics", input: `spec: {rollout: {strategy: Canary, canary: {steps: [{analysis: {}}], analysis: {metrics: [17 metrics]}}}}`,
		expand: func(o map[string]any) {
			setPath(o, map[string]any{"strategy": "Canary", "canary": map[string]any{
				"steps": []any{map[string]any{"analysis": map[string]any{}}},
				"analysis": map[string]any{"metrics": repeat(17, func(i int) any {
					return map[string]any{"name": fmt.Sprintf("m%d", i), "query": "sum(x)", "successCondition": map[string]any{"max": "1"}}
				})},
			}}, "spec", "rollout")
		},
		message: `[spec.rollout.canary.analysis.metrics: Too many: 17: must have at most 16 items, <nil>: Invalid value: null: some validation rules were not checked because the object was invalid; correct the existing errors to complete validation]`,
		fix:     "Combine metrics into fewer queries."},
	{category: "Analysis", name: "metric name carrying PromQL",
		input:   `spec: {rollout: {strategy: Canary, canary: {steps: [{analysis: {}}], analysis: {metrics: [{name: 'errors"}', query: "sum(x)", successCondition: {max: "1"}}]}}}}`,
		message: `spec.rollout.canary.analysis.metrics[0].name: Invalid value: "errors\"}": spec.rollout.canary.analysis.metrics[0].name in body should match '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$'`,
		fix:     "Name the metric in lower case letters, digits and '-'."},
	{category: "Analysis", name: "metric with both query and template",
		input:   `spec: {rollout: {strategy: Canary, canary: {steps: [{analysis: {}}], analysis: {metrics: [{name: success-rate, query: "sum(x)", template: request-success-rate, successCondition: {min: "0.99"}}]}}}}`,
		message: `spec.rollout.canary.analysis.metrics[0]: Invalid value: spec.rollout.canary.analysis.metrics[] sets both query and template: keep template for the operator's query, or query for your own PromQL, not both`,
		fix:     "Remove query to use the template, or template to keep your PromQL."},
	{category: "Analysis", name: "metric with neither query nor template",
		input:   `spec: {rollout: {strategy: Canary, canary: {steps: [{analysis: {}}], analysis: {metrics: [{name: success-rate, successCondition: {min: "0.99"}}]}}}}`,
		message: `spec.rollout.canary.analysis.metrics[0]: Invalid value: spec.rollout.canary.analysis.metrics[] needs a template (request-success-rate or request-duration-p99) or a query (your own PromQL)`,
		fix:     "Add template: request-success-rate, or a query."},
	{category: "Analysis", name: "unknown metric template",
		input:   `spec: {rollout: {strategy: Canary, canary: {steps: [{analysis: {}}], analysis: {metrics: [{name: errors, template: error-rate, successCondition: {max: "0.01"}}]}}}}`,
		message: `[spec.rollout.canary.analysis.metrics[0].template: Unsupported value: "error-rate": supported values: "request-success-rate", "request-duration-p99", <nil>: Invalid value: null: some validation rules were not checked because the object was invalid; correct the existing errors to complete validation]`,
		fix:     "Use request-success-rate (with min) or request-duration-p99 (with max, in milliseconds); docs/traffic-metrics.md lists them."},
	{category: "Analysis", name: "unknown gateway implementation",
		input:   `spec: {rollout: {strategy: Canary, canary: {steps: [{analysis: {}}], analysis: {implementation: haproxy, metrics: [{name: success-rate, template: request-success-rate, successCondition: {min: "0.99"}}]}}}}`,
		message: `[spec.rollout.canary.analysis.implementation: Unsupported value: "haproxy": supported values: "traefik", "envoy-gateway", "istio", "linkerd", "nginx-gateway-fabric", <nil>: Invalid value: null: some validation rules were not checked because the object was invalid; correct the existing errors to complete validation]`,
		fix:     "Use traefik, envoy-gateway, istio, linkerd or nginx-gateway-fabric, or leave it out for the operator's --gateway-implementation."},
	{category: "Analysis", name: "a template the implementation cannot provide",
		input:   `analysis: {implementation: envoy-gateway, metrics: [{name: success-rate, template: request-success-rate, successCondition: {min: "0.99"}}]}`,
		observe: renderTemplate(analysis.EnvoyGateway, analysis.RequestSuccessRate),
		message: `measurement Inconclusive: template request-success-rate is not available for envoy-gateway: Envoy Gateway counts all backendRefs of an HTTPRoute rule in one Envoy cluster (httproute/<namespace>/<route>/rule/<index>), so its metrics cannot tell the canary from stable; write a query instead, or set analysis.implementation if another one carries the traffic`,
		fix:     "Write a query for this metric, or set analysis.implementation to what carries the traffic; docs/traffic-metrics.md says what each implementation provides."},

	// PromQL injection through templated values. Admission keeps quotes
	// out of every value a query template can refer to (names, namespaces,
	// tracks and revisions); the renderer escapes them anyway.
	{category: "PromQL injection", name: "a value closing the string and the selector",
		input:   `query: '` + promQLTemplate + `'` + `, {{ .Name }} = 'checkout"} or vector(1) or x{a="'`,
		observe: render(promQLTemplate, `checkout"} or vector(1) or x{a="`),
		message: `query sent: sum(rate(http_requests_total{app="checkout\"} or vector(1) or x{a=\"",code=~"5.."}[1m]))`,
		fix:     "Nothing: the quotes are escaped and the value stays one label value."},
	{category: "PromQL injection", name: "a value ending in a backslash",
		input:   `query: '` + promQLTemplate + `'` + `, {{ .Name }} = 'checkout\'`,
		observe: render(promQLTemplate, `checkout\`),
		message: `query sent: sum(rate(http_requests_total{app="checkout\\",code=~"5.."}[1m]))`,
		fix:     "Nothing: the backslash is escaped and cannot swallow the closing quote."},
	{category: "PromQL injection", name: "a value with a newline",
		input:   `query: '` + promQLTemplate + `'` + `, {{ .Name }} = "checkout\n) or vector(1"`,
		observe: render(promQLTemplate, "checkout\n) or vector(1"),
		message: `measurement Inconclusive: query variable Name: value "checkout\n) or vector(1" contains a newline`,
		fix:     "Nothing: such a value is never sent to Prometheus."},
	{category: "PromQL injection", name: "a template referring to an unknown value",
		input:   `query: 'sum(rate(http_requests_total{app="{{ .App }}"}[1m]))'`,
		observe: render(`sum(rate(http_requests_total{app="{{ .App }}"}[1m]))`, "checkout"),
		message: `measurement Inconclusive: invalid query template: rendering failed: template: query:1:37: executing "query" at <.App>: can't evaluate field App in type analysis.QueryVars`,
		fix:     "Use {{ .Name }}, {{ .Namespace }}, {{ .Track }}, {{ .Revision }} or {{ .Interval }}."},
}

// stalledAndHeld waits for ms to report a dependency cycle and returns its
// Stalled and DependenciesReady conditions and its Deployment's replicas.
// dependencyReport is the state and message of each dependency in ms's
// status, once it has them, with the namespace written as <ns>.
func dependencyReport(ms *msv1.Microservice) string {
	var out string
	Eventually(func() string {
		live := &msv1.Microservice{}
		if err := k8sClient.Get(ctx, key(ms), live); err != nil || len(live.Status.Dependencies) == 0 {
			return ""
		}
		var parts []string
		for _, d := range live.Status.Dependencies {
			parts = append(parts, fmt.Sprintf("%s: %s %q", d.Name, d.State, strings.ReplaceAll(d.Message, ms.Namespace+"/", "<ns>/")))
		}
		out = strings.Join(parts, "; ")
		return out
	}, timeout, interval).ShouldNot(BeEmpty())
	return out
}

// stalledMessage is the reason and message of ms's Stalled condition, once
// it is True, with the namespace written as <ns>.
func stalledMessage(ms *msv1.Microservice) string {
	var out string
	Eventually(func() string {
		c := condition(ms, msv1.StalledCondition)()
		if c == nil || c.Status != metav1.ConditionTrue {
			return ""
		}
		out = fmt.Sprintf("Stalled=True %s: %q", c.Reason, strings.ReplaceAll(c.Message, ms.Namespace, "<ns>"))
		return out
	}, timeout, interval).ShouldNot(BeEmpty())
	return out
}

func stalledAndHeld(ms *msv1.Microservice) string {
	Eventually(condition(ms, msv1.StalledCondition), timeout, interval).Should(
		haveCondition("True", msv1.ReasonDependencyCycle))
	live := &msv1.Microservice{}
	Expect(k8sClient.Get(ctx, key(ms), live)).To(Succeed())
	cond := func(t string) string {
		c := apimeta.FindStatusCondition(live.Status.Conditions, t)
		Expect(c).NotTo(BeNil(), t)
		return fmt.Sprintf("%s=%s %s: %q", t, c.Status, c.Reason, c.Message)
	}
	Eventually(replicas(key(ms)), timeout, interval).Should(BeNumerically(">=", 0))
	Consistently(replicas(key(ms)), "500ms", interval).Should(BeZero())
	return fmt.Sprintf("%s; %s; Deployment %s held at 0 replicas",
		cond(msv1.StalledCondition), cond(msv1.DependenciesReadyCondition), ms.Name)
}

// badInputObject is the valid checkout Microservice with the case's input merged in.
func badInputObject(ns string, b badInput) *unstructured.Unstructured {
	base, err := runtime.DefaultUnstructuredConverter.ToUnstructured(checkout(ns))
	Expect(err).NotTo(HaveOccurred())
	delete(base, "status")
	obj := base
	if b.expand != nil {
		b.expand(obj)
	} else {
		patch := map[string]any{}
		Expect(yaml.Unmarshal([]byte(b.input), &patch)).To(Succeed(), b.name)
		obj = mergePatch(base, patch)
	}
	u := &unstructured.Unstructured{Object: obj}
	u.SetGroupVersionKind(msv1.GroupVersion.WithKind("Microservice"))
	return u
}

// mergePatch applies an RFC 7386 JSON merge patch to target.
func mergePatch(target, patch map[string]any) map[string]any {
	for k, v := range patch {
		switch pv := v.(type) {
		case nil:
			delete(target, k)
		case map[string]any:
			tv, ok := target[k].(map[string]any)
			if !ok {
				tv = map[string]any{}
			}
			target[k] = mergePatch(tv, pv)
		default:
			target[k] = v
		}
	}
	return target
}

// invalidPrefix is how the API server starts the message of a refused Microservice.
func invalidPrefix(name string) string {
	return fmt.Sprintf("Microservice.apps.msvc.dev %q is invalid: ", name)
}

var _ = Describe("The bad input catalogue", func() {
	It("refuses every malformed Microservice at admission with its exact message, on create and on update, and changes nothing", func() {
		created, updated := newNamespace(), newNamespace()
		existing := checkout(updated)
		Expect(k8sClient.Create(ctx, existing)).To(Succeed())
		before := &unstructured.Unstructured{}
		before.SetGroupVersionKind(msv1.GroupVersion.WithKind("Microservice"))
		Expect(k8sClient.Get(ctx, key(existing), before)).To(Succeed())

		var mismatches []string
		for _, b := range badInputs {
			if !b.refused() {
				continue
			}
			obj := badInputObject(created, b)
			err := k8sClient.Create(ctx, obj)
			Expect(err).To(HaveOccurred(), b.name)
			Expect(apierrors.IsInvalid(err)).To(BeTrue(), "%s: %v", b.name, err)
			if err.Error() != invalidPrefix(obj.GetName())+b.message {
				mismatches = append(mismatches, fmt.Sprintf("%s:\n  got:  %s\n  want: %s", b.name, strings.TrimPrefix(err.Error(), invalidPrefix(obj.GetName())), b.message))
			}
			Expect(apierrors.IsNotFound(k8sClient.Get(ctx, client.ObjectKeyFromObject(obj), &msv1.Microservice{}))).To(BeTrue(), "%s: nothing stored", b.name)

			if obj.GetName() != existing.Name {
				continue
			}
			// The same input as a change to a Microservice that exists.
			// The operator writes status meanwhile: retry on conflicts.
			err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
				live := &unstructured.Unstructured{}
				live.SetGroupVersionKind(msv1.GroupVersion.WithKind("Microservice"))
				if err := k8sClient.Get(ctx, key(existing), live); err != nil {
					return err
				}
				change := badInputObject(updated, b)
				change.SetResourceVersion(live.GetResourceVersion())
				return k8sClient.Update(ctx, change)
			})
			Expect(apierrors.IsInvalid(err)).To(BeTrue(), "%s: update: %v", b.name, err)
			if err.Error() != invalidPrefix(existing.Name)+b.message {
				mismatches = append(mismatches, fmt.Sprintf("%s (update):\n  got:  %s\n  want: %s", b.name, strings.TrimPrefix(err.Error(), invalidPrefix(existing.Name)), b.message))
			}
		}
		Expect(mismatches).To(BeEmpty(), "messages differ:\n%s", strings.Join(mismatches, "\n"))

		after := &unstructured.Unstructured{}
		after.SetGroupVersionKind(msv1.GroupVersion.WithKind("Microservice"))
		Expect(k8sClient.Get(ctx, key(existing), after)).To(Succeed())
		Expect(after.GetGeneration()).To(Equal(before.GetGeneration()), "no refused update was half-applied")
		Expect(after.Object["spec"]).To(Equal(before.Object["spec"]))

		list := &msv1.MicroserviceList{}
		Expect(k8sClient.List(ctx, list, client.InNamespace(created))).To(Succeed())
		Expect(list.Items).To(BeEmpty())
		Consistently(func(g Gomega) {
			deps, svcs := &appsv1.DeploymentList{}, &corev1.ServiceList{}
			g.Expect(k8sClient.List(ctx, deps, client.InNamespace(created))).To(Succeed())
			g.Expect(k8sClient.List(ctx, svcs, client.InNamespace(created))).To(Succeed())
			g.Expect(deps.Items).To(BeEmpty())
			g.Expect(svcs.Items).To(BeEmpty())
		}, "1s", interval).Should(Succeed())
	})

	for _, b := range badInputs {
		if b.refused() {
			continue
		}
		It("gives the author of "+b.name+" exactly what the catalogue says", func() {
			Expect(b.observe(newNamespace())).To(Equal(b.message))
		})
	}
})

// TestBadInputDoc checks that docs/bad-input.md is what the catalogue
// writes, or rewrites it with -update-docs.
func TestBadInputDoc(t *testing.T) {
	got := badInputPage()
	if *updateDocs {
		if err := os.WriteFile(badInputDoc, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(badInputDoc)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/controller -run TestBadInputDoc -update-docs to write it)", err)
	}
	if string(want) != got {
		t.Errorf("%s is not what the catalogue in badinput_test.go writes; run\n"+
			"  go test ./internal/controller -run TestBadInputDoc -update-docs\nand review the diff", filepath.Clean(badInputDoc))
	}
}

func TestBadInputCatalogueSize(t *testing.T) {
	if n := len(badInputs); n < 40 {
		t.Errorf("the catalogue has %d cases, want at least 40", n)
	}
	for _, b := range badInputs {
		if b.message == "" || b.fix == "" || b.category == "" {
			t.Errorf("%s: every case needs a category, a message and a fix", b.name)
		}
	}
}

// cell makes s safe inside a Markdown table cell.
func cell(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}

// badInputPage is docs/bad-input.md.
func badInputPage() string {
	var b strings.Builder
	b.WriteString(`# What happens to a bad Microservice

<!-- Generated from internal/controller/badinput_test.go; do not edit.
     Run: go test ./internal/controller -run TestBadInputDoc -update-docs -->

Every row below is a case of the test in ` + "`internal/controller/badinput_test.go`" + `, run
against a real API server: the message is exactly what you get.

Most bad input is refused when you apply it, by the CRD's schema and its
validation rules, so nothing is created or changed. Such a message starts with
` + "`Microservice.apps.msvc.dev \"<name>\" is invalid: `" + ` (kubectl prints
` + "`The Microservice \"<name>\" is invalid: `" + `); the table shows what follows.
The input is YAML merged onto a valid Microservice named ` + "`checkout`" + `.

What admission cannot see, such as a cycle through other Microservices, is
reported in the status conditions. Values that reach a PromQL query are
escaped, so the analysis queries only what its author wrote.
`)
	var category string
	for _, c := range badInputs {
		if c.category != category {
			category = c.category
			fmt.Fprintf(&b, "\n## %s\n\n| Input | What you get | What to do |\n|---|---|---|\n", category)
		}
		fmt.Fprintf(&b, "| %s<br>`%s` | `%s` | %s |\n", cell(c.name), cell(c.input), cell(c.message), cell(c.fix))
	}
	b.WriteString(gatewayRefusals)
	return b.String()
}

// gatewayRefusals are the bad inputs that only a Gateway controller tells:
// no API server check can see them, so the end-to-end suite checks them on
// the local cluster's Traefik (test/e2e/traffic_test.go).
const gatewayRefusals = `
## Refused by the Gateway

What only the Gateway's controller can judge arrives in the route's status,
and the operator reports it in the ` + "`RouteAccepted`" + ` condition. These rows are
checked by the end-to-end suite on Traefik v3.6.12 (` + "`test/e2e/traffic_test.go`" + `);
the message after the parent's name is Traefik's own.

| Input | What you get | What to do |
|---|---|---|
| route to a Gateway that does not exist<br>` + "`spec: {route: {parentRefs: [{name: nowhere, namespace: gateway-system}]}}`" + ` | ` + "`RouteAccepted=Unknown`" + ` (RoutePending): ` + "`Waiting for the Gateway controller to accept the route on gateway-system/nowhere (no controller has reported on it yet: check that the Gateway exists and that its GatewayClass's controller runs)`" + ` | Create the Gateway, or name one that exists. |
| gRPC port routed through an HTTPRoute<br>` + "`spec: {ports: [{name: grpc, port: 9090, appProtocol: grpc}], route: {parentRefs: [{name: public, namespace: gateway-system}]}}`" + ` | ` + "`RouteAccepted=False`" + ` (RouteNotAccepted): ` + "`Route refused by gateway-system/public (UnsupportedProtocol: Cannot load HTTPBackendRef ...: unsupported application protocol grpc)`" + ` | Declare the port ` + "`appProtocol: kubernetes.io/h2c`" + ` (docs/traffic.md). |
`
