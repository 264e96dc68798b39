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
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
	gwv1ac "sigs.k8s.io/gateway-api/applyconfiguration/apis/v1"
	"sigs.k8s.io/gateway-api/pkg/features"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
	"github.com/msvc-dev/msvc-operator/internal/builder"
	"github.com/msvc-dev/msvc-operator/internal/ssa"
)

// Reasons of an Acceptance, shared with the Microservice's RouteAccepted condition.
const (
	ReasonAccepted    = msv1.ReasonSucceeded
	ReasonPending     = msv1.ReasonRoutePending
	ReasonNotAccepted = msv1.ReasonRouteNotAccepted
	// ReasonMirrorNotSupported: a parent Gateway cannot mirror requests.
	ReasonMirrorNotSupported = "MirrorNotSupported"
	// ReasonSessionAffinityNotSupported: the cluster's HTTPRoute CRD has no
	// session persistence.
	ReasonSessionAffinityNotSupported = "SessionAffinityNotSupported"
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
	Client client.Client
	// Reader reads Gateways and GatewayClasses, uncached (the Client when nil).
	Reader  client.Reader
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
	// SettleTime and ApplyTimeout bound the wait for a route change to be
	// applied (DefaultSettleTime and DefaultApplyTimeout when zero); Clock
	// is time.Now when nil.
	SettleTime, ApplyTimeout time.Duration
	Clock                    func() time.Time

	mu sync.Mutex
	// pending holds the route generations seen not yet applied, by route UID.
	pending map[types.UID]pendingRoute
	// features are the supported features of each parent Gateway's class.
	features map[string]gatewayFeatures
	watching bool
	// missing is true once the Gateway API was found not installed, until
	// it is found again; lastMissing is when.
	missing     bool
	lastMissing time.Time
	// noSessions is when the HTTPRoute CRD was last found without session
	// persistence.
	noSessions time.Time
}

var _ Router = &GatewayAPI{}

// NewGatewayAPI is the Gateway API router of the factory: it watches
// HTTPRoutes once the Gateway API is installed, and asks discovery whether
// it still is.
func NewGatewayAPI(d Deps) Router {
	g := &GatewayAPI{Client: d.Client, Reader: d.Reader, Mapper: d.Mapper, Applier: d.Applier}
	if d.Watch != nil {
		g.StartWatch = func() error { return d.Watch(&gwv1.HTTPRoute{}) }
	}
	if d.Serves != nil {
		g.Discover = func(ctx context.Context) (bool, error) {
			return d.Serves(ctx, gwv1.GroupVersion.String(), "httproutes")
		}
	}
	return g
}

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
	// Requests are mirrored only through Gateways that say they can: one
	// that cannot may serve errors for the whole rule (Traefik v3.6 answers
	// 500 to every request of a rule with a RequestMirror filter).
	refusal := ""
	if ms.Spec.Route != nil && mirrorOf(ms) != nil {
		var err error
		if refusal, err = g.mirrorRefusal(ctx, ms); err != nil {
			return Acceptance{}, err
		}
	}
	// Sessions are kept only while the canary has ready pods (a cookie may
	// not pin a user to a track that cannot answer), and only by an
	// HTTPRoute CRD that has the field.
	affinity := matches && sessionAffinityOf(ms) != nil
	affinityRefusal := affinity && g.sessionsUnsupported()
	desiredRoute := func(affinity bool) *gwv1ac.HTTPRouteApplyConfiguration {
		route := HTTPRoute(ms, canaryWeight, matches)
		if refusal == "" && matches {
			route = WithMirror(route, ms)
		}
		if affinity {
			route = WithSessionAffinity(route, ms)
		}
		return route
	}
	for _, r := range []struct {
		name    string
		desired *gwv1ac.HTTPRouteApplyConfiguration
	}{
		{builder.HTTPRouteName(ms), desiredRoute(affinity && !affinityRefusal)},
		{builder.MeshRouteName(ms), MeshHTTPRoute(ms, canaryWeight, matches)},
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
		generation := live.Generation
		changed, err := g.Applier.Apply(ctx, r.desired, live)
		if err != nil && affinity && !affinityRefusal && r.name == builder.HTTPRouteName(ms) && sessionsNotInSchema(err) {
			// The standard channel's CRD: the route goes on without
			// sessions, and the next routes do not try for a while.
			affinityRefusal = true
			g.markSessionsUnsupported()
			changed, err = g.Applier.Apply(ctx, desiredRoute(false), live)
		}
		if err != nil {
			return Acceptance{}, g.gone(ctx, err)
		}
		if changed && live.Generation != generation {
			g.wrote(live)
		}
		if r.name == builder.HTTPRouteName(ms) {
			acceptance = AcceptanceOf(ms, live)
		}
	}
	switch {
	case acceptance.Status == metav1.ConditionFalse:
	case refusal != "":
		acceptance = Acceptance{Status: metav1.ConditionFalse, Reason: ReasonMirrorNotSupported,
			Message: refusal + ": requests are not mirrored to the canary; remove spec.rollout.canary.mirror, or route through a Gateway whose implementation supports it"}
	case affinityRefusal:
		acceptance = Acceptance{Status: metav1.ConditionFalse, Reason: ReasonSessionAffinityNotSupported,
			Message: "the cluster's HTTPRoute CRD has no spec.rules[].sessionPersistence (it is in Gateway API's experimental channel, not the standard one): users are not kept on the track that first answered them; install the experimental channel's HTTPRoute CRD, or remove spec.rollout.canary.sessionAffinity"}
	}
	return acceptance, nil
}

