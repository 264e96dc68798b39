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
	"fmt"
	"regexp"
	"strings"
	"time"

	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
	gwv1ac "sigs.k8s.io/gateway-api/applyconfiguration/apis/v1"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
	"github.com/msvc-dev/msvc-operator/internal/builder"
)

// HTTPRoute is the desired HTTPRoute of ms, or nil when ms has no route (or no
// port to route to, which admission already refuses). With the canary
// strategy the route weighs the stable and canary track Services, sending
// canaryWeight percent of requests to the canary; otherwise it sends
// everything to the Service of ms.
//
// With matches, requests that match spec.rollout.canary.matches go to the
// canary whatever the weight: a rule of their own, more specific than the
// weighted one, so the Gateway gives it precedence.
func HTTPRoute(ms *msv1.Microservice, canaryWeight int32, matches bool) *gwv1ac.HTTPRouteApplyConfiguration {
	r := ms.Spec.Route
	if r == nil {
		return nil
	}
	port, ok := builder.RoutePort(ms)
	if !ok {
		return nil
	}
	path := r.PathPrefix
	if path == "" {
		path = "/"
	}

	spec := gwv1ac.HTTPRouteSpec()
	for _, p := range r.ParentRefs {
		spec.WithParentRefs(parentRef(p))
	}
	for _, h := range r.Hostnames {
		spec.WithHostnames(gwv1.Hostname(h))
	}
	pathMatch := func() *gwv1ac.HTTPRouteMatchApplyConfiguration {
		return gwv1ac.HTTPRouteMatch().
			WithPath(gwv1ac.HTTPPathMatch().
				WithType(gwv1.PathMatchPathPrefix).
				WithValue(path))
	}
	if matches {
		if r := canaryMatchRule(ms, port.Port, pathMatch); r != nil {
			spec.WithRules(r)
		}
	}
	rule := gwv1ac.HTTPRouteRule().WithMatches(pathMatch())
	if builder.IsCanary(ms) {
		rule.WithBackendRefs(
			backendRef(builder.TrackServiceName(ms, builder.TrackStable), port.Port, 100-canaryWeight),
			backendRef(builder.TrackServiceName(ms, builder.TrackCanary), port.Port, canaryWeight))
	} else {
		rule.WithBackendRefs(backendRef(builder.ServiceName(ms), port.Port, 1))
	}
	spec.WithRules(rule)

	return gwv1ac.HTTPRoute(builder.HTTPRouteName(ms), ms.Namespace).
		WithLabels(builder.CommonLabels(ms)).
		WithOwnerReferences(builder.OwnerReference(ms)).
		WithSpec(spec)
}

// WithMirror adds to route's weighted rule (its last) a RequestMirror filter
// that copies spec.rollout.canary.mirror's percent of its requests to the
// canary track, and returns route. Routes without a canary mirror, or nil,
// are returned as they are.
func WithMirror(route *gwv1ac.HTTPRouteApplyConfiguration, ms *msv1.Microservice) *gwv1ac.HTTPRouteApplyConfiguration {
	m := mirrorOf(ms)
	if route == nil || m == nil || route.Spec == nil || len(route.Spec.Rules) == 0 {
		return route
	}
	port, ok := builder.RoutePort(ms)
	if !ok {
		return route
	}
	filter := gwv1ac.HTTPRequestMirrorFilter().
		WithBackendRef(gwv1ac.BackendObjectReference().
			WithGroup("").
			WithKind("Service").
			WithName(gwv1.ObjectName(builder.TrackServiceName(ms, builder.TrackCanary))).
			WithPort(port.Port))
	if p := mirrorPercent(m); p < 100 {
		filter.WithPercent(p)
	}
	route.Spec.Rules[len(route.Spec.Rules)-1].WithFilters(gwv1ac.HTTPRouteFilter().
		WithType(gwv1.HTTPRouteFilterRequestMirror).
		WithRequestMirror(filter))
	return route
}

// WithSessionAffinity gives route's weighted rule (its last) the
// cookie-based session persistence of spec.rollout.canary.sessionAffinity,
// and returns route. Routes without it, or nil, are returned as they are.
func WithSessionAffinity(route *gwv1ac.HTTPRouteApplyConfiguration, ms *msv1.Microservice) *gwv1ac.HTTPRouteApplyConfiguration {
	a := sessionAffinityOf(ms)
	if route == nil || a == nil || route.Spec == nil || len(route.Spec.Rules) == 0 {
		return route
	}
	persistence := gwv1ac.SessionPersistence().WithType(gwv1.CookieBasedSessionPersistence)
	if a.CookieName != "" {
		persistence.WithSessionName(a.CookieName)
	}
	cookie := gwv1ac.CookieConfig().WithLifetimeType(gwv1.SessionCookieLifetimeType)
	if a.MaxAge != nil && a.MaxAge.Duration > 0 {
		persistence.WithAbsoluteTimeout(GatewayDuration(a.MaxAge.Duration))
		cookie.WithLifetimeType(gwv1.PermanentCookieLifetimeType)
	}
	persistence.WithCookieConfig(cookie)
	route.Spec.Rules[len(route.Spec.Rules)-1].WithSessionPersistence(persistence)
	return route
}

func sessionAffinityOf(ms *msv1.Microservice) *msv1.SessionAffinity {
	if !builder.IsCanary(ms) {
		return nil
	}
	return ms.Spec.Rollout.Canary.SessionAffinity
}

