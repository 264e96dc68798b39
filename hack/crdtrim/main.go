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

// Command crdtrim removes the descriptions that controller-gen copies from
// Kubernetes' own types (containers, volumes, affinity, probes, security
// contexts, ...) into the Microservice CRD, below the field that embeds them.
// The field itself keeps its description, and `kubectl explain pod.spec`
// documents the rest. Without it the CRD's JSON exceeds the 256 KiB that a
// client-side `kubectl apply` (and Argo CD's default sync) can store in the
// last-applied-configuration annotation.
//
// Usage: go run ./hack/crdtrim FILE (rewrites FILE in place)
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/yaml"
)

// embedded are the schema paths below spec whose type is Kubernetes' own.
var embedded = []string{
	"env", "envFrom", "resources", "probes.readiness", "probes.liveness", "probes.startup",
	"podSecurityContext", "securityContext", "volumeMounts", "lifecycle",
	"pod.volumes", "pod.initContainers", "pod.sidecars", "pod.imagePullSecrets", "pod.tolerations",
	"pod.affinity", "pod.topologySpreadConstraints", "pod.hostAliases", "pod.dnsConfig",
}

// limit is what the last-applied-configuration annotation can hold.
const limit = 256 * 1024

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: crdtrim FILE")
		os.Exit(2)
	}
	if err := trim(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "crdtrim:", err)
		os.Exit(1)
	}
}

func trim(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	crd := &apiextensionsv1.CustomResourceDefinition{}
	if err := yaml.UnmarshalStrict(data, crd); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	for i := range crd.Spec.Versions {
		v := &crd.Spec.Versions[i]
		if v.Schema == nil || v.Schema.OpenAPIV3Schema == nil {
			continue
		}
		spec, ok := v.Schema.OpenAPIV3Schema.Properties["spec"]
		if !ok {
			return fmt.Errorf("%s: version %s has no spec", path, v.Name)
		}
		for _, p := range embedded {
			field, err := lookup(&spec, strings.Split(p, "."))
			if err != nil {
				return fmt.Errorf("%s: spec.%s: %w", path, p, err)
			}
			stripBelow(field)
		}
		v.Schema.OpenAPIV3Schema.Properties["spec"] = spec
	}
	compact, err := json.Marshal(crd)
	if err != nil {
		return err
	}
	// What controller-gen leaves out, the typed object adds back empty.
	var obj map[string]any
	if err := json.Unmarshal(compact, &obj); err != nil {
		return err
	}
	delete(obj, "status")
	if meta, ok := obj["metadata"].(map[string]any); ok {
		delete(meta, "creationTimestamp")
	}
	if compact, err = json.Marshal(obj); err != nil {
		return err
	}
	out, err := yaml.JSONToYAML(compact)
	if err != nil {
		return err
	}
	if len(compact) > limit {
		return fmt.Errorf("%s is %d bytes as JSON, more than the %d a client-side apply can record: trim more", path, len(compact), limit)
	}
	// controller-gen writes a document separator first; keep it.
	return os.WriteFile(path, append([]byte("---\n"), out...), 0o644)
}

func lookup(s *apiextensionsv1.JSONSchemaProps, path []string) (*apiextensionsv1.JSONSchemaProps, error) {
	if len(path) == 0 {
		return s, nil
	}
	child, ok := s.Properties[path[0]]
	if !ok {
		return nil, fmt.Errorf("no property %q", path[0])
	}
	field, err := lookup(&child, path[1:])
	s.Properties[path[0]] = child
	return field, err
}

// stripBelow removes every description below s, keeping s's own.
func stripBelow(s *apiextensionsv1.JSONSchemaProps) {
	for k, p := range s.Properties {
		strip(&p)
		s.Properties[k] = p
	}
	if s.Items != nil && s.Items.Schema != nil {
		strip(s.Items.Schema)
	}
	if s.AdditionalProperties != nil && s.AdditionalProperties.Schema != nil {
		strip(s.AdditionalProperties.Schema)
	}
}

func strip(s *apiextensionsv1.JSONSchemaProps) {
	s.Description = ""
	stripBelow(s)
}