// sessionsCheckTTL is how long an HTTPRoute CRD without session
// persistence is believed before a route tries it again (a user may install
// the experimental channel's CRD).
const sessionsCheckTTL = time.Minute

// sessionsNotInSchema says whether the API server refused a route because
// its HTTPRoute CRD has no spec.rules[].sessionPersistence, as server-side
// apply does for a field the schema does not declare.
func sessionsNotInSchema(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "sessionPersistence") && strings.Contains(msg, "not declared in schema")
}

func (g *GatewayAPI) sessionsUnsupported() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return !g.noSessions.IsZero() && g.now().Sub(g.noSessions) < sessionsCheckTTL
}

func (g *GatewayAPI) markSessionsUnsupported() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.noSessions = g.now()
}

// gatewayFeaturesTTL is how long the features of a Gateway's class are
// believed before they are read again.
const gatewayFeaturesTTL = 30 * time.Second

type gatewayFeatures struct {
	class    string
	features map[string]bool
	// missing says why the features are not known: no such Gateway or class.
	missing string
	at      time.Time
}

// mirrorRefusal says why a parent of ms's route cannot mirror its
// requests: its GatewayClass's status.supportedFeatures (which Gateway
// controllers publish since Gateway API v1.2) lack HTTPRouteRequestMirror,
// or HTTPRouteRequestPercentageMirror for a percent below 100. "" when every
// parent can.
func (g *GatewayAPI) mirrorRefusal(ctx context.Context, ms *msv1.Microservice) (string, error) {
	need := []string{string(features.SupportHTTPRouteRequestMirror)}
	if mirrorPercent(mirrorOf(ms)) < 100 {
		need = append(need, string(features.SupportHTTPRouteRequestPercentageMirror))
	}
	var refusals []string
	for _, ref := range ms.Spec.Route.ParentRefs {
		name := parentName(ms, ref)
		if ref.Kind != "" && ref.Kind != "Gateway" || ref.Group != "" && ref.Group != gwv1.GroupName {
			refusals = append(refusals, fmt.Sprintf("parent %s is a %s, not a Gateway", name, ref.Kind))
			continue
		}
		f, err := g.featuresOf(ctx, name)
		if err != nil {
			return "", err
		}
		if f.missing != "" {
			refusals = append(refusals, f.missing)
			continue
		}
		var lacks []string
		for _, n := range need {
			if !f.features[n] {
				lacks = append(lacks, n)
			}
		}
		if len(lacks) > 0 {
			refusals = append(refusals, fmt.Sprintf("Gateway %s (GatewayClass %s) does not list %s in its class's status.supportedFeatures",
				name, f.class, strings.Join(lacks, " and ")))
		}
	}
	return strings.Join(refusals, "; "), nil
}

// featuresOf reads the supported features of the class of the Gateway
// namespace/name, through the uncached Reader (Gateways live in namespaces
// the manager may not watch), and keeps them for gatewayFeaturesTTL.
func (g *GatewayAPI) featuresOf(ctx context.Context, gateway string) (gatewayFeatures, error) {
	g.mu.Lock()
	f, ok := g.features[gateway]
	g.mu.Unlock()
	if ok && g.now().Sub(f.at) < gatewayFeaturesTTL {
		return f, nil
	}
	reader := g.Reader
	if reader == nil {
		reader = g.Client
	}
	f = gatewayFeatures{at: g.now()}
	ns, name, _ := strings.Cut(gateway, "/")
	gw := &gwv1.Gateway{}
	err := reader.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, gw)
	switch {
	case apierrors.IsNotFound(err):
		f.missing = "Gateway " + gateway + " does not exist"
	case err != nil:
		return f, fmt.Errorf("reading Gateway %s: %w", gateway, err)
	default:
		f.class = string(gw.Spec.GatewayClassName)
		gc := &gwv1.GatewayClass{}
		err = reader.Get(ctx, client.ObjectKey{Name: f.class}, gc)
		switch {
		case apierrors.IsNotFound(err):
			f.missing = fmt.Sprintf("the GatewayClass %s of Gateway %s does not exist", f.class, gateway)
		case err != nil:
			return f, fmt.Errorf("reading GatewayClass %s: %w", f.class, err)
		}
		f.features = map[string]bool{}
		for _, sf := range gc.Status.SupportedFeatures {
			f.features[string(sf.Name)] = true
		}
	}
	g.mu.Lock()
	if g.features == nil {
		g.features = map[string]gatewayFeatures{}
	}
	g.features[gateway] = f
	g.mu.Unlock()
	return f, nil
}

