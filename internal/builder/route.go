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
	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
)

// HTTPRouteName is the name of the HTTPRoute of ms.
func HTTPRouteName(ms *msv1.Microservice) string { return ms.Name }

// RoutePort is the entry of spec.ports that a route sends traffic to: the
// one named by spec.route.port, or the first.
func RoutePort(ms *msv1.Microservice) (msv1.ServicePort, bool) {
	if len(ms.Spec.Ports) == 0 {
		return msv1.ServicePort{}, false
	}
	if ms.Spec.Route != nil && ms.Spec.Route.Port != "" {
		for _, p := range ms.Spec.Ports {
			if p.Name == ms.Spec.Route.Port {
				return p, true
			}
		}
		return msv1.ServicePort{}, false
	}
	return ms.Spec.Ports[0], true
}

// MeshRouteName is the name of the GAMMA HTTPRoute of ms.
func MeshRouteName(ms *msv1.Microservice) string { return ms.Name + "-mesh" }

// IsMeshRouted is true when ms asks for its east-west traffic to follow the
// canary's weights through a GAMMA HTTPRoute.
func IsMeshRouted(ms *msv1.Microservice) bool {
	return IsCanary(ms) && ms.Spec.Rollout.Canary.TrafficRouting == msv1.MeshTrafficRouting && len(ms.Spec.Ports) > 0
}
