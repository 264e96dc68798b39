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
	"bytes"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

// serviceTableFile is the name of the service table in the log folder.
const serviceTableFile = "services.json"

// serviceTable maps each port of each Service, under the names a pod's DNS
// would resolve ("name.namespace.svc.cluster.local:80", "name.namespace.svc:80",
// "name.namespace:80"), to the ready endpoints of its EndpointSlices
// ("10.0.0.7:8080"): the local cluster has neither DNS nor kube-proxy, so
// the testapps look their dependencies up in it.
//
// An endpoint counts only while the pod it names still has its IP and is not
// terminating (live, from the pod cache): kwok gives a new pod the IP of one
// that just went, before the EndpointSlice controller has dropped the old
// endpoint, and a call must not reach the new pod as the old Service.
func serviceTable(services []*corev1.Service, endpointSlices []*discoveryv1.EndpointSlice, live func(namespace, pod, ip string) bool) map[string][]string {
	type key struct{ namespace, service string }
	slicesOf := map[key][]*discoveryv1.EndpointSlice{}
	for _, s := range endpointSlices {
		if name := s.Labels[discoveryv1.LabelServiceName]; name != "" && s.AddressType != discoveryv1.AddressTypeFQDN {
			k := key{s.Namespace, name}
			slicesOf[k] = append(slicesOf[k], s)
		}
	}
	table := map[string][]string{}
	for _, svc := range services {
		for _, port := range svc.Spec.Ports {
			if port.Protocol != "" && port.Protocol != corev1.ProtocolTCP {
				continue
			}
			var eps []string
			for _, s := range slicesOf[key{svc.Namespace, svc.Name}] {
				target := int32(0)
				for _, p := range s.Ports {
					if p.Port != nil && p.Name != nil && *p.Name == port.Name {
						target = *p.Port
					}
				}
				if target == 0 {
					continue
				}
				for _, e := range s.Endpoints {
					if e.Conditions.Ready != nil && !*e.Conditions.Ready || len(e.Addresses) == 0 {
						continue
					}
					if r := e.TargetRef; r != nil && r.Kind == "Pod" && !live(s.Namespace, r.Name, e.Addresses[0]) {
						continue
					}
					eps = append(eps, net.JoinHostPort(e.Addresses[0], strconv.Itoa(int(target))))
				}
			}
			if len(eps) == 0 {
				continue
			}
			slices.Sort(eps)
			eps = slices.Compact(eps)
			p := strconv.Itoa(int(port.Port))
			for _, host := range []string{svc.Name + "." + svc.Namespace + ".svc.cluster.local", svc.Name + "." + svc.Namespace + ".svc", svc.Name + "." + svc.Namespace} {
				table[net.JoinHostPort(host, p)] = eps
			}
		}
	}
	return table
}

// writeServiceTable writes table to path when it changed, through a
// rename, so that a testapp never reads half a file.
func writeServiceTable(path string, table map[string][]string) (bool, error) {
	data, err := json.MarshalIndent(table, "", " ")
	if err != nil {
		return false, err
	}
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, data) {
		return false, nil
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".services-*.json")
	if err != nil {
		return false, err
	}
	if _, err := tmp.Write(data); err != nil {
		_ = tmp.Close()
		_ = os.Remove(tmp.Name())
		return false, err
	}
	if err := tmp.Close(); err != nil {
		_ = os.Remove(tmp.Name())
		return false, err
	}
	return true, os.Rename(tmp.Name(), path)
}
