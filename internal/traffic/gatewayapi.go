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
	"fmt"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
	gwv1ac "sigs.k8s.io/gateway-api/applyconfiguration/apis/v1"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
	"github.com/msvc-dev/msvc-operator/internal/builder"
	"github.com/msvc-dev/msvc-operator/internal/ssa"
)

// Reasons of an Acceptance, shared with the Microservice's RouteAccepted condition.
const (
	ReasonAccepted    = msv1.ReasonSucceeded
	ReasonPending     = msv1.ReasonRoutePending
	ReasonNotAccepted = msv1.ReasonRouteNotAccepted
)

// httpRouteGK is the kind whose presence decides whether routes can be made.
var httpRouteGK = schema.GroupKind{Group: gwv1.GroupName, Kind: "HTTPRoute"}

// gatewayAPINegativeTTL is how long "not installed" is believed before
// discovery is asked again.
const gatewayAPINegativeTTL = 30 * time.Second

// GatewayAPI routes through a Gateway API HTTPRoute whose backendRefs carry
// the weights. The Gateway API is optional: Available is false until its
// CRDs are installed, and the HTTPRoute watch starts the first time they are.
type GatewayAPI struct {
	Client  client.Client
	Mapper  apimeta.RESTMapper
	Applier *ssa.Applier
	// StartWatch starts watching HTTPRoutes; called once, when the Gateway
	// API is first found.
	StartWatch func() error
	// Discover asks the API server whether it serves HTTPRoutes now. The
	// RESTMapper remembers a kind that was removed, so only discovery tells
	// that the Gateway API went away or came back. Nil: the Mapper decides,
	// and a removal goes unnoticed.
	Discover func(ctx context.Context) (bool, error)

	mu       sync.Mutex
	watching bool
	// missing is true once the Gateway API was found not installed, until
	// it is found again; lastMissing is when.
	missing     bool
	lastMissing time.Time
}

var _ Router = &GatewayAPI{}

// Name implements Router.
func (g *GatewayAPI) Name() string { return "GatewayAPI" }

// Available implements Router.
func (g *GatewayAPI) Available(ctx context.Context) (bool, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.watching && !g.missing {
		return true, nil
	}
	if g.missing && time.Since(g.lastMissing) < gatewayAPINegativeTTL {
		return false, nil
	}
	found, err := g.discover(ctx)
	if err != nil {
		return false, err
	}
	if !found {
		g.missing, g.lastMissing = true, time.Now()
		return false, nil
	}
	g.missing = false
	if g.watching {
		logf.FromContext(ctx).Info("Gateway API is back")
		return true, nil
	}
	logf.FromContext(ctx).Info("Gateway API found; watching HTTPRoutes")
	if g.StartWatch != nil {
		if err := g.StartWatch(); err != nil {
			return false, fmt.Errorf("watching HTTPRoutes: %w", err)
		}
	}
	g.watching = true
	return true, nil
}

func (g *GatewayAPI) discover(ctx context.Context) (bool, error) {
	if g.Discover != nil {
		found, err := g.Discover(ctx)
		if err != nil {
			return false, fmt.Errorf("discovering %s: %w", httpRouteGK, err)
		}
		return found, nil
	}
	_, err := g.Mapper.RESTMapping(httpRouteGK, gwv1.GroupVersion.Version)
	if apimeta.IsNoMatchError(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("discovering %s: %w", httpRouteGK, err)
	}
	return true, nil
}

// gone is called when a request for an HTTPRoute failed with NotFound or
// NoMatch: if discovery agrees that the Gateway API is gone, Available
// reports false from now on and gone returns ErrNotInstalled.
func (g *GatewayAPI) gone(ctx context.Context, err error) error {
	if !apierrors.IsNotFound(err) && !apimeta.IsNoMatchError(err) || g.Discover == nil {
		return err
	}
	found, derr := g.Discover(ctx)
	if derr != nil || found {
		return err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.missing {
		logf.FromContext(ctx).Info("Gateway API removed from the cluster; routes are reported, not applied, until it is back")
	}
	g.missing, g.lastMissing = true, time.Now()
	return ErrNotInstalled
}

// Apply implements Router. It applies the HTTPRoute of spec.route and, with
// trafficRouting: Mesh, the GAMMA HTTPRoute of the Service, and deletes the
// one of them the spec does not ask for. The Acceptance is that of the
// route of spec.route.
func (g *GatewayAPI) Apply(ctx context.Context, ms *msv1.Microservice, canaryWeight int32, matches bool) (Acceptance, error) {
	var acceptance Acceptance
	for _, r := range []struct {
		name    string
		desired *gwv1ac.HTTPRouteApplyConfiguration
	}{
		{builder.HTTPRouteName(ms), builder.HTTPRoute(ms, canaryWeight, matches)},
		{builder.MeshRouteName(ms), builder.MeshHTTPRoute(ms, canaryWeight, matches)},
	} {
		if r.desired == nil {
			if err := g.remove(ctx, ms, r.name); err != nil {
				return Acceptance{}, err
			}
			continue
		}
		live := &gwv1.HTTPRoute{}
		if err := g.Client.Get(ctx, client.ObjectKey{Namespace: ms.Namespace, Name: r.name}, live); client.IgnoreNotFound(err) != nil {
			return Acceptance{}, fmt.Errorf("reading HTTPRoute %s/%s: %w", ms.Namespace, r.name, err)
		}
		if _, err := g.Applier.Apply(ctx, r.desired, live); err != nil {
			return Acceptance{}, g.gone(ctx, err)
		}
		if r.name == builder.HTTPRouteName(ms) {
			acceptance = AcceptanceOf(ms, live)
		}
	}
	return acceptance, nil
}

// CanaryWeight implements Router: the most that either route of ms sends
// to the canary now.
func (g *GatewayAPI) CanaryWeight(ctx context.Context, ms *msv1.Microservice) (int32, error) {
	w := int32(0)
	for _, name := range []string{builder.HTTPRouteName(ms), builder.MeshRouteName(ms)} {
		live := &gwv1.HTTPRoute{}
		err := g.Client.Get(ctx, client.ObjectKey{Namespace: ms.Namespace, Name: name}, live)
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("reading HTTPRoute %s/%s: %w", ms.Namespace, name, err)
		}
		if metav1.IsControlledBy(live, ms) {
			w = max(w, CanaryWeightOf(ms, live))
		}
	}
	return w, nil
}

