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
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
	"github.com/msvc-dev/msvc-operator/internal/graph"
)

func TestScheme(t *testing.T) {
	for _, tc := range []struct {
		name, port, appProtocol string
		protocol                corev1.Protocol
		want                    string
	}{
		{name: "http by appProtocol", port: "web", appProtocol: "http", want: "http"},
		{name: "https", port: "web", appProtocol: "https", want: "https"},
		{name: "grpc", port: "api", appProtocol: "grpc", want: "grpc"},
		{name: "h2c is plain HTTP", port: "api", appProtocol: "kubernetes.io/h2c", want: "http"},
		{name: "websocket", port: "live", appProtocol: "kubernetes.io/ws", want: "ws"},
		{name: "redis", port: "cache", appProtocol: "redis", want: "redis"},
		{name: "postgres", port: "db", appProtocol: "postgres", want: "postgres"},
		{name: "upper case appProtocol", port: "db", appProtocol: "PostgreSQL", want: "postgresql"},
		{name: "plain TCP has no URL", port: "http", appProtocol: "tcp", want: ""},
		{name: "TLS passthrough has no URL", port: "db", appProtocol: "tls", want: ""},
		{name: "a domain-prefixed protocol has no URL", port: "x", appProtocol: "example.com/custom", want: ""},
		{name: "name says http", port: "http", want: "http"},
		{name: "name says grpc", port: "grpc-api", want: "grpc"},
		{name: "name says redis", port: "redis", want: "redis"},
		{name: "name says tcp", port: "tcp-db", want: ""},
		{name: "grpc-web by name", port: "grpc-web", want: "http"},
		{name: "an unknown name on TCP is taken for HTTP", port: "main", want: "http"},
		{name: "an unknown name on UDP has no URL", port: "dns", protocol: corev1.ProtocolUDP, want: ""},
		{name: "appProtocol wins over the name", port: "http", appProtocol: "grpc", want: "grpc"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := msv1.ServicePort{Name: tc.port, Port: 80, Protocol: tc.protocol}
			if tc.appProtocol != "" {
				p.AppProtocol = ptr.To(tc.appProtocol)
			}
			if got := Scheme(p); got != tc.want {
				t.Errorf("Scheme(%s, appProtocol %q) = %q, want %q", tc.port, tc.appProtocol, got, tc.want)
			}
		})
	}
}

func TestURLAndDependencyEnvFollowTheProtocol(t *testing.T) {
	ms := func(ports ...msv1.ServicePort) *msv1.Microservice {
		return &msv1.Microservice{ObjectMeta: metav1.ObjectMeta{Name: "cache", Namespace: "shop"}, Spec: msv1.MicroserviceSpec{Ports: ports}}
	}
	if got := URL(ms()); got != "" {
		t.Errorf("URL without ports = %q, want none", got)
	}
	if got, want := URL(ms(msv1.ServicePort{Name: "redis", Port: 6379})), "redis://cache.shop.svc.cluster.local:6379"; got != want {
		t.Errorf("URL of a redis port = %q, want %q", got, want)
	}
	if got := URL(ms(msv1.ServicePort{Name: "db", Port: 5432, AppProtocol: ptr.To("tcp")})); got != "" {
		t.Errorf("URL of a plain TCP port = %q, want none", got)
	}

	tcp := ResolvedDependency{Key: graph.Key{Namespace: "shop", Name: "ledger-db"}, Found: true, Port: 5432}
	env := map[string]string{}
	for _, e := range DependencyEnv([]ResolvedDependency{tcp}) {
		env[e.Name] = e.Value
	}
	if _, ok := env["LEDGER_DB_URL"]; ok || env["LEDGER_DB_HOST"] != "ledger-db.shop.svc.cluster.local" || env["LEDGER_DB_PORT"] != "5432" {
		t.Errorf("a plain TCP dependency gets host and port and no URL, got %v", env)
	}
	tcp.Dep.Env = &msv1.DependencyEnv{Name: "DB_ADDR", Format: msv1.AddressURL}
	if got := DependencyEnv([]ResolvedDependency{tcp}); len(got) != 1 || got[0].Value != "ledger-db.shop.svc.cluster.local:5432" {
		t.Errorf("format URL of a port without a scheme gives host:port, got %v", got)
	}
	grpc := ResolvedDependency{Key: graph.Key{Namespace: "shop", Name: "ads"}, Found: true, Port: 9555, Scheme: "grpc"}
	if got := DependencyEnv([]ResolvedDependency{grpc}); got[0].Name != "ADS_URL" || got[0].Value != "grpc://ads.shop.svc.cluster.local:9555" {
		t.Errorf("a gRPC dependency's URL, got %v", got)
	}
}
