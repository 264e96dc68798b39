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

package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// MicroserviceSpec is the desired state of one service: what runs, how it is
// reached inside the cluster, how many copies run and how it is exposed.
//
// +kubebuilder:validation:XValidation:rule="!has(self.route) || has(self.ports) && size(self.ports) > 0",message="spec.route needs at least one entry in spec.ports to send traffic to"
// +kubebuilder:validation:XValidation:rule="!has(self.rollout) || !has(self.rollout.canary) || !has(self.rollout.canary.trafficRouting) || self.rollout.canary.trafficRouting != 'Mesh' || has(self.ports) && size(self.ports) > 0",message="spec.rollout.canary.trafficRouting: Mesh needs at least one entry in spec.ports: the mesh route weighs the tracks on a port of the Service"
// +kubebuilder:validation:XValidation:rule="!has(self.rollout) || !has(self.rollout.canary) || !has(self.rollout.canary.mirror) || has(self.route)",message="spec.rollout.canary.mirror needs spec.route: requests are mirrored at the Gateway"
// +kubebuilder:validation:XValidation:rule="!has(self.rollout) || !has(self.rollout.canary) || !has(self.rollout.canary.sessionAffinity) || has(self.route)",message="spec.rollout.canary.sessionAffinity needs spec.route: the Gateway keeps the sessions"
// +kubebuilder:validation:XValidation:rule="!has(self.rollout) || !has(self.rollout.canary) || !has(self.rollout.canary.matches) || size(self.rollout.canary.matches) == 0 || has(self.route) || has(self.rollout.canary.trafficRouting) && self.rollout.canary.trafficRouting == 'Mesh'",message="spec.rollout.canary.matches need a route to send the matching requests to the canary: set spec.route, or trafficRouting: Mesh"
// +kubebuilder:validation:XValidation:rule="!has(self.route) || !has(self.route.port) || self.ports.exists(p, p.name == self.route.port)",message="spec.route.port must name one of the entries in spec.ports"
// +kubebuilder:validation:XValidation:rule="!has(self.rollout) || !has(self.rollout.blueGreen) || !has(self.ports) || size(self.ports) == 0 || has(self.route) || has(self.rollout.blueGreen.trafficRouting) && self.rollout.blueGreen.trafficRouting == 'Mesh'",message="spec.rollout.blueGreen needs spec.route (or blueGreen.trafficRouting: Mesh): without a router the Service would send the full-size preview half of the traffic before the switch"
// +kubebuilder:validation:XValidation:rule="!has(self.rollout) || !has(self.rollout.canary) || !has(self.rollout.canary.scale) || self.rollout.canary.scale != 'Full' || !has(self.ports) || size(self.ports) == 0 || has(self.route) || has(self.rollout.canary.trafficRouting) && self.rollout.canary.trafficRouting == 'Mesh'",message="spec.rollout.canary.scale: Full needs spec.route (or trafficRouting: Mesh): without a router the pod counts split the traffic, and a full-size canary would take half of it at weight 0"
// +kubebuilder:validation:XValidation:rule="!has(self.probes) || !has(self.probes.readiness) || !has(self.probes.readiness.httpGet) || type(self.probes.readiness.httpGet.port) != string || has(self.ports) && self.ports.exists(q, q.name == self.probes.readiness.httpGet.port)",message="spec.probes.readiness.httpGet.port names a port that is not in spec.ports: use one of spec.ports[].name, or the container port number"
// +kubebuilder:validation:XValidation:rule="!has(self.probes) || !has(self.probes.readiness) || !has(self.probes.readiness.tcpSocket) || type(self.probes.readiness.tcpSocket.port) != string || has(self.ports) && self.ports.exists(q, q.name == self.probes.readiness.tcpSocket.port)",message="spec.probes.readiness.tcpSocket.port names a port that is not in spec.ports: use one of spec.ports[].name, or the container port number"
// +kubebuilder:validation:XValidation:rule="!has(self.probes) || !has(self.probes.readiness) || !has(self.probes.readiness.httpGet) || type(self.probes.readiness.httpGet.port) != int || !has(self.ports) || !self.ports.exists(q, has(q.targetPort) && q.targetPort != q.port && q.port == self.probes.readiness.httpGet.port) || self.ports.exists(q, (has(q.targetPort) ? q.targetPort : q.port) == self.probes.readiness.httpGet.port)",message="spec.probes.readiness.httpGet.port is the Service port of an entry in spec.ports whose targetPort differs: a probe calls the container, so use its targetPort (or the port's name)"
// +kubebuilder:validation:XValidation:rule="!has(self.probes) || !has(self.probes.readiness) || !has(self.probes.readiness.tcpSocket) || type(self.probes.readiness.tcpSocket.port) != int || !has(self.ports) || !self.ports.exists(q, has(q.targetPort) && q.targetPort != q.port && q.port == self.probes.readiness.tcpSocket.port) || self.ports.exists(q, (has(q.targetPort) ? q.targetPort : q.port) == self.probes.readiness.tcpSocket.port)",message="spec.probes.readiness.tcpSocket.port is the Service port of an entry in spec.ports whose targetPort differs: a probe calls the container, so use its targetPort (or the port's name)"
// +kubebuilder:validation:XValidation:rule="!has(self.probes) || !has(self.probes.readiness) || !has(self.probes.readiness.grpc) || !has(self.ports) || !self.ports.exists(q, has(q.targetPort) && q.targetPort != q.port && q.port == self.probes.readiness.grpc.port) || self.ports.exists(q, (has(q.targetPort) ? q.targetPort : q.port) == self.probes.readiness.grpc.port)",message="spec.probes.readiness.grpc.port is the Service port of an entry in spec.ports whose targetPort differs: a probe calls the container, so use its targetPort (or the port's name)"
// +kubebuilder:validation:XValidation:rule="!has(self.probes) || !has(self.probes.liveness) || !has(self.probes.liveness.httpGet) || type(self.probes.liveness.httpGet.port) != string || has(self.ports) && self.ports.exists(q, q.name == self.probes.liveness.httpGet.port)",message="spec.probes.liveness.httpGet.port names a port that is not in spec.ports: use one of spec.ports[].name, or the container port number"
// +kubebuilder:validation:XValidation:rule="!has(self.probes) || !has(self.probes.liveness) || !has(self.probes.liveness.tcpSocket) || type(self.probes.liveness.tcpSocket.port) != string || has(self.ports) && self.ports.exists(q, q.name == self.probes.liveness.tcpSocket.port)",message="spec.probes.liveness.tcpSocket.port names a port that is not in spec.ports: use one of spec.ports[].name, or the container port number"
// +kubebuilder:validation:XValidation:rule="!has(self.probes) || !has(self.probes.liveness) || !has(self.probes.liveness.httpGet) || type(self.probes.liveness.httpGet.port) != int || !has(self.ports) || !self.ports.exists(q, has(q.targetPort) && q.targetPort != q.port && q.port == self.probes.liveness.httpGet.port) || self.ports.exists(q, (has(q.targetPort) ? q.targetPort : q.port) == self.probes.liveness.httpGet.port)",message="spec.probes.liveness.httpGet.port is the Service port of an entry in spec.ports whose targetPort differs: a probe calls the container, so use its targetPort (or the port's name)"
// +kubebuilder:validation:XValidation:rule="!has(self.probes) || !has(self.probes.liveness) || !has(self.probes.liveness.tcpSocket) || type(self.probes.liveness.tcpSocket.port) != int || !has(self.ports) || !self.ports.exists(q, has(q.targetPort) && q.targetPort != q.port && q.port == self.probes.liveness.tcpSocket.port) || self.ports.exists(q, (has(q.targetPort) ? q.targetPort : q.port) == self.probes.liveness.tcpSocket.port)",message="spec.probes.liveness.tcpSocket.port is the Service port of an entry in spec.ports whose targetPort differs: a probe calls the container, so use its targetPort (or the port's name)"
// +kubebuilder:validation:XValidation:rule="!has(self.probes) || !has(self.probes.liveness) || !has(self.probes.liveness.grpc) || !has(self.ports) || !self.ports.exists(q, has(q.targetPort) && q.targetPort != q.port && q.port == self.probes.liveness.grpc.port) || self.ports.exists(q, (has(q.targetPort) ? q.targetPort : q.port) == self.probes.liveness.grpc.port)",message="spec.probes.liveness.grpc.port is the Service port of an entry in spec.ports whose targetPort differs: a probe calls the container, so use its targetPort (or the port's name)"
// +kubebuilder:validation:XValidation:rule="!has(self.probes) || !has(self.probes.startup) || !has(self.probes.startup.httpGet) || type(self.probes.startup.httpGet.port) != string || has(self.ports) && self.ports.exists(q, q.name == self.probes.startup.httpGet.port)",message="spec.probes.startup.httpGet.port names a port that is not in spec.ports: use one of spec.ports[].name, or the container port number"
// +kubebuilder:validation:XValidation:rule="!has(self.probes) || !has(self.probes.startup) || !has(self.probes.startup.tcpSocket) || type(self.probes.startup.tcpSocket.port) != string || has(self.ports) && self.ports.exists(q, q.name == self.probes.startup.tcpSocket.port)",message="spec.probes.startup.tcpSocket.port names a port that is not in spec.ports: use one of spec.ports[].name, or the container port number"
// +kubebuilder:validation:XValidation:rule="!has(self.probes) || !has(self.probes.startup) || !has(self.probes.startup.httpGet) || type(self.probes.startup.httpGet.port) != int || !has(self.ports) || !self.ports.exists(q, has(q.targetPort) && q.targetPort != q.port && q.port == self.probes.startup.httpGet.port) || self.ports.exists(q, (has(q.targetPort) ? q.targetPort : q.port) == self.probes.startup.httpGet.port)",message="spec.probes.startup.httpGet.port is the Service port of an entry in spec.ports whose targetPort differs: a probe calls the container, so use its targetPort (or the port's name)"
// +kubebuilder:validation:XValidation:rule="!has(self.probes) || !has(self.probes.startup) || !has(self.probes.startup.tcpSocket) || type(self.probes.startup.tcpSocket.port) != int || !has(self.ports) || !self.ports.exists(q, has(q.targetPort) && q.targetPort != q.port && q.port == self.probes.startup.tcpSocket.port) || self.ports.exists(q, (has(q.targetPort) ? q.targetPort : q.port) == self.probes.startup.tcpSocket.port)",message="spec.probes.startup.tcpSocket.port is the Service port of an entry in spec.ports whose targetPort differs: a probe calls the container, so use its targetPort (or the port's name)"
// +kubebuilder:validation:XValidation:rule="!has(self.probes) || !has(self.probes.startup) || !has(self.probes.startup.grpc) || !has(self.ports) || !self.ports.exists(q, has(q.targetPort) && q.targetPort != q.port && q.port == self.probes.startup.grpc.port) || self.ports.exists(q, (has(q.targetPort) ? q.targetPort : q.port) == self.probes.startup.grpc.port)",message="spec.probes.startup.grpc.port is the Service port of an entry in spec.ports whose targetPort differs: a probe calls the container, so use its targetPort (or the port's name)"
type MicroserviceSpec struct {
	// image is the container image reference, for example ghcr.io/acme/checkout:1.4.2.
	// +kubebuilder:validation:MaxLength=512
	// +kubebuilder:validation:XValidation:rule="self.size() > 0",message="spec.image is required: set it to a container image such as ghcr.io/acme/app:1.0"
	// +kubebuilder:validation:XValidation:rule="!self.matches('\\\\s')",message="spec.image must not contain whitespace"
	// +kubebuilder:validation:XValidation:rule="!self.startsWith(':') && !self.startsWith('@') && !self.endsWith(':') && !self.endsWith('@')",message="spec.image must be a reference such as registry.example.com/team/app:1.0 (no leading or trailing ':' or '@')"
	// +required
	Image string `json:"image"`

	// imagePullPolicy is the container's image pull policy.
	// +kubebuilder:validation:Enum=Always;IfNotPresent;Never
	// +optional
	ImagePullPolicy corev1.PullPolicy `json:"imagePullPolicy,omitempty"`

	// command overrides the image's entrypoint.
	// +kubebuilder:validation:MaxItems=64
	// +listType=atomic
	// +optional
	Command []string `json:"command,omitempty"`

	// args overrides the image's default arguments.
	// +kubebuilder:validation:MaxItems=256
	// +listType=atomic
	// +optional
	Args []string `json:"args,omitempty"`

	// ports are the ports the service listens on. Each becomes a port of the
	// Service and of the container. A service without ports (a worker, a
	// queue consumer, a load generator) gets no Service, no URL and no
	// ingress; it may depend on others, but nothing can depend on it.
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:XValidation:rule="self.all(p, self.exists_one(q, q.name == p.name))",message="spec.ports[].name must be unique: give each entry its own name"
	// +kubebuilder:validation:XValidation:rule="self.all(p, self.exists_one(q, q.port == p.port))",message="spec.ports[].port must be unique: give each entry its own port number"
	// +listType=map
	// +listMapKey=name
	// +optional
	Ports []ServicePort `json:"ports,omitempty"`

	// replicas is the number of pods when autoscaling is not set. Defaults to 1.
	// It is ignored while spec.autoscaling is set: the HorizontalPodAutoscaler
	// owns the replica count then.
	// The scale subresource refuses a negative count itself, so the schema
	// sets no minimum: one mistake, one message.
	// +kubebuilder:validation:Maximum=10000
	// +optional
	Replicas *int32 `json:"replicas,omitempty"`

	// autoscaling creates a HorizontalPodAutoscaler for the service, when set.
	// +optional
	Autoscaling *Autoscaling `json:"autoscaling,omitempty"`

	// env lists the container's environment variables.
	// +kubebuilder:validation:MaxItems=256
	// +listType=map
	// +listMapKey=name
	// +optional
	Env []corev1.EnvVar `json:"env,omitempty"`

	// envFrom lists sources (ConfigMaps, Secrets) whose keys become environment variables.
	// +kubebuilder:validation:MaxItems=64
	// +listType=atomic
	// +optional
	EnvFrom []corev1.EnvFromSource `json:"envFrom,omitempty"`

	// resources are the container's compute resource requests and limits.
	// +optional
	Resources *corev1.ResourceRequirements `json:"resources,omitempty"`

	// probes are the container's health checks.
	// +optional
	Probes *Probes `json:"probes,omitempty"`

	// serviceAccountName is the ServiceAccount the pods run as.
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	// +optional
	ServiceAccountName string `json:"serviceAccountName,omitempty"`

	// podSecurityContext is the pod-level security context. By default the pod
	// runs as non-root with the RuntimeDefault seccomp profile; each field set
	// here overrides that default, and fields left unset keep it.
	// +optional
	PodSecurityContext *corev1.PodSecurityContext `json:"podSecurityContext,omitempty"`

	// securityContext is the container's security context. By default the
	// container runs with no privilege escalation, all capabilities dropped and a
	// read-only root filesystem (the restricted Pod Security Standard); each
	// field set here overrides that default, and fields left unset keep it.
	// +optional
	SecurityContext *corev1.SecurityContext `json:"securityContext,omitempty"`

	// volumeMounts mount volumes of spec.pod.volumes into the service's
	// container. A writable emptyDir mounted at /tmp, for example, is what
	// most images need beside the default read-only root filesystem.
	// +kubebuilder:validation:MaxItems=64
	// +listType=map
	// +listMapKey=mountPath
	// +optional
	VolumeMounts []corev1.VolumeMount `json:"volumeMounts,omitempty"`

	// lifecycle holds the hooks of the service's container: postStart, and preStop,
	// which runs before SIGTERM (for example a sleep that lets load
	// balancers stop sending traffic first).
	// +optional
	Lifecycle *corev1.Lifecycle `json:"lifecycle,omitempty"`

	// workingDir is the container's working directory; the image's when unset.
	// +kubebuilder:validation:MaxLength=4096
	// +optional
	WorkingDir string `json:"workingDir,omitempty"`

	// pod holds the rest of the pod template: volumes, init containers and
	// sidecars, scheduling (nodeSelector, tolerations, affinity, topology
	// spread), image pull secrets, pod labels and annotations, priority and
	// termination grace period.
	// +optional
	Pod *PodOptions `json:"pod,omitempty"`

	// disruptionBudget configures the service's PodDisruptionBudget, which
	// exists by default while the service runs at least 2 pods.
	// +optional
	DisruptionBudget *DisruptionBudget `json:"disruptionBudget,omitempty"`

	// route exposes the service through a Gateway API HTTPRoute, when set.
	// +optional
	Route *Route `json:"route,omitempty"`

	// dependencies are the Microservices this one calls. Their addresses are
	// injected as environment variables; required ones hold back start-up
	// and rollouts until they are available.
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:XValidation:rule="self.all(d, self.exists_one(e, e.name == d.name && (has(e.__namespace__) ? e.__namespace__ : '') == (has(d.__namespace__) ? d.__namespace__ : '')))",message="spec.dependencies must not list the same Microservice twice"
	// +kubebuilder:validation:XValidation:rule="self.all(d, self.filter(e, has(d.env) && has(e.env) ? d.env.name == e.env.name : has(d.env) ? d.env.name in ['_URL', '_HOST', '_PORT'].map(s, e.name.upperAscii().replace('-', '_') + s) : has(e.env) ? e.env.name in ['_URL', '_HOST', '_PORT'].map(s, d.name.upperAscii().replace('-', '_') + s) : d.name == e.name).all(e, e == d))",message="spec.dependencies must give each dependency its own environment variables: two of them would set the same one (dependencies of the same name in two namespaces both get <NAME>_URL, <NAME>_HOST and <NAME>_PORT); set env.name on one of them to a name no other dependency uses"
	// +listType=atomic
	// +optional
	Dependencies []Dependency `json:"dependencies,omitempty"`

	// networkPolicy isolates the pods: they admit traffic only from the
	// Microservices that depend on this one, the Gateway's namespace and
	// the monitoring namespace.
	// +optional
	NetworkPolicy *NetworkPolicySpec `json:"networkPolicy,omitempty"`

	// rollout says how a new version of the pod template is delivered:
	// a rolling update (the default) or canary steps.
	// +optional
	Rollout *Rollout `json:"rollout,omitempty"`
}

