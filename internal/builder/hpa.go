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
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	autoscalingv2ac "k8s.io/client-go/applyconfigurations/autoscaling/v2"
	"k8s.io/utils/ptr"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
)

// HPAName is the name of the HorizontalPodAutoscaler of ms.
func HPAName(ms *msv1.Microservice) string { return ms.Name }

// HorizontalPodAutoscaler is the desired autoscaler of ms, or nil when ms
// does not autoscale.
func HorizontalPodAutoscaler(ms *msv1.Microservice) *autoscalingv2ac.HorizontalPodAutoscalerApplyConfiguration {
	a := ms.Spec.Autoscaling
	if a == nil {
		return nil
	}
	spec := autoscalingv2ac.HorizontalPodAutoscalerSpec().
		WithScaleTargetRef(autoscalingv2ac.CrossVersionObjectReference().
			WithAPIVersion("apps/v1").
			WithKind("Deployment").
			WithName(DeploymentName(ms))).
		WithMinReplicas(ptr.Deref(a.MinReplicas, 1)).
		WithMaxReplicas(a.MaxReplicas)
	if a.TargetCPUUtilizationPercentage != nil {
		spec.WithMetrics(resourceMetric(corev1.ResourceCPU, *a.TargetCPUUtilizationPercentage))
	}
	if a.TargetMemoryUtilizationPercentage != nil {
		spec.WithMetrics(resourceMetric(corev1.ResourceMemory, *a.TargetMemoryUtilizationPercentage))
	}
	return autoscalingv2ac.HorizontalPodAutoscaler(HPAName(ms), ms.Namespace).
		WithLabels(CommonLabels(ms)).
		WithOwnerReferences(OwnerReference(ms)).
		WithSpec(spec)
}

func resourceMetric(name corev1.ResourceName, utilization int32) *autoscalingv2ac.MetricSpecApplyConfiguration {
	return autoscalingv2ac.MetricSpec().
		WithType(autoscalingv2.ResourceMetricSourceType).
		WithResource(autoscalingv2ac.ResourceMetricSource().
			WithName(name).
			WithTarget(autoscalingv2ac.MetricTarget().
				WithType(autoscalingv2.UtilizationMetricType).
				WithAverageUtilization(utilization)))
}
