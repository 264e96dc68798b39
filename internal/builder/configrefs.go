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
	"sort"

	corev1 "k8s.io/api/core/v1"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
)

// ConfigRef names a ConfigMap or Secret that the pods of a Microservice read.
type ConfigRef struct {
	Kind string // "ConfigMap" or "Secret"
	Name string
}

// String is the form used in the field index: "ConfigMap/name".
func (r ConfigRef) String() string { return r.Kind + "/" + r.Name }

// ConfigRefs lists, sorted and without duplicates, the ConfigMaps and
// Secrets that ms's pods read: through the env and envFrom of every
// container (the service's own, init containers and sidecars) and through
// configMap, secret and projected volumes. A change to any of them is a new
// revision: a service that reads its configuration at start-up (most do,
// from env or from mounted files) sees it only in new pods.
func ConfigRefs(ms *msv1.Microservice) []ConfigRef {
	seen := map[ConfigRef]bool{}
	add := func(kind, name string) {
		if name != "" {
			seen[ConfigRef{Kind: kind, Name: name}] = true
		}
	}
	addEnv := func(env []corev1.EnvVar, envFrom []corev1.EnvFromSource) {
		for _, e := range env {
			if e.ValueFrom == nil {
				continue
			}
			if r := e.ValueFrom.ConfigMapKeyRef; r != nil {
				add("ConfigMap", r.Name)
			}
			if r := e.ValueFrom.SecretKeyRef; r != nil {
				add("Secret", r.Name)
			}
		}
		for _, e := range envFrom {
			if e.ConfigMapRef != nil {
				add("ConfigMap", e.ConfigMapRef.Name)
			}
			if e.SecretRef != nil {
				add("Secret", e.SecretRef.Name)
			}
		}
	}
	addEnv(ms.Spec.Env, ms.Spec.EnvFrom)
	if pod := ms.Spec.Pod; pod != nil {
		for _, c := range append(append([]corev1.Container{}, pod.InitContainers...), pod.Sidecars...) {
			addEnv(c.Env, c.EnvFrom)
		}
		for _, v := range pod.Volumes {
			switch {
			case v.ConfigMap != nil:
				add("ConfigMap", v.ConfigMap.Name)
			case v.Secret != nil:
				add("Secret", v.Secret.SecretName)
			case v.Projected != nil:
				for _, src := range v.Projected.Sources {
					if src.ConfigMap != nil {
						add("ConfigMap", src.ConfigMap.Name)
					}
					if src.Secret != nil {
						add("Secret", src.Secret.Name)
					}
				}
			}
		}
	}
	refs := make([]ConfigRef, 0, len(seen))
	for r := range seen {
		refs = append(refs, r)
	}
	sort.Slice(refs, func(i, j int) bool { return refs[i].String() < refs[j].String() })
	return refs
}
