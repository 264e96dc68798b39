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

package builder

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
)

// reservedPrefix is the prefix of the operator's own labels and annotations.
const reservedPrefix = "apps.msvc.dev/"

// podOptions carries spec.pod into the pod spec, each field as written,
// except that every init container and sidecar gets the restricted security
// defaults from its own security context (containerSecurityContext), and a
// topology spread constraint without a labelSelector selects the pods of
// selector (this service's pods of the same track). Sidecars follow the
// service's container, which stays first. Volume sources are passed as they
// are, hostPath included: refusing them is the Pod Security admission's job.
func podOptions(pod *corev1ac.PodSpecApplyConfiguration, ms *msv1.Microservice, selector map[string]string) {
	o := ms.Spec.Pod
	if o == nil {
		return
	}
	psc := ms.Spec.PodSecurityContext
	for i := range o.Volumes {
		pod.WithVolumes(convert[corev1ac.VolumeApplyConfiguration](&o.Volumes[i]))
	}
	for i := range o.InitContainers {
		pod.WithInitContainers(extraContainer(&o.InitContainers[i], psc))
	}
	for i := range o.Sidecars {
		pod.WithContainers(extraContainer(&o.Sidecars[i], psc))
	}
	for i := range o.ImagePullSecrets {
		pod.WithImagePullSecrets(convert[corev1ac.LocalObjectReferenceApplyConfiguration](&o.ImagePullSecrets[i]))
	}
	if len(o.NodeSelector) > 0 {
		pod.WithNodeSelector(o.NodeSelector)
	}
	for i := range o.Tolerations {
		pod.WithTolerations(convert[corev1ac.TolerationApplyConfiguration](&o.Tolerations[i]))
	}
	if o.Affinity != nil {
		pod.WithAffinity(convert[corev1ac.AffinityApplyConfiguration](o.Affinity))
	}
	for i := range o.TopologySpreadConstraints {
		tsc := convert[corev1ac.TopologySpreadConstraintApplyConfiguration](&o.TopologySpreadConstraints[i])
		if tsc.LabelSelector == nil {
			tsc.WithLabelSelector(metav1ac.LabelSelector().WithMatchLabels(selector))
		}
		pod.WithTopologySpreadConstraints(tsc)
	}
	if o.PriorityClassName != "" {
		pod.WithPriorityClassName(o.PriorityClassName)
	}
	if o.TerminationGracePeriodSeconds != nil {
		pod.WithTerminationGracePeriodSeconds(*o.TerminationGracePeriodSeconds)
	}
	if o.RuntimeClassName != nil {
		pod.WithRuntimeClassName(*o.RuntimeClassName)
	}
	if o.SchedulerName != "" {
		pod.WithSchedulerName(o.SchedulerName)
	}
	for i := range o.HostAliases {
		pod.WithHostAliases(convert[corev1ac.HostAliasApplyConfiguration](&o.HostAliases[i]))
	}
	if o.DNSPolicy != "" {
		pod.WithDNSPolicy(o.DNSPolicy)
	}
	if o.DNSConfig != nil {
		pod.WithDNSConfig(convert[corev1ac.PodDNSConfigApplyConfiguration](o.DNSConfig))
	}
	if o.EnableServiceLinks != nil {
		pod.WithEnableServiceLinks(*o.EnableServiceLinks)
	}
	if o.AutomountServiceAccountToken != nil {
		pod.WithAutomountServiceAccountToken(*o.AutomountServiceAccountToken)
	}
	if o.ShareProcessNamespace != nil {
		pod.WithShareProcessNamespace(*o.ShareProcessNamespace)
	}
}

// extraContainer is an init container or a sidecar as written, with the
// restricted defaults added to its own security context.
func extraContainer(c *corev1.Container, pod *corev1.PodSecurityContext) *corev1ac.ContainerApplyConfiguration {
	ac := convert[corev1ac.ContainerApplyConfiguration](c)
	// resources is a struct, not a pointer, in corev1.Container, so it
	// survives the round trip as {}; leave it out rather than own it empty.
	if r := c.Resources; len(r.Limits) == 0 && len(r.Requests) == 0 && len(r.Claims) == 0 {
		ac.Resources = nil
	}
	ac.SecurityContext = containerSecurityContext(c.SecurityContext, pod)
	return ac
}

// trackSelector is the part of the pods' labels that selects one track of
// one service: apps.msvc.dev/microservice and apps.msvc.dev/track.
func trackSelector(labels map[string]string) map[string]string {
	out := map[string]string{}
	for _, k := range []string{LabelMicroservice, LabelTrack} {
		if v, ok := labels[k]; ok {
			out[k] = v
		}
	}
	return out
}

// podLabels are spec.pod.labels and then the operator's labels, which win. A
// key of the operator's (apps.msvc.dev/*, app.kubernetes.io/name,
// app.kubernetes.io/managed-by) is never taken from spec.pod.labels, even
// one the operator does not set on this template: admission refuses them,
// and the pods' selectors must not depend on admission.
func podLabels(ms *msv1.Microservice, operator map[string]string) map[string]string {
	out := map[string]string{}
	if ms.Spec.Pod != nil {
		for k, v := range ms.Spec.Pod.Labels {
			if !strings.HasPrefix(k, reservedPrefix) && k != LabelName && k != LabelManagedBy {
				out[k] = v
			}
		}
	}
	for k, v := range operator {
		out[k] = v
	}
	return out
}

// podAnnotations are spec.pod.annotations without apps.msvc.dev/* keys, and
// the config hash when the pods read ConfigMaps or Secrets.
func podAnnotations(ms *msv1.Microservice, in PodInputs) map[string]string {
	out := map[string]string{}
	if ms.Spec.Pod != nil {
		for k, v := range ms.Spec.Pod.Annotations {
			if !strings.HasPrefix(k, reservedPrefix) {
				out[k] = v
			}
		}
	}
	if in.ConfigHash != "" {
		out[AnnotationConfigHash] = in.ConfigHash
	}
	return out
}