// ServicePort is a port the service listens on.
type ServicePort struct {
	// name identifies the port; other fields (probes, route.port) refer to it.
	// It must be an IANA service name: lower case, at most 15 characters.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=15
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$') && self.matches('[a-z]')",message="spec.ports[].name must be lower case letters, digits and '-', contain a letter, and start and end with a letter or digit (for example http or grpc-api)"
	// +required
	Name string `json:"name"`

	// port is the port of the Service, the address other services use.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	// +required
	Port int32 `json:"port"`

	// targetPort is the port the container listens on. Defaults to port.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	// +optional
	TargetPort *int32 `json:"targetPort,omitempty"`

	// protocol is the transport protocol. Defaults to TCP.
	// +kubebuilder:validation:Enum=TCP;UDP;SCTP
	// +optional
	Protocol corev1.Protocol `json:"protocol,omitempty"`

	// appProtocol is the application protocol, for example http, h2c or grpc.
	// +kubebuilder:validation:MaxLength=63
	// +optional
	AppProtocol *string `json:"appProtocol,omitempty"`
}

// Autoscaling configures a HorizontalPodAutoscaler.
// +kubebuilder:validation:XValidation:rule="!has(self.minReplicas) || self.minReplicas <= self.maxReplicas",message="spec.autoscaling.minReplicas must be less than or equal to spec.autoscaling.maxReplicas"
// +kubebuilder:validation:XValidation:rule="has(self.targetCPUUtilizationPercentage) || has(self.targetMemoryUtilizationPercentage)",message="spec.autoscaling needs targetCPUUtilizationPercentage or targetMemoryUtilizationPercentage (or both)"
type Autoscaling struct {
	// minReplicas is the lower bound. Defaults to 1.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=10000
	// +optional
	MinReplicas *int32 `json:"minReplicas,omitempty"`

	// maxReplicas is the upper bound.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=10000
	// +required
	MaxReplicas int32 `json:"maxReplicas"`

	// targetCPUUtilizationPercentage is the average CPU use, as a percentage of
	// the CPU request, that the autoscaler aims for.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000
	// +optional
	TargetCPUUtilizationPercentage *int32 `json:"targetCPUUtilizationPercentage,omitempty"`

	// targetMemoryUtilizationPercentage is the average memory use, as a
	// percentage of the memory request, that the autoscaler aims for.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000
	// +optional
	TargetMemoryUtilizationPercentage *int32 `json:"targetMemoryUtilizationPercentage,omitempty"`
}

