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
	"k8s.io/apimachinery/pkg/util/intstr"
)

// PodOptions are the parts of the pod template beyond the service's own
// container: volumes, other containers, scheduling and pod metadata. Each
// field is the Kubernetes field of the same name in a PodSpec, passed to the
// Deployment as written; the operator adds only the restricted security
// defaults to every container, field by field (docs/api.md).
//
// +kubebuilder:validation:XValidation:rule="!has(self.labels) || self.labels.all(k, !k.startsWith('apps.msvc.dev/') && k != 'app.kubernetes.io/name' && k != 'app.kubernetes.io/managed-by')",message="spec.pod.labels must not set apps.msvc.dev/*, app.kubernetes.io/name or app.kubernetes.io/managed-by: the operator sets them to select the service's pods"
// +kubebuilder:validation:XValidation:rule="!has(self.annotations) || self.annotations.all(k, !k.startsWith('apps.msvc.dev/'))",message="spec.pod.annotations must not set apps.msvc.dev/* keys: the operator sets them"
// +kubebuilder:validation:XValidation:rule="!has(self.sidecars) || self.sidecars.all(c, c.name != 'app')",message="spec.pod.sidecars[].name must not be app: that is the name of the service's own container"
// +kubebuilder:validation:XValidation:rule="!has(self.initContainers) || self.initContainers.all(c, c.name != 'app')",message="spec.pod.initContainers[].name must not be app: that is the name of the service's own container"
type PodOptions struct {
	// labels are added to the pods, for example for a mesh or a cost report.
	// The operator's own labels (apps.msvc.dev/*, app.kubernetes.io/name and
	// app.kubernetes.io/managed-by) are refused: they select the pods.
	// +kubebuilder:validation:MaxProperties=64
	// +optional
	Labels map[string]string `json:"labels,omitempty"`

	// annotations are added to the pods, for example prometheus.io/scrape or
	// sidecar.istio.io/inject. apps.msvc.dev/* keys are the operator's.
	// +kubebuilder:validation:MaxProperties=64
	// +optional
	Annotations map[string]string `json:"annotations,omitempty"`

	// volumes are the volumes the containers can mount: emptyDir, configMap,
	// secret, projected, persistentVolumeClaim, ephemeral and every other
	// volume source of Kubernetes.
	// +kubebuilder:validation:MaxItems=64
	// +listType=map
	// +listMapKey=name
	// +optional
	Volumes []corev1.Volume `json:"volumes,omitempty"`

	// initContainers run in order before the service's container starts. One
	// with restartPolicy: Always is a native sidecar: it starts before the
	// service's container and keeps running beside it (Kubernetes 1.29 and later).
	// +kubebuilder:validation:MaxItems=16
	// +listType=map
	// +listMapKey=name
	// +optional
	InitContainers []corev1.Container `json:"initContainers,omitempty"`

	// sidecars run beside the service's container for the pod's whole life,
	// for example a log shipper or a metrics exporter. They are the pod's
	// other containers; the service's own container is always first and named app.
	// +kubebuilder:validation:MaxItems=16
	// +listType=map
	// +listMapKey=name
	// +optional
	Sidecars []corev1.Container `json:"sidecars,omitempty"`

	// imagePullSecrets name the Secrets that hold the registry credentials
	// for the images of every container.
	// +kubebuilder:validation:MaxItems=16
	// +listType=atomic
	// +optional
	ImagePullSecrets []corev1.LocalObjectReference `json:"imagePullSecrets,omitempty"`

	// nodeSelector restricts the pods to nodes with these labels.
	// +kubebuilder:validation:MaxProperties=32
	// +optional
	NodeSelector map[string]string `json:"nodeSelector,omitempty"`

	// tolerations let the pods run on nodes with matching taints.
	// +kubebuilder:validation:MaxItems=32
	// +listType=atomic
	// +optional
	Tolerations []corev1.Toleration `json:"tolerations,omitempty"`

	// affinity is node affinity, and pod affinity or anti-affinity. To spread
	// the pods over nodes or zones, topologySpreadConstraints is simpler.
	// +optional
	Affinity *corev1.Affinity `json:"affinity,omitempty"`

	// topologySpreadConstraints spread the pods over zones or nodes. A
	// constraint without a labelSelector selects this service's pods of the
	// same track (stable or canary).
	// +kubebuilder:validation:MaxItems=8
	// +listType=atomic
	// +optional
	TopologySpreadConstraints []corev1.TopologySpreadConstraint `json:"topologySpreadConstraints,omitempty"`

	// priorityClassName is the pods' priority class.
	// +kubebuilder:validation:MaxLength=253
	// +optional
	PriorityClassName string `json:"priorityClassName,omitempty"`

	// terminationGracePeriodSeconds is how long a pod may take to stop after
	// SIGTERM before it is killed. Defaults to Kubernetes' 30 seconds.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=86400
	// +optional
	TerminationGracePeriodSeconds *int64 `json:"terminationGracePeriodSeconds,omitempty"`

	// runtimeClassName selects the container runtime, for example gVisor or Kata.
	// +kubebuilder:validation:MaxLength=253
	// +optional
	RuntimeClassName *string `json:"runtimeClassName,omitempty"`

	// schedulerName is the scheduler that places the pods.
	// +kubebuilder:validation:MaxLength=253
	// +optional
	SchedulerName string `json:"schedulerName,omitempty"`

	// hostAliases are extra /etc/hosts entries.
	// +kubebuilder:validation:MaxItems=32
	// +listType=atomic
	// +optional
	HostAliases []corev1.HostAlias `json:"hostAliases,omitempty"`

	// dnsPolicy is the pods' DNS policy. Defaults to ClusterFirst.
	// +kubebuilder:validation:Enum=ClusterFirst;ClusterFirstWithHostNet;Default;None
	// +optional
	DNSPolicy corev1.DNSPolicy `json:"dnsPolicy,omitempty"`

	// dnsConfig adds nameservers, searches and options to the pods' DNS.
	// +optional
	DNSConfig *corev1.PodDNSConfig `json:"dnsConfig,omitempty"`

	// enableServiceLinks injects the Docker-link variables of every Service
	// of the namespace. Defaults to Kubernetes' true.
	// +optional
	EnableServiceLinks *bool `json:"enableServiceLinks,omitempty"`

	// automountServiceAccountToken mounts the ServiceAccount's token. Set
	// false for a service that never calls the Kubernetes API.
	// +optional
	AutomountServiceAccountToken *bool `json:"automountServiceAccountToken,omitempty"`

	// shareProcessNamespace lets the containers of a pod see each other's processes.
	// +optional
	ShareProcessNamespace *bool `json:"shareProcessNamespace,omitempty"`
}

// DisruptionBudget configures the PodDisruptionBudget that keeps voluntary
// disruptions (node drains, cluster upgrades) from taking too many pods at once.
// +kubebuilder:validation:XValidation:rule="!(has(self.minAvailable) && has(self.maxUnavailable))",message="spec.disruptionBudget takes minAvailable or maxUnavailable, not both"
type DisruptionBudget struct {
	// enabled turns the budget on or off. Unset, there is one while the
	// service runs at least 2 pods (spec.replicas, or
	// spec.autoscaling.minReplicas); a budget on a single pod would block
	// every node drain.
	// +optional
	Enabled *bool `json:"enabled,omitempty"`

	// minAvailable is the number or percentage of pods that must stay up.
	// +kubebuilder:validation:XIntOrString
	// +optional
	MinAvailable *intstr.IntOrString `json:"minAvailable,omitempty"`

	// maxUnavailable is the number or percentage of pods that may be down at
	// once. Defaults to 1 when minAvailable is not set.
	// +kubebuilder:validation:XIntOrString
	// +optional
	MaxUnavailable *intstr.IntOrString `json:"maxUnavailable,omitempty"`
}
