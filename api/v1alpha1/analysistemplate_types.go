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
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// AnalysisTemplateSpec is an analysis that Microservices of its namespace
// share by name, with arguments.
type AnalysisTemplateSpec struct {
	// args are the values the template's queries may use as
	// {{ .Args.<name> }}: each Microservice that uses the template gives
	// them, or the value here is the default. An argument without a value
	// must be given by every Microservice.
	// +kubebuilder:validation:MaxItems=16
	// +listType=map
	// +listMapKey=name
	// +optional
	Args []AnalysisArg `json:"args,omitempty"`

	// analysis is the analysis itself, as spec.rollout.canary.analysis of a
	// Microservice writes it.
	// +required
	Analysis Analysis `json:"analysis"`
}

// AnalysisArg is one argument of an analysis template.
type AnalysisArg struct {
	// name is how queries refer to it: {{ .Args.<name> }}.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[A-Za-z][A-Za-z0-9_]*$`
	// +required
	Name string `json:"name"`

	// value is the argument's value (in a template, its default).
	// +kubebuilder:validation:MaxLength=1024
	// +optional
	Value *string `json:"value,omitempty"`
}

// AnalysisTemplateRef names an AnalysisTemplate of the Microservice's
// namespace and gives its arguments.
type AnalysisTemplateRef struct {
	// name is the AnalysisTemplate's name.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +required
	Name string `json:"name"`

	// args give the template's arguments their values for this Microservice.
	// +kubebuilder:validation:MaxItems=16
	// +listType=map
	// +listMapKey=name
	// +optional
	Args []AnalysisArg `json:"args,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:resource:shortName=at,categories=msvc
// +kubebuilder:printcolumn:name="Metrics",type=integer,JSONPath=`.spec.analysis.metrics[*].name`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// AnalysisTemplate is a canary analysis that many Microservices use by
// name (spec.rollout.canary.analysisTemplate), so that a platform team
// writes its metrics and thresholds once.
type AnalysisTemplate struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the object's metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the analysis and its arguments.
	// +required
	Spec AnalysisTemplateSpec `json:"spec"`
}

// +kubebuilder:object:root=true

// AnalysisTemplateList is a list of AnalysisTemplates.
type AnalysisTemplateList struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the list's metadata.
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`
	// items are the AnalysisTemplates.
	Items []AnalysisTemplate `json:"items"`
}