// Probes are the container's health checks. Each takes exactly one handler:
// httpGet, grpc, tcpSocket or exec.
// +kubebuilder:validation:XValidation:rule="!has(self.readiness) || (has(self.readiness.httpGet) ? 1 : 0) + (has(self.readiness.grpc) ? 1 : 0) + (has(self.readiness.tcpSocket) ? 1 : 0) + (has(self.readiness.exec) ? 1 : 0) == 1",message="spec.probes.readiness needs exactly one of httpGet, grpc, tcpSocket or exec"
// +kubebuilder:validation:XValidation:rule="!has(self.liveness) || (has(self.liveness.httpGet) ? 1 : 0) + (has(self.liveness.grpc) ? 1 : 0) + (has(self.liveness.tcpSocket) ? 1 : 0) + (has(self.liveness.exec) ? 1 : 0) == 1",message="spec.probes.liveness needs exactly one of httpGet, grpc, tcpSocket or exec"
// +kubebuilder:validation:XValidation:rule="!has(self.startup) || (has(self.startup.httpGet) ? 1 : 0) + (has(self.startup.grpc) ? 1 : 0) + (has(self.startup.tcpSocket) ? 1 : 0) + (has(self.startup.exec) ? 1 : 0) == 1",message="spec.probes.startup needs exactly one of httpGet, grpc, tcpSocket or exec"
type Probes struct {
	// readiness decides whether a pod receives traffic.
	// +optional
	Readiness *corev1.Probe `json:"readiness,omitempty"`
	// liveness restarts a container that stops answering.
	// +optional
	Liveness *corev1.Probe `json:"liveness,omitempty"`
	// startup holds the other probes back until the container has started.
	// +optional
	Startup *corev1.Probe `json:"startup,omitempty"`
}

