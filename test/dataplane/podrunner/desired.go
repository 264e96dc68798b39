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
	"net"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

const (
	// kwokNodeAnnotation marks the nodes kwok plays: their pods run no
	// containers, so the pod runner serves in their place.
	kwokNodeAnnotation = "kwok.x-k8s.io/node"
	kwokNodeValue      = "fake"
	// appContainer is the name the operator gives the service's own
	// container; its image tag is the version the testapp reports.
	appContainer = "app"
)

// podProcess is the testapp process one pod should have. Two pods with the
// same podProcess are served the same way.
type podProcess struct {
	Namespace, Name string
	UID             types.UID
	IP              string
	// Listen is every ip:port the process serves, in order.
	Listen  []string
	Version string
	// Env is the app container's literal environment, as NAME=value.
	Env []string
}

func (p podProcess) key() string { return p.Namespace + "/" + p.Name }

func (p podProcess) equal(o podProcess) bool {
	return p.Namespace == o.Namespace && p.Name == o.Name && p.UID == o.UID && p.IP == o.IP &&
		p.Version == o.Version && slices.Equal(p.Listen, o.Listen) && slices.Equal(p.Env, o.Env)
}

// environ is the process's environment: the pod's literal values, then what
// the testapp must serve.
func (p podProcess) environ() []string {
	env := slices.Clone(p.Env)
	return append(env, "TESTAPP_LISTEN="+strings.Join(p.Listen, ","), "TESTAPP_VERSION="+p.Version)
}

// isKwokNode reports whether node is one of kwok's fake nodes.
func isKwokNode(node *corev1.Node) bool {
	return node != nil && node.Annotations[kwokNodeAnnotation] == kwokNodeValue
}

// desiredProcesses returns, by pod UID, the process each pod should have. A
// pod has one as soon as it has an IP, on a kwok node, and until it is
// terminating or finished: the Gateway may route to it the moment kwok
// marks it Ready, so the process does not wait for that. Pods with host
// networking (whose IP is the node's) and pods without a TCP port have none.
func desiredProcesses(pods []*corev1.Pod, onKwokNode func(nodeName string) bool) map[types.UID]podProcess {
	desired := map[types.UID]podProcess{}
	for _, pod := range pods {
		if pod.DeletionTimestamp != nil || pod.Status.PodIP == "" || pod.Spec.HostNetwork ||
			pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed ||
			pod.Spec.NodeName == "" || !onKwokNode(pod.Spec.NodeName) {
			continue
		}
		ports := tcpPorts(pod)
		if len(ports) == 0 {
			continue
		}
		p := podProcess{Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID, IP: pod.Status.PodIP}
		for _, port := range ports {
			p.Listen = append(p.Listen, net.JoinHostPort(p.IP, strconv.Itoa(int(port))))
		}
		if app := appContainerOf(pod); app != nil {
			p.Version = versionFromImage(app.Image)
			for _, e := range app.Env {
				if e.ValueFrom == nil {
					p.Env = append(p.Env, e.Name+"="+e.Value)
				}
			}
		}
		desired[pod.UID] = p
	}
	return desired
}

// tcpPorts lists, sorted and once each, the TCP container ports of the
// containers that run for the pod's life: the app containers and the
// sidecars (init containers that restart always).
func tcpPorts(pod *corev1.Pod) []int32 {
	var ports []int32
	add := func(c corev1.Container) {
		for _, p := range c.Ports {
			if (p.Protocol == "" || p.Protocol == corev1.ProtocolTCP) && p.ContainerPort > 0 {
				ports = append(ports, p.ContainerPort)
			}
		}
	}
	for _, c := range pod.Spec.InitContainers {
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			add(c)
		}
	}
	for _, c := range pod.Spec.Containers {
		add(c)
	}
	slices.Sort(ports)
	return slices.Compact(ports)
}

// appContainerOf returns the container named app, or else the first one.
func appContainerOf(pod *corev1.Pod) *corev1.Container {
	for i := range pod.Spec.Containers {
		if pod.Spec.Containers[i].Name == appContainer {
			return &pod.Spec.Containers[i]
		}
	}
	if len(pod.Spec.Containers) > 0 {
		return &pod.Spec.Containers[0]
	}
	return nil
}

// versionFromImage is the version an image reference names: its tag, else
// the first 12 hex digits of its digest, else "latest". A colon before the
// last slash belongs to a registry's port, not a tag.
func versionFromImage(image string) string {
	name, digest, _ := strings.Cut(image, "@")
	if i := strings.LastIndex(name, ":"); i > strings.LastIndex(name, "/") && i < len(name)-1 {
		return name[i+1:]
	}
	if digest != "" {
		_, hex, found := strings.Cut(digest, ":")
		if !found {
			hex = digest
		}
		return hex[:min(12, len(hex))]
	}
	return "latest"
}
