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
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
)

// ServiceName is the name of the Service that gives ms its stable address.
func ServiceName(ms *msv1.Microservice) string { return ms.Name }

// Service is the desired ClusterIP Service of ms, the address its dependents
// call, and sends each port to the container port of the same name. It
// selects every pod of the service, or only the stable track's when
// stableOnly: while a route weighs the tracks, in-cluster callers must not
// reach a canary by pod count before any analysis has passed it.
func Service(ms *msv1.Microservice, stableOnly bool) *corev1ac.ServiceApplyConfiguration {
	selector := ServiceSelector(ms)
	if stableOnly {
		selector[LabelTrack] = TrackStable
	}
	spec := corev1ac.ServiceSpec().
		WithType(corev1.ServiceTypeClusterIP).
		WithSelector(selector)
	for _, p := range ServicePorts(ms) {
		spec.WithPorts(convert[corev1ac.ServicePortApplyConfiguration](p))
	}
	return corev1ac.Service(ServiceName(ms), ms.Namespace).
		WithLabels(CommonLabels(ms)).
		WithOwnerReferences(OwnerReference(ms)).
		WithSpec(spec)
}

// ServicePorts are the ports of ms's Service. Each sends traffic to the
// container port of the same name.
func ServicePorts(ms *msv1.Microservice) []corev1.ServicePort {
	ports := make([]corev1.ServicePort, 0, len(ms.Spec.Ports))
	for _, p := range ms.Spec.Ports {
		ports = append(ports, corev1.ServicePort{
			Name:        p.Name,
			Port:        p.Port,
			TargetPort:  intstr.FromString(p.Name),
			Protocol:    Protocol(p),
			AppProtocol: p.AppProtocol,
		})
	}
	return ports
}