// Route exposes the service through a Gateway API HTTPRoute.
// +kubebuilder:validation:XValidation:rule="has(self.parentRefs) && size(self.parentRefs) > 0",message="spec.route.parentRefs needs at least one entry: name the Gateway that exposes this service"
type Route struct {
	// parentRefs are the Gateways (or other parents) the route attaches to.
	// +kubebuilder:validation:MaxItems=32
	// It is checked by a rule of Route rather than marked required, so that
	// leaving it out gives one message that says what to do.
	// +listType=atomic
	// +optional
	ParentRefs []ParentReference `json:"parentRefs,omitempty"`

	// hostnames are the hostnames the route answers for. Empty means every hostname of the Gateway.
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:items:XValidation:rule="self.matches('^(\\\\*\\\\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$')",message="spec.route.hostnames[] must be a lower-case DNS name such as shop.example.com or *.example.com, without port or scheme"
	// +kubebuilder:validation:items:MaxLength=253
	// +listType=set
	// +optional
	Hostnames []string `json:"hostnames,omitempty"`

	// pathPrefix is the path prefix the route matches. Defaults to "/".
	// +kubebuilder:validation:MaxLength=1024
	// +kubebuilder:validation:XValidation:rule="self.startsWith('/')",message="spec.route.pathPrefix must start with '/'"
	// +kubebuilder:validation:XValidation:rule="!self.contains('//') && !self.contains('/./') && !self.contains('/../') && !self.endsWith('/..') && !self.contains('%2f') && !self.contains('%2F') && !self.contains('#')",message="spec.route.pathPrefix must be a plain path: no '//', '/./', '/../', '#' or encoded '/'"
	// +optional
	PathPrefix string `json:"pathPrefix,omitempty"`

	// port is the name of the entry in spec.ports that receives the traffic.
	// Defaults to the first port.
	// +kubebuilder:validation:MaxLength=15
	// +optional
	Port string `json:"port,omitempty"`
}

