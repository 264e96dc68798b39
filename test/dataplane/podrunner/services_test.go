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
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func TestServiceTableHasTheReadyEndpointsOfLivePodsOfEachPortUnderEveryName(t *testing.T) {
	svc := func(ns, name string, ports ...corev1.ServicePort) *corev1.Service {
		return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: corev1.ServiceSpec{Ports: ports}}
	}
	slice := func(ns, svcName string, ports []discoveryv1.EndpointPort, eps ...discoveryv1.Endpoint) *discoveryv1.EndpointSlice {
		return &discoveryv1.EndpointSlice{
			ObjectMeta:  metav1.ObjectMeta{Namespace: ns, Name: svcName + "-x", Labels: map[string]string{discoveryv1.LabelServiceName: svcName}},
			AddressType: discoveryv1.AddressTypeIPv4, Ports: ports, Endpoints: eps,
		}
	}
	ready := func(ip string, ok *bool) discoveryv1.Endpoint {
		return discoveryv1.Endpoint{Addresses: []string{ip}, Conditions: discoveryv1.EndpointConditions{Ready: ok},
			TargetRef: &corev1.ObjectReference{Kind: "Pod", Name: "pod-" + ip}}
	}
	// 10.0.0.6's pod is gone and a pod of another Service has its IP.
	live := func(_, pod, ip string) bool { return pod == "pod-"+ip && ip != "10.0.0.6" }
	http := []discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To[int32](8080)}}
	got := serviceTable(
		[]*corev1.Service{
			svc("shop", "ledger", corev1.ServicePort{Name: "http", Port: 80}),
			svc("shop", "ledger-canary", corev1.ServicePort{Name: "http", Port: 80}),
			svc("shop", "dns", corev1.ServicePort{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP}),
		},
		[]*discoveryv1.EndpointSlice{
			slice("shop", "ledger", http, ready("10.0.0.8", ptr.To(true)), ready("10.0.0.7", nil), ready("10.0.0.9", ptr.To(false)), ready("10.0.0.6", ptr.To(true))),
			slice("shop", "ledger", http, ready("10.0.0.7", ptr.To(true))),
			slice("shop", "ledger-canary", http, ready("10.0.0.20", ptr.To(false))),
			slice("other", "ledger", http, ready("10.9.9.9", ptr.To(true))),
		}, live)
	want := map[string][]string{
		"ledger.shop.svc.cluster.local:80": {"10.0.0.7:8080", "10.0.0.8:8080"},
		"ledger.shop.svc:80":               {"10.0.0.7:8080", "10.0.0.8:8080"},
		"ledger.shop:80":                   {"10.0.0.7:8080", "10.0.0.8:8080"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("serviceTable =\n%v\nwant\n%v", got, want)
	}
}

func TestWriteServiceTableWritesOnlyAChange(t *testing.T) {
	path := filepath.Join(t.TempDir(), serviceTableFile)
	table := map[string][]string{"ledger.shop:80": {"10.0.0.7:8080"}}
	for i, want := range []bool{true, false} {
		changed, err := writeServiceTable(path, table)
		if err != nil || changed != want {
			t.Fatalf("write %d: changed %v, %v; want %v", i+1, changed, err, want)
		}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var back map[string][]string
	if err := json.Unmarshal(data, &back); err != nil || !reflect.DeepEqual(back, table) {
		t.Errorf("read back %v (%v), want %v", back, err, table)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("%d files in the folder, want only the table (no temporary file left)", len(entries))
	}
}
