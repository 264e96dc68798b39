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
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
)

func TestConfigRefsOfEveryContainerAndVolume(t *testing.T) {
	ref := func(name string) corev1.LocalObjectReference { return corev1.LocalObjectReference{Name: name} }
	for _, tc := range []struct {
		name string
		pod  msv1.PodOptions
		want string
	}{
		{name: "an init container's env",
			pod: msv1.PodOptions{InitContainers: []corev1.Container{{Name: "migrate", Env: []corev1.EnvVar{{Name: "DSN",
				ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: ref("db"), Key: "dsn"}}}}}}},
			want: "[Secret/db]"},
		{name: "a sidecar's envFrom",
			pod:  msv1.PodOptions{Sidecars: []corev1.Container{{Name: "proxy", EnvFrom: []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: ref("proxy")}}}}}},
			want: "[ConfigMap/proxy]"},
		{name: "configMap and secret volumes",
			pod: msv1.PodOptions{Volumes: []corev1.Volume{
				{Name: "a", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: ref("settings")}}},
				{Name: "b", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "tls"}}},
				{Name: "c", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
			}},
			want: "[ConfigMap/settings Secret/tls]"},
		{name: "a projected volume",
			pod: msv1.PodOptions{Volumes: []corev1.Volume{{Name: "p", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
				{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: ref("ca")}},
				{Secret: &corev1.SecretProjection{LocalObjectReference: ref("token")}},
				{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "t"}},
			}}}}}},
			want: "[ConfigMap/ca Secret/token]"},
		{name: "the same Secret twice",
			pod: msv1.PodOptions{
				Volumes:  []corev1.Volume{{Name: "b", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "db"}}}},
				Sidecars: []corev1.Container{{Name: "x", EnvFrom: []corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: ref("db")}}}}},
			},
			want: "[Secret/db]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ms := base()
			ms.Spec.Pod = &tc.pod
			var got []string
			for _, r := range ConfigRefs(ms) {
				got = append(got, r.String())
			}
			if fmt.Sprint(got) != tc.want {
				t.Errorf("ConfigRefs = %v, want %s", got, tc.want)
			}
		})
	}
}
