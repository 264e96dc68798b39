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

package kubectlmsvc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
	"github.com/msvc-dev/msvc-operator/internal/builder"
)

// SetImage sets spec.image of the Microservice, which starts its rollout. A
// Microservice that Git holds should get its image there instead: a sync
// would put the old one back.
func SetImage(ctx context.Context, c client.Client, ns, name, image string) error {
	if strings.TrimSpace(image) == "" {
		return errors.New("set image needs an image, for example ghcr.io/acme/checkout:2.0.0")
	}
	ms := &msv1.Microservice{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, ms); err != nil {
		return fmt.Errorf("getting Microservice %s/%s: %w", ns, name, err)
	}
	base := ms.DeepCopy()
	ms.Spec.Image = image
	if err := c.Patch(ctx, ms, client.MergeFrom(base)); err != nil {
		return fmt.Errorf("setting the image of Microservice %s/%s: %w", ns, name, err)
	}
	return nil
}

// ReadMicroservices decodes the Microservices of a YAML stream (documents
// separated by ---); other kinds are skipped. Those without a namespace get ns.
func ReadMicroservices(r io.Reader, ns string) ([]*msv1.Microservice, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var out []*msv1.Microservice
	for i := 1; ; i++ {
		ms := &msv1.Microservice{}
		if err := dec.Decode(ms); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return nil, fmt.Errorf("document %d: %w", i, err)
		}
		if ms.Kind != "Microservice" || ms.APIVersion != msv1.GroupVersion.String() {
			continue
		}
		if ms.Namespace == "" {
			ms.Namespace = ns
		}
		out = append(out, ms)
	}
}

// LiveOf reads what Plan compares ms with; nil when ms is not in the cluster.
func LiveOf(ctx context.Context, c client.Client, ms *msv1.Microservice) (*Live, error) {
	live := &msv1.Microservice{}
	err := c.Get(ctx, client.ObjectKeyFromObject(ms), live)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("getting Microservice %s/%s: %w", ms.Namespace, ms.Name, err)
	}
	l := &Live{Microservice: live, StableReplicas: ptr.Deref(ms.Spec.Replicas, 1)}
	d := &appsv1.Deployment{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: ms.Namespace, Name: builder.DeploymentName(ms)}, d); err == nil {
		l.StableReplicas = ptr.Deref(d.Spec.Replicas, 1)
	}
	return l, nil
}