// ParentReference names a Gateway (or another Gateway API parent) that a route attaches to.
type ParentReference struct {
	// name is the name of the parent.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +required
	Name string `json:"name"`

	// namespace is the namespace of the parent. Defaults to the Microservice's namespace.
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	// +optional
	Namespace string `json:"namespace,omitempty"`

	// sectionName is the listener of the Gateway to attach to.
	// +kubebuilder:validation:MaxLength=253
	// +optional
	SectionName string `json:"sectionName,omitempty"`

	// group is the API group of the parent. Defaults to gateway.networking.k8s.io.
	// +kubebuilder:validation:MaxLength=253
	// +optional
	Group string `json:"group,omitempty"`

	// kind is the kind of the parent. Defaults to Gateway.
	// +kubebuilder:validation:MaxLength=63
	// +optional
	Kind string `json:"kind,omitempty"`
}

// MicroserviceStatus is the observed state of a Microservice.
type MicroserviceStatus struct {
	// conditions are Ready (the summary), Available, RouteAccepted,
	// Reconciling and Stalled.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// observedGeneration is the generation of the spec this status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// replicas is the number of pods of the service's workload.
	// +optional
	Replicas int32 `json:"replicas,omitempty"`

	// readyReplicas is the number of those pods that are ready.
	// +optional
	ReadyReplicas int32 `json:"readyReplicas,omitempty"`

	// updatedReplicas is the number of pods that run the current pod template.
	// +optional
	UpdatedReplicas int32 `json:"updatedReplicas,omitempty"`

	// selector is the label selector of the service's pods, for the scale subresource.
	// +optional
	Selector string `json:"selector,omitempty"`

	// url is the in-cluster address of the service's first port, the address
	// that other services use to call it.
	// +optional
	URL string `json:"url,omitempty"`

	// rollout is the state of canary delivery; absent with RollingUpdate.
	// +optional
	Rollout *RolloutStatus `json:"rollout,omitempty"`

	// dependencies holds the state of each declared dependency.
	// +listType=atomic
	// +optional
	Dependencies []DependencyStatus `json:"dependencies,omitempty"`
}

