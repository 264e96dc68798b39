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

package traffic

import (
	"context"

	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
	"github.com/msvc-dev/msvc-operator/internal/ssa"
)

// Deps are what every router is built from.
type Deps struct {
	Client client.Client
	// Reader reads without the cache, for objects outside the namespaces
	// the manager watches.
	Reader  client.Reader
	Mapper  apimeta.RESTMapper
	Applier *ssa.Applier
	// Watch starts watching the objects of obj's kind that Microservices
	// control, for a router whose kind may be installed after the manager
	// started; each router calls it once, when it first finds its kind.
	Watch func(obj client.Object) error
	// Serves asks the API server's discovery whether it serves the
	// resource (plural name) of groupVersion now.
	Serves func(ctx context.Context, groupVersion, resource string) (bool, error)
}

// kinds are the routers a Microservice can name in trafficRouting, each
// with the values it serves (one router may serve several). A new router is
// one entry here, a value of msv1.TrafficRoutingType, its own file and its
// tests.
var kinds = []struct {
	serves []msv1.TrafficRoutingType
	make   func(Deps) Router
}{
	{[]msv1.TrafficRoutingType{msv1.GatewayAPITrafficRouting, msv1.MeshTrafficRouting}, NewGatewayAPI},
}

// Factory holds one router of each kind and picks the one of each
// Microservice.
type Factory struct {
	routers map[msv1.TrafficRoutingType]Router
	all     []Router
}

// NewFactory builds every router from deps.
func NewFactory(deps Deps) *Factory {
	f := &Factory{routers: map[msv1.TrafficRoutingType]Router{}}
	for _, k := range kinds {
		r := k.make(deps)
		f.all = append(f.all, r)
		for _, t := range k.serves {
			f.routers[t] = r
		}
	}
	return f
}

// RoutingOf is the trafficRouting of ms's canary, GatewayAPI when it says
// none (or has no canary: its route is the Gateway API's).
func RoutingOf(ms *msv1.Microservice) msv1.TrafficRoutingType {
	if r := ms.Spec.Rollout; r != nil && r.Canary != nil && r.Canary.TrafficRouting != "" {
		return r.Canary.TrafficRouting
	}
	return msv1.GatewayAPITrafficRouting
}

// For is the router of ms. Admission allows only the values of kinds, so a
// value without a router falls back to the Gateway API's.
func (f *Factory) For(ms *msv1.Microservice) Router {
	if r, ok := f.routers[RoutingOf(ms)]; ok {
		return r
	}
	return f.routers[msv1.GatewayAPITrafficRouting]
}

// Others are the routers that are not ms's: each removes what it made for
// ms when ms moved to another router.
func (f *Factory) Others(ms *msv1.Microservice) []Router {
	mine := f.For(ms)
	var out []Router
	for _, r := range f.all {
		if r != mine {
			out = append(out, r)
		}
	}
	return out
}

// All are the routers, one of each kind.
func (f *Factory) All() []Router { return f.all }