// CanaryWeightOf is the weight that route gives the canary track of ms.
func CanaryWeightOf(ms *msv1.Microservice, route *gwv1.HTTPRoute) int32 {
	canary := gwv1.ObjectName(builder.TrackServiceName(ms, builder.TrackCanary))
	w := int32(0)
	for _, rule := range route.Spec.Rules {
		for _, b := range rule.BackendRefs {
			if b.Name == canary && (b.Kind == nil || *b.Kind == "Service") {
				w = max(w, ptr.Deref(b.Weight, 1))
			}
		}
	}
	return w
}

// Remove implements Router: it deletes both routes of ms.
func (g *GatewayAPI) Remove(ctx context.Context, ms *msv1.Microservice) error {
	for _, name := range []string{builder.HTTPRouteName(ms), builder.MeshRouteName(ms)} {
		if err := g.remove(ctx, ms, name); err != nil {
			return err
		}
	}
	return nil
}

// remove deletes the HTTPRoute name of ms, if ms controls it.
func (g *GatewayAPI) remove(ctx context.Context, ms *msv1.Microservice, name string) error {
	live := &gwv1.HTTPRoute{}
	err := g.Client.Get(ctx, client.ObjectKey{Namespace: ms.Namespace, Name: name}, live)
	if apierrors.IsNotFound(err) || err == nil && !metav1.IsControlledBy(live, ms) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading HTTPRoute %s/%s: %w", ms.Namespace, name, err)
	}
	logf.FromContext(ctx).Info("Deleting the HTTPRoute that the spec no longer asks for", "name", live.Name)
	uid := live.UID
	if err := g.Client.Delete(ctx, live, client.Preconditions{UID: &uid}); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("deleting HTTPRoute %s/%s: %w", live.Namespace, live.Name, err)
	}
	g.Applier.Forget(ssa.RefOf("HTTPRoute", live))
	return nil
}

// AcceptanceOf reads the route's parent statuses: accepted when every
// parent of the spec accepted the route's current generation and resolved
// its backends. A parent that accepts the route but cannot resolve a
// backend (Traefik, for one, refuses a backend port whose appProtocol is
// grpc) serves errors on it, so that counts as a refusal too.
func AcceptanceOf(ms *msv1.Microservice, route *gwv1.HTTPRoute) Acceptance {
	var pending, refused []string
	for _, ref := range ms.Spec.Route.ParentRefs {
		name := parentName(ms, ref)
		accepted, resolved := findConditions(ms, route, ref)
		switch {
		case accepted == nil:
			pending = append(pending, name)
		case accepted.Status != metav1.ConditionTrue:
			refused = append(refused, fmt.Sprintf("%s (%s: %s)", name, accepted.Reason, accepted.Message))
		case resolved != nil && resolved.Status == metav1.ConditionFalse:
			refused = append(refused, fmt.Sprintf("%s (%s: %s)", name, resolved.Reason, resolved.Message))
		}
	}
	switch {
	case len(refused) > 0:
		return Acceptance{Status: metav1.ConditionFalse, Reason: ReasonNotAccepted, Message: "Route refused by " + strings.Join(refused, "; ")}
	case len(pending) > 0:
		return Acceptance{Status: metav1.ConditionUnknown, Reason: ReasonPending, Message: "Waiting for the Gateway controller to accept the route on " +
			strings.Join(pending, ", ") + " (no controller has reported on it yet: check that the Gateway exists and that its GatewayClass's controller runs)"}
	}
	return Acceptance{Status: metav1.ConditionTrue, Reason: ReasonAccepted, Message: fmt.Sprintf("Route accepted by %d parent(s)", len(ms.Spec.Route.ParentRefs))}
}

func parentName(ms *msv1.Microservice, ref msv1.ParentReference) string {
	ns := ref.Namespace
	if ns == "" {
		ns = ms.Namespace
	}
	return ns + "/" + ref.Name
}

// findConditions returns the Accepted and ResolvedRefs conditions that a
// parent reported for the route's current generation; accepted is nil when
// it has not reported on it.
func findConditions(ms *msv1.Microservice, route *gwv1.HTTPRoute, ref msv1.ParentReference) (accepted, resolved *metav1.Condition) {
	wantNS := ref.Namespace
	if wantNS == "" {
		wantNS = ms.Namespace
	}
	for i := range route.Status.Parents {
		p := &route.Status.Parents[i]
		ns := ms.Namespace
		if p.ParentRef.Namespace != nil {
			ns = string(*p.ParentRef.Namespace)
		}
		if string(p.ParentRef.Name) != ref.Name || ns != wantNS || string(ptr.Deref(p.ParentRef.SectionName, "")) != ref.SectionName {
			continue
		}
		c := apimeta.FindStatusCondition(p.Conditions, string(gwv1.RouteConditionAccepted))
		if c != nil && c.ObservedGeneration >= route.Generation {
			r := apimeta.FindStatusCondition(p.Conditions, string(gwv1.RouteConditionResolvedRefs))
			if r != nil && r.ObservedGeneration < route.Generation {
				r = nil
			}
			return c, r
		}
	}
	return nil, nil
}