// GatewayDuration writes d in Gateway API's duration format (GEP-2257: up
// to four parts of at most five digits, each with the unit h, m, s or ms),
// rounded down to the millisecond, for d under 100,000 hours; 0s for less
// than a millisecond.
func GatewayDuration(d time.Duration) gwv1.Duration {
	if d < time.Millisecond {
		return "0s"
	}
	var b strings.Builder
	for _, u := range []struct {
		unit string
		size time.Duration
	}{{"h", time.Hour}, {"m", time.Minute}, {"s", time.Second}, {"ms", time.Millisecond}} {
		n := d / u.size
		if n > 0 {
			fmt.Fprintf(&b, "%d%s", n, u.unit)
		}
		d -= n * u.size
	}
	return gwv1.Duration(b.String())
}

func mirrorOf(ms *msv1.Microservice) *msv1.Mirror {
	if !builder.IsCanary(ms) {
		return nil
	}
	return ms.Spec.Rollout.Canary.Mirror
}

func mirrorPercent(m *msv1.Mirror) int32 {
	if m.Percent == nil {
		return 100
	}
	return *m.Percent
}

// MeshHTTPRoute is the desired GAMMA HTTPRoute of ms, or nil when ms does
// not ask for one. Its parent is the Service that dependents call, on the
// route's port (spec.route.port, or the first port): a mesh sends requests
// addressed to that port of the Service to the track Services with the
// weights. Other ports of the Service are not routed by it.
func MeshHTTPRoute(ms *msv1.Microservice, canaryWeight int32, matches bool) *gwv1ac.HTTPRouteApplyConfiguration {
	if !builder.IsMeshRouted(ms) {
		return nil
	}
	port, ok := builder.RoutePort(ms)
	if !ok {
		return nil
	}
	spec := gwv1ac.HTTPRouteSpec().
		WithParentRefs(gwv1ac.ParentReference().
			WithGroup("").
			WithKind("Service").
			WithName(gwv1.ObjectName(builder.ServiceName(ms))).
			WithPort(port.Port))
	if matches {
		if r := canaryMatchRule(ms, port.Port, gwv1ac.HTTPRouteMatch); r != nil {
			spec.WithRules(r)
		}
	}
	spec.WithRules(gwv1ac.HTTPRouteRule().
		WithBackendRefs(
			backendRef(builder.TrackServiceName(ms, builder.TrackStable), port.Port, 100-canaryWeight),
			backendRef(builder.TrackServiceName(ms, builder.TrackCanary), port.Port, canaryWeight)))
	return gwv1ac.HTTPRoute(builder.MeshRouteName(ms), ms.Namespace).
		WithLabels(builder.CommonLabels(ms)).
		WithOwnerReferences(builder.OwnerReference(ms)).
		WithSpec(spec)
}

// canaryMatchRule is the rule that sends the requests of
// spec.rollout.canary.matches to the canary track, each entry one match
// (entries are ORed, a match's conditions ANDed); nil without matches.
// base gives each match the conditions of the weighted rule (its path).
func canaryMatchRule(ms *msv1.Microservice, port int32, base func() *gwv1ac.HTTPRouteMatchApplyConfiguration) *gwv1ac.HTTPRouteRuleApplyConfiguration {
	if !builder.IsCanary(ms) || len(ms.Spec.Rollout.Canary.Matches) == 0 {
		return nil
	}
	rule := gwv1ac.HTTPRouteRule()
	for _, m := range ms.Spec.Rollout.Canary.Matches {
		match := base()
		for _, h := range m.Headers {
			t := gwv1.HeaderMatchExact
			if h.Type == msv1.HeaderMatchType(gwv1.HeaderMatchRegularExpression) {
				t = gwv1.HeaderMatchRegularExpression
			}
			match.WithHeaders(gwv1ac.HTTPHeaderMatch().WithType(t).WithName(gwv1.HTTPHeaderName(h.Name)).WithValue(h.Value))
		}
		if c := m.Cookie; c != nil {
			match.WithHeaders(gwv1ac.HTTPHeaderMatch().
				WithType(gwv1.HeaderMatchRegularExpression).
				WithName("Cookie").
				WithValue(CookieRegexp(c.Name, c.Value)))
		}
		rule.WithMatches(match)
	}
	return rule.WithBackendRefs(backendRef(builder.TrackServiceName(ms, builder.TrackCanary), port, 1))
}

// CookieRegexp matches a Cookie header that carries name=value among its
// cookies.
func CookieRegexp(name, value string) string {
	return `(^|;\s*)` + regexp.QuoteMeta(name) + `=` + regexp.QuoteMeta(value) + `(;|$)`
}

func parentRef(p msv1.ParentReference) *gwv1ac.ParentReferenceApplyConfiguration {
	ref := gwv1ac.ParentReference().WithName(gwv1.ObjectName(p.Name))
	if p.Namespace != "" {
		ref.WithNamespace(gwv1.Namespace(p.Namespace))
	}
	if p.SectionName != "" {
		ref.WithSectionName(gwv1.SectionName(p.SectionName))
	}
	if p.Group != "" {
		ref.WithGroup(gwv1.Group(p.Group))
	}
	if p.Kind != "" {
		ref.WithKind(gwv1.Kind(p.Kind))
	}
	return ref
}

func backendRef(service string, port, weight int32) *gwv1ac.HTTPBackendRefApplyConfiguration {
	return gwv1ac.HTTPBackendRef().
		WithGroup("").
		WithKind("Service").
		WithName(gwv1.ObjectName(service)).
		WithPort(port).
		WithWeight(weight)
}