// Observe implements Router: the most that either route of ms sends to
// the canary now, applied once every parent that reports on the routes has
// reported on their current generation and SettleTime has passed since
// that was first seen.
func (g *GatewayAPI) Observe(ctx context.Context, ms *msv1.Microservice) (Routed, error) {
	routed := Routed{Applied: true}
	for _, name := range []string{builder.HTTPRouteName(ms), builder.MeshRouteName(ms)} {
		live := &gwv1.HTTPRoute{}
		err := g.Client.Get(ctx, client.ObjectKey{Namespace: ms.Namespace, Name: name}, live)
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return Routed{}, fmt.Errorf("reading HTTPRoute %s/%s: %w", ms.Namespace, name, err)
		}
		if metav1.IsControlledBy(live, ms) {
			routed.CanaryWeight = max(routed.CanaryWeight, CanaryWeightOf(ms, live))
			if !g.applied(ctx, live) {
				routed.Applied = false
			}
		}
	}
	return routed, nil
}

// Defaults of the GatewayAPI router's wait for a route change to be applied.
const (
	// DefaultSettleTime is how long after a parent reported on a route's
	// new generation its data plane is taken to apply it. A Gateway
	// controller reports when it has computed its configuration, and
	// applies it a little later (Traefik: after its providers' throttles,
	// 2 s by default, 0.4 s on the local cluster).
	DefaultSettleTime = time.Second
	// DefaultApplyTimeout is how long a route change may go without a report
	// from a parent that reported before: after it, the change is taken as
	// applied (the controller may be gone), and that is logged.
	DefaultApplyTimeout = 30 * time.Second
)

// pendingRoute is a route generation that was seen not yet reported on.
type pendingRoute struct {
	generation int64
	// seen is when it was first seen unreported; reported is when it was
	// first seen reported on (zero until then).
	seen, reported time.Time
	// gaveUp is set once ApplyTimeout passed without a report: the
	// generation counts as applied from then on.
	gaveUp bool
}

// applied is true when every parent that reports on route has reported on
// its current generation and the change has had SettleTime to reach the
// data plane, or when ApplyTimeout has passed without that report. A route
// no parent reports on is served by no Gateway: it is applied. Only a
// generation that this router wrote or saw unreported waits for
// SettleTime: after a restart, a report already there is long applied.
func (g *GatewayAPI) applied(ctx context.Context, route *gwv1.HTTPRoute) bool {
	reported, reporting := true, false
	for i := range route.Status.Parents {
		c := apimeta.FindStatusCondition(route.Status.Parents[i].Conditions, string(gwv1.RouteConditionAccepted))
		if c != nil {
			reporting = true
			reported = reported && c.ObservedGeneration >= route.Generation
		}
	}
	now := g.now()
	g.mu.Lock()
	defer g.mu.Unlock()
	if !reporting {
		delete(g.pending, route.UID)
		return true
	}
	p, waited := g.pending[route.UID]
	if waited && p.generation != route.Generation {
		waited = false
	}
	switch {
	case reported && !waited:
		return true
	case reported && p.gaveUp:
		delete(g.pending, route.UID)
		return true
	case waited && p.gaveUp:
		return true
	case reported:
		if p.reported.IsZero() {
			p.reported = now
			g.pending[route.UID] = p
		}
		if now.Sub(p.reported) < g.settleTime() {
			return false
		}
		delete(g.pending, route.UID)
		return true
	case !waited:
		if g.pending == nil {
			g.pending = map[types.UID]pendingRoute{}
		}
		g.pending[route.UID] = pendingRoute{generation: route.Generation, seen: now}
		return false
	case now.Sub(p.seen) >= g.applyTimeout():
		logf.FromContext(ctx).Info("No Gateway controller has reported on the route's latest change; going on as if it were applied",
			"route", route.Name, "generation", route.Generation, "waited", now.Sub(p.seen).Round(time.Second).String())
		p.gaveUp = true
		g.pending[route.UID] = p
		return true
	}
	return false
}

// wrote records a new generation of route that this router wrote: it is
// not applied until a parent reports on it and SettleTime has passed.
func (g *GatewayAPI) wrote(route *gwv1.HTTPRoute) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.pending == nil {
		g.pending = map[types.UID]pendingRoute{}
	}
	if p, ok := g.pending[route.UID]; !ok || p.generation != route.Generation {
		g.pending[route.UID] = pendingRoute{generation: route.Generation, seen: g.now()}
	}
}

func (g *GatewayAPI) now() time.Time {
	if g.Clock != nil {
		return g.Clock()
	}
	return time.Now()
}

func (g *GatewayAPI) settleTime() time.Duration {
	if g.SettleTime > 0 {
		return g.SettleTime
	}
	return DefaultSettleTime
}

func (g *GatewayAPI) applyTimeout() time.Duration {
	if g.ApplyTimeout > 0 {
		return g.ApplyTimeout
	}
	return DefaultApplyTimeout
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
	g.mu.Lock()
	delete(g.pending, uid)
	g.mu.Unlock()
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
