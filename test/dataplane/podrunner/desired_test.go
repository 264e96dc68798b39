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

package main

import (
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
)

func TestVersionFromImage(t *testing.T) {
	tests := []struct{ image, want string }{
		{image: "shop/cart:v0.10.2", want: "v0.10.2"},
		{image: "cart", want: "latest"},
		{image: "registry.local:5000/shop/cart", want: "latest"},
		{image: "registry.local:5000/shop/cart:v2-bad", want: "v2-bad"},
		{image: "cart@sha256:0123456789abcdef0123456789abcdef", want: "0123456789ab"},
		{image: "registry.local:5000/cart@sha256:fedcba9876543210", want: "fedcba987654"},
		{image: "cart:v3@sha256:0123456789abcdef", want: "v3"},
		{image: "cart:", want: "latest"},
		{image: "cart@sha256:abc", want: "abc"},
		{image: "", want: "latest"},
	}
	for _, tt := range tests {
		if got := versionFromImage(tt.image); got != tt.want {
			t.Errorf("versionFromImage(%q) = %q, want %q", tt.image, got, tt.want)
		}
	}
}

// testPod is a pod of node kwok-0 with IP 10.0.0.7, serving port 8080 from
// its app container; mutate changes it.
func testPod(name string, mutate ...func(*corev1.Pod)) *corev1.Pod {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: name, UID: types.UID("uid-" + name)},
		Spec: corev1.PodSpec{
			NodeName: "kwok-0",
			Containers: []corev1.Container{{
				Name:  "app",
				Image: "shop/cart:v1",
				Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}},
			}},
		},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.0.0.7"},
	}
	for _, m := range mutate {
		m(pod)
	}
	return pod
}

func onlyKwok0(name string) bool { return name == "kwok-0" }

func TestDesiredProcessesServesEveryLivePodOfAKwokNode(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*corev1.Pod)
		want   bool
	}{
		{name: "running", mutate: func(*corev1.Pod) {}, want: true},
		{name: "pending with an IP, not yet ready", mutate: func(p *corev1.Pod) { p.Status.Phase = corev1.PodPending }, want: true},
		{name: "no IP yet", mutate: func(p *corev1.Pod) { p.Status.PodIP = "" }},
		{name: "terminating", mutate: func(p *corev1.Pod) { p.DeletionTimestamp = &metav1.Time{} }},
		{name: "succeeded", mutate: func(p *corev1.Pod) { p.Status.Phase = corev1.PodSucceeded }},
		{name: "failed", mutate: func(p *corev1.Pod) { p.Status.Phase = corev1.PodFailed }},
		{name: "not scheduled", mutate: func(p *corev1.Pod) { p.Spec.NodeName = "" }},
		{name: "on a real node", mutate: func(p *corev1.Pod) { p.Spec.NodeName = "worker-1" }},
		{name: "host network", mutate: func(p *corev1.Pod) { p.Spec.HostNetwork = true }},
		{name: "no port", mutate: func(p *corev1.Pod) { p.Spec.Containers[0].Ports = nil }},
		{name: "UDP port only", mutate: func(p *corev1.Pod) { p.Spec.Containers[0].Ports[0].Protocol = corev1.ProtocolUDP }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := desiredProcesses([]*corev1.Pod{testPod("cart", tt.mutate)}, onlyKwok0)
			if _, ok := got["uid-cart"]; ok != tt.want {
				t.Errorf("pod has a process: %v, want %v", ok, tt.want)
			}
		})
	}
}

func TestDesiredProcessesListensOnEveryTCPPortOfAppAndSidecars(t *testing.T) {
	pod := testPod("cart", func(p *corev1.Pod) {
		p.Spec.Containers[0].Ports = append(p.Spec.Containers[0].Ports,
			corev1.ContainerPort{Name: "metrics", ContainerPort: 9090, Protocol: corev1.ProtocolTCP},
			corev1.ContainerPort{Name: "dns", ContainerPort: 53, Protocol: corev1.ProtocolUDP})
		p.Spec.Containers[0].Env = []corev1.EnvVar{
			{Name: "TESTAPP_ERROR_RATE", Value: "0.2"},
			{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
			{Name: "EMPTY"},
		}
		p.Spec.Containers = append([]corev1.Container{{
			Name: "proxy", Image: "envoy:v1.30", Ports: []corev1.ContainerPort{{ContainerPort: 15001}, {ContainerPort: 8080}},
			Env: []corev1.EnvVar{{Name: "PROXY_ONLY", Value: "1"}},
		}}, p.Spec.Containers...)
		p.Spec.InitContainers = []corev1.Container{
			{Name: "sidecar", Image: "log:v1", RestartPolicy: ptr.To(corev1.ContainerRestartPolicyAlways),
				Ports: []corev1.ContainerPort{{ContainerPort: 7070}}},
			{Name: "migrate", Image: "migrate:v1", Ports: []corev1.ContainerPort{{ContainerPort: 6060}}},
		}
	})
	got := desiredProcesses([]*corev1.Pod{pod}, onlyKwok0)["uid-cart"]
	want := podProcess{
		Namespace: "shop", Name: "cart", UID: "uid-cart", IP: "10.0.0.7",
		Listen:  []string{"10.0.0.7:7070", "10.0.0.7:8080", "10.0.0.7:9090", "10.0.0.7:15001"},
		Version: "v1",
		Env:     []string{"TESTAPP_ERROR_RATE=0.2", "EMPTY="},
	}
	if !got.equal(want) {
		t.Errorf("desired process =\n%+v, want\n%+v", got, want)
	}
	if env := fmt.Sprint(got.environ()); env != "[TESTAPP_ERROR_RATE=0.2 EMPTY= TESTAPP_LISTEN=10.0.0.7:7070,10.0.0.7:8080,10.0.0.7:9090,10.0.0.7:15001 TESTAPP_VERSION=v1]" {
		t.Errorf("environ = %s", env)
	}
}

func TestDesiredProcessesVersionWithoutAnAppContainer(t *testing.T) {
	pod := testPod("cart", func(p *corev1.Pod) {
		p.Spec.Containers[0].Name = "server"
		p.Spec.Containers[0].Image = "shop/server@sha256:aaaabbbbccccdddd"
	})
	if got := desiredProcesses([]*corev1.Pod{pod}, onlyKwok0)["uid-cart"].Version; got != "aaaabbbbcccc" {
		t.Errorf("version = %q, want the first container's digest, aaaabbbbcccc", got)
	}
}

func TestIsKwokNode(t *testing.T) {
	node := func(annotations map[string]string) *corev1.Node {
		return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n", Annotations: annotations}}
	}
	if !isKwokNode(node(map[string]string{kwokNodeAnnotation: "fake"})) {
		t.Error("a node annotated kwok.x-k8s.io/node: fake is kwok's")
	}
	for _, n := range []*corev1.Node{nil, node(nil), node(map[string]string{kwokNodeAnnotation: "real"})} {
		if isKwokNode(n) {
			t.Errorf("isKwokNode(%v) = true", n)
		}
	}
}
