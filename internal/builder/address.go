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
	"regexp"
	"strings"

	corev1 "k8s.io/api/core/v1"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
)

// noURL are the application protocols of ports that have no URL: plain
// transports, whose clients want a host and a port.
var noURL = map[string]bool{"tcp": true, "udp": true, "sctp": true, "tls": true}

// sameAsHTTP are application protocols spoken over plain HTTP.
var sameAsHTTP = map[string]bool{"h2c": true, "http2": true, "grpc-web": true}

// namedProtocols are the protocols a port name may start with when the port
// has no appProtocol (the convention of service meshes: http, http-admin,
// grpc-api, redis, tcp-db).
var namedProtocols = map[string]bool{
	"http": true, "http2": true, "https": true, "h2c": true, "grpc": true, "grpcs": true, "grpc-web": true,
	"ws": true, "wss": true, "redis": true, "mongo": true, "mongodb": true, "mysql": true, "postgres": true,
	"postgresql": true, "amqp": true, "amqps": true, "nats": true, "kafka": true, "memcached": true,
	"tcp": true, "udp": true, "tls": true,
}

// uriScheme is the syntax of a URI scheme (RFC 3986).
var uriScheme = regexp.MustCompile(`^[a-z][a-z0-9+.-]*$`)

// Scheme is the scheme of a port's URL, "" when the port has no URL.
//
//   - appProtocol, when set, decides: https, grpc, redis, postgres and any
//     other protocol name give that scheme (kubernetes.io/ prefixed names
//     included: kubernetes.io/ws gives ws); h2c, http2 and grpc-web give
//     http; tcp, udp, sctp, tls and domain-prefixed names (example.com/foo)
//     give none.
//   - Without appProtocol, the port's name says it when it starts with a
//     known protocol (http, http-admin, grpc-api, redis, tcp-db, ...).
//   - Otherwise a TCP port is taken for HTTP, and a UDP or SCTP port has no URL.
func Scheme(p msv1.ServicePort) string {
	proto := ""
	if p.AppProtocol != nil && *p.AppProtocol != "" {
		proto = strings.TrimPrefix(strings.ToLower(*p.AppProtocol), "kubernetes.io/")
	} else {
		name := p.Name
		if i := strings.IndexByte(name, '-'); i > 0 && !namedProtocols[name] {
			name = name[:i]
		}
		switch {
		case namedProtocols[name]:
			proto = name
		case Protocol(p) == corev1.ProtocolTCP:
			proto = "http"
		}
	}
	switch {
	case proto == "" || noURL[proto] || !uriScheme.MatchString(proto):
		return ""
	case sameAsHTTP[proto]:
		return "http"
	}
	return proto
}

// URL is the in-cluster URL of ms's first port, the address dependents
// get; "" for a service without ports or whose first port has no URL.
func URL(ms *msv1.Microservice) string {
	if len(ms.Spec.Ports) == 0 {
		return ""
	}
	p := ms.Spec.Ports[0]
	r := ResolvedDependency{Key: keyOf(ms), Found: true, Port: p.Port, Scheme: Scheme(p)}
	if r.Scheme == "" {
		return ""
	}
	return r.Address(msv1.AddressURL, false)
}