// Microservice is one service of an application: a workload, its in-cluster
// address, its scaling and its route, owned and kept in shape by the operator.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:subresource:scale:specpath=.spec.replicas,statuspath=.status.replicas,selectorpath=.status.selector
// +kubebuilder:resource:shortName=ms;msvc,categories=all;msvc
// +kubebuilder:printcolumn:name="Image",type=string,JSONPath=`.spec.image`
// +kubebuilder:printcolumn:name="Ready Replicas",type=integer,JSONPath=`.status.readyReplicas`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.rollout.phase`
// +kubebuilder:printcolumn:name="Weight",type=integer,JSONPath=`.status.rollout.canaryWeight`
// +kubebuilder:printcolumn:name="URL",type=string,JSONPath=`.status.url`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:validation:XValidation:rule="!has(self.spec.dependencies) || !self.spec.dependencies.exists(d, d.name == self.metadata.name && !has(d.__namespace__))",message="spec.dependencies must not name this Microservice itself"
// +kubebuilder:validation:XValidation:rule="self.metadata.name.size() <= 56",message="metadata.name must be at most 56 characters: the operator derives Service and Deployment names from it"
// +kubebuilder:validation:XValidation:rule="self.metadata.name.matches('^[a-z]([-a-z0-9]*[a-z0-9])?$')",message="metadata.name must start with a letter and contain only lower case letters, digits and '-', because it becomes a Service name"
type Microservice struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the desired state of the Microservice.
	// +required
	Spec MicroserviceSpec `json:"spec"`
	// status is the observed state of the Microservice, written by the operator.
	// +optional
	Status MicroserviceStatus `json:"status,omitempty"`
}

// MicroserviceList is a list of Microservices.
//
// +kubebuilder:object:root=true
type MicroserviceList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Microservice `json:"items"`
}
