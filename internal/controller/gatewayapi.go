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

package controller

import (
	"context"
	"fmt"
	"sync"
	"time"

	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/source"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
)

// httpRouteGK is the kind whose presence decides whether routes can be made.
var httpRouteGK = schema.GroupKind{Group: gwv1.GroupName, Kind: "HTTPRoute"}

// gatewayAPINegativeTTL is how long "not served" is believed before
// discovery is asked again.
const gatewayAPINegativeTTL = 30 * time.Second

// gatewayAPI knows whether the cluster serves HTTPRoutes, and starts the
// HTTPRoute watch the first time it finds that it does. The Gateway API is an
// optional dependency: the operator starts and manages every other child
// without it.
type gatewayAPI struct {
	mgr      ctrl.Manager
	ctrl     controller.Controller
	onDelete func(client.Object)

	mu          sync.Mutex
	watching    bool
	lastMissing time.Time
}

func newGatewayAPI(mgr ctrl.Manager, c controller.Controller, onDelete func(client.Object)) *gatewayAPI {
	return &gatewayAPI{mgr: mgr, ctrl: c, onDelete: onDelete}
}

// served reports whether gateway.networking.k8s.io/v1 HTTPRoute is served,
// and makes sure HTTPRoutes are watched once it is.
func (g *gatewayAPI) served(ctx context.Context) (bool, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.watching {
		return true, nil
	}
	if !g.lastMissing.IsZero() && time.Since(g.lastMissing) < gatewayAPINegativeTTL {
		return false, nil
	}
	_, err := g.mgr.GetRESTMapper().RESTMapping(httpRouteGK, gwv1.GroupVersion.Version)
	if apimeta.IsNoMatchError(err) {
		g.lastMissing = time.Now()
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("discovering %s: %w", httpRouteGK, err)
	}
	logf.FromContext(ctx).Info("Gateway API found; watching HTTPRoutes")
	forget := predicate.Funcs{DeleteFunc: func(e event.DeleteEvent) bool { g.onDelete(e.Object); return true }}
	src := source.Kind(g.mgr.GetCache(), client.Object(&gwv1.HTTPRoute{}),
		handler.EnqueueRequestForOwner(g.mgr.GetScheme(), g.mgr.GetRESTMapper(), &msv1.Microservice{}, handler.OnlyControllerOwner()),
		forget)
	if err := g.ctrl.Watch(src); err != nil {
		return false, fmt.Errorf("watching HTTPRoutes: %w", err)
	}
	g.watching = true
	return true, nil
}

// watchIfServed starts the HTTPRoute watch at setup when the Gateway API is
// already installed, so that it starts together with the other watches.
func (g *gatewayAPI) watchIfServed(ctx context.Context) error {
	_, err := g.served(ctx)
	return err
}
