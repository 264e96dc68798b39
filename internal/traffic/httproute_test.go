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
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
	gwv1ac "sigs.k8s.io/gateway-api/applyconfiguration/apis/v1"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
	"github.com/msvc-dev/msvc-operator/internal/builder"
)

func base() *msv1.Microservice {
	return &msv1.Microservice{
		ObjectMeta: metav1.ObjectMeta{Name: "checkout", Namespace: "shop", UID: "uid-1"},
		Spec: msv1.MicroserviceSpec{
			Image: "ghcr.io/acme/checkout:1.4.2",
			Ports: []msv1.ServicePort{
				{Name: "http", Port: 80, TargetPort: ptr.To[int32](8080)},
				{Name: "grpc", Port: 9090, AppProtocol: ptr.To("grpc")},
			},
		},
	}
}

// typed turns an HTTPRoute apply configuration into the HTTPRoute it configures.
func typed(t *testing.T, ac *gwv1ac.HTTPRouteApplyConfiguration) *gwv1.HTTPRoute {
	t.Helper()
	data, err := json.Marshal(ac)
	if err != nil {
		t.Fatal(err)
	}
	out := &gwv1.HTTPRoute{}
	if err := json.Unmarshal(data, out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestHTTPRoute(t *testing.T) {
	if HTTPRoute(base(), 0, false) != nil {
		t.Fatal("no route must mean no HTTPRoute")
	}
	tests := []struct {
		name     string
		route    msv1.Route
		wantPath string
		wantPort int32
	}{
		{"defaults to / and the first port", msv1.Route{ParentRefs: []msv1.ParentReference{{Name: "public"}}}, "/", 80},
		{"uses the named port and prefix", msv1.Route{ParentRefs: []msv1.ParentReference{{Name: "public"}}, Port: "grpc", PathPrefix: "/api"}, "/api", 9090},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ms := base()
			ms.Spec.Route = &tt.route
			r := typed(t, HTTPRoute(ms, 0, false))
			rule := r.Spec.Rules[0]
			if got := ptr.Deref(rule.Matches[0].Path.Value, ""); got != tt.wantPath {
				t.Fatalf("path = %q, want %q", got, tt.wantPath)
			}
			if got := ptr.Deref(rule.BackendRefs[0].Port, 0); got != gwv1.PortNumber(tt.wantPort) {
				t.Fatalf("backend port = %d, want %d", got, tt.wantPort)
			}
			if rule.BackendRefs[0].Name != "checkout" {
				t.Fatalf("backend = %s", rule.BackendRefs[0].Name)
			}
		})
	}

	ms := base()
	ms.Spec.Route = &msv1.Route{
		ParentRefs: []msv1.ParentReference{{Name: "public", Namespace: "gateway-system", SectionName: "https"}},
		Hostnames:  []string{"shop.example.com"},
	}
	r := typed(t, HTTPRoute(ms, 0, false))
	p := r.Spec.ParentRefs[0]
	if p.Name != "public" || string(ptr.Deref(p.Namespace, "")) != "gateway-system" || string(ptr.Deref(p.SectionName, "")) != "https" {
		t.Fatalf("parentRef = %+v", p)
	}
	if len(r.Spec.Hostnames) != 1 || r.Spec.Hostnames[0] != "shop.example.com" {
		t.Fatalf("hostnames = %v", r.Spec.Hostnames)
	}
}

// FuzzHTTPRoute builds both routes of Microservices shaped by the input and
// checks, for any weight:
//   - a route exists exactly when the spec asks for it (spec.route; the
//     GAMMA route with trafficRouting: Mesh and ports), owned by ms and
//     labelled as its other objects are;
//   - the weighted rule sends everything to the Service or, with the canary
//     strategy, splits exactly 100 between the tracks on the route's port,
//     and CanaryWeightOf reads back the weight it was built with;
//   - with matches, one rule more, before the weighted one, sends only the
//     matching requests, only to the canary; a cookie match matches a
//     Cookie header that carries the cookie among others, and not one that
//     carries another value.
func FuzzHTTPRoute(f *testing.F) {
	f.Add("checkout", uint8(2), uint8(1), "/api", true, true, false, int32(20), "x-canary", "tester", "yes")
	f.Add("web", uint8(1), uint8(0), "", false, false, false, int32(0), "", "", "")
	f.Add("cart", uint8(3), uint8(2), "/", true, true, true, int32(100), "", "beta", "1.2")
	f.Fuzz(func(t *testing.T, name string, ports, routePort uint8, path string, canary, route, mesh bool,
		weight int32, header, cookie, value string) {
		name = strings.ToLower(regexp.MustCompile(`[^a-z0-9-]`).ReplaceAllString(name, ""))
		if name == "" || len(name) > 40 || strings.Trim(name, "-") != name || weight < 0 || weight > 100 || ports > 4 {
			t.Skip("admission refuses it")
		}
		if path != "" && (!strings.HasPrefix(path, "/") || len(path) > 64 || strings.ContainsAny(path, "#?% \t\n") || strings.Contains(path, "//")) {
			t.Skip("admission refuses the path prefix")
		}
		ms := &msv1.Microservice{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "shop", UID: "u"}}
		for i := range int(ports) {
			ms.Spec.Ports = append(ms.Spec.Ports, msv1.ServicePort{Name: fmt.Sprintf("p%d", i), Port: int32(8000 + i)})
		}
		if route && ports > 0 {
			ms.Spec.Route = &msv1.Route{ParentRefs: []msv1.ParentReference{{Name: "public"}}, PathPrefix: path, Port: fmt.Sprintf("p%d", int(routePort)%int(ports))}
		}
		matches := false
		if canary {
			c := &msv1.Canary{Steps: []msv1.CanaryStep{{SetWeight: ptr.To(weight)}}}
			if mesh {
				c.TrafficRouting = msv1.MeshTrafficRouting
			}
			validValue := value != "" && !strings.ContainsAny(value, ";, \t\r\n\"\\")
			if validName := regexp.MustCompile(`^[A-Za-z0-9-]{1,40}$`); validName.MatchString(header) && validValue {
				c.Matches = append(c.Matches, msv1.CanaryMatch{Headers: []msv1.HeaderMatch{{Name: header, Value: value}}})
			}
			if regexp.MustCompile(`^[A-Za-z0-9_]{1,40}$`).MatchString(cookie) && validValue {
				c.Matches = append(c.Matches, msv1.CanaryMatch{Cookie: &msv1.CookieMatch{Name: cookie, Value: value}})
			}
			matches = len(c.Matches) > 0
			ms.Spec.Rollout = &msv1.Rollout{Strategy: msv1.CanaryStrategy, Canary: c}
		}
		if !builder.IsCanary(ms) {
			weight = 0
		}

		for _, r := range []struct {
			kind string
			ac   *gwv1ac.HTTPRouteApplyConfiguration
			want bool
		}{
			{"HTTPRoute", HTTPRoute(ms, weight, matches), ms.Spec.Route != nil},
			{"GAMMA HTTPRoute", MeshHTTPRoute(ms, weight, matches), canary && mesh && ports > 0},
		} {
			if (r.ac != nil) != r.want {
				t.Fatalf("%s built: %v, want %v", r.kind, r.ac != nil, r.want)
			}
			if r.ac == nil {
				continue
			}
			checkRoute(t, ms, r.kind, typed(t, r.ac), weight, matches, cookie, value)
		}
	})
}

func checkRoute(t *testing.T, ms *msv1.Microservice, kind string, r *gwv1.HTTPRoute, weight int32, matches bool, cookie, value string) {
	t.Helper()
	if r.Namespace != ms.Namespace || r.Labels[builder.LabelMicroservice] != ms.Name ||
		len(r.OwnerReferences) != 1 || r.OwnerReferences[0].Name != ms.Name || !ptr.Deref(r.OwnerReferences[0].Controller, false) {
		t.Errorf("%s %s/%s: labels %v, owners %+v", kind, r.Namespace, r.Name, r.Labels, r.OwnerReferences)
	}
	if len(r.Spec.ParentRefs) != 1 {
		t.Fatalf("%s has %d parentRefs", kind, len(r.Spec.ParentRefs))
	}
	wantRules := 1
	if matches {
		wantRules = 2
	}
	if len(r.Spec.Rules) != wantRules {
		t.Fatalf("%s has %d rules, want %d", kind, len(r.Spec.Rules), wantRules)
	}
	port, _ := builder.RoutePort(ms)
	rule := r.Spec.Rules[wantRules-1]
	want := map[string]int32{builder.ServiceName(ms): 1}
	if builder.IsCanary(ms) {
		want = map[string]int32{builder.TrackServiceName(ms, builder.TrackStable): 100 - weight, builder.TrackServiceName(ms, builder.TrackCanary): weight}
	}
	var sum int32
	for _, b := range rule.BackendRefs {
		w := ptr.Deref(b.Weight, 1)
		if got, ok := want[string(b.Name)]; !ok || got != w {
			t.Errorf("%s backend %s weight %d, want one of %v", kind, b.Name, w, want)
		}
		if ptr.Deref(b.Port, 0) != gwv1.PortNumber(port.Port) {
			t.Errorf("%s backend %s port %d, want %d", kind, b.Name, ptr.Deref(b.Port, 0), port.Port)
		}
		sum += w
	}
	if len(rule.BackendRefs) != len(want) || builder.IsCanary(ms) && sum != 100 || sum <= 0 {
		t.Errorf("%s weighted rule: %d backends summing to %d, want %v", kind, len(rule.BackendRefs), sum, want)
	}
	wantRead := weight
	if matches {
		wantRead = max(weight, 1)
	}
	if got := CanaryWeightOf(ms, r); got != wantRead {
		t.Errorf("CanaryWeightOf %s = %d, built with weight %d (matches %v)", kind, got, weight, matches)
	}
	if !matches {
		return
	}
	m := r.Spec.Rules[0]
	if len(m.BackendRefs) != 1 || string(m.BackendRefs[0].Name) != builder.TrackServiceName(ms, builder.TrackCanary) || len(m.Matches) != len(ms.Spec.Rollout.Canary.Matches) {
		t.Fatalf("%s match rule %+v: want only the canary, one match per entry", kind, m)
	}
	for i, cm := range ms.Spec.Rollout.Canary.Matches {
		if cm.Cookie == nil {
			continue
		}
		var re *regexp.Regexp
		for _, h := range m.Matches[i].Headers {
			if h.Name == "Cookie" {
				re = regexp.MustCompile(h.Value)
			}
		}
		if re == nil {
			t.Fatalf("%s: the cookie match has no Cookie header match", kind)
		}
		for header, want := range map[string]bool{
			cookie + "=" + value:                             true,
			"session=abc; " + cookie + "=" + value + "; x=1": true,
			cookie + "=" + value + "x":                       false,
			"x" + cookie + "=" + value:                       false,
			"session=abc; " + cookie + "=not-" + value + ";": false,
		} {
			if re.MatchString(header) != want {
				t.Errorf("%s: cookie regexp %q on %q = %v, want %v", kind, re, header, !want, want)
			}
		}
	}
}

func TestWithMirror(t *testing.T) {
	ms := base()
	ms.Spec.Route = &msv1.Route{ParentRefs: []msv1.ParentReference{{Name: "public"}}, Port: "grpc"}
	if r := typed(t, WithMirror(HTTPRoute(ms, 0, true), ms)); len(r.Spec.Rules[0].Filters) != 0 {
		t.Fatalf("a service without a canary got filters %+v", r.Spec.Rules[0].Filters)
	}
	ms.Spec.Rollout = &msv1.Rollout{Strategy: msv1.CanaryStrategy, Canary: &msv1.Canary{
		Matches: []msv1.CanaryMatch{{Headers: []msv1.HeaderMatch{{Name: "X-Canary", Value: "1"}}}},
	}}
	for _, tc := range []struct {
		percent *int32
		want    *int32
	}{{nil, nil}, {ptr.To[int32](100), nil}, {ptr.To[int32](30), ptr.To[int32](30)}} {
		ms.Spec.Rollout.Canary.Mirror = &msv1.Mirror{Percent: tc.percent}
		r := typed(t, WithMirror(HTTPRoute(ms, 20, true), ms))
		if len(r.Spec.Rules) != 2 || len(r.Spec.Rules[0].Filters) != 0 {
			t.Fatalf("the match rule must stay first and without a filter: %+v", r.Spec.Rules)
		}
		f := r.Spec.Rules[1].Filters
		if len(f) != 1 || f[0].Type != gwv1.HTTPRouteFilterRequestMirror || f[0].RequestMirror == nil {
			t.Fatalf("weighted rule filters %+v, want one RequestMirror", f)
		}
		m := f[0].RequestMirror
		if m.BackendRef.Name != "checkout-canary" || ptr.Deref(m.BackendRef.Port, 0) != 9090 || !reflect.DeepEqual(m.Percent, tc.want) {
			t.Fatalf("percent %v: mirror %+v, want the canary on the route port, percent %v", ptr.Deref(tc.percent, -1), m, ptr.Deref(tc.want, -1))
		}
	}
}

func TestWithSessionAffinity(t *testing.T) {
	ms := base()
	ms.Spec.Route = &msv1.Route{ParentRefs: []msv1.ParentReference{{Name: "public"}}}
	if r := typed(t, WithSessionAffinity(HTTPRoute(ms, 0, true), ms)); r.Spec.Rules[0].SessionPersistence != nil {
		t.Fatalf("a service without a canary got session persistence %+v", r.Spec.Rules[0].SessionPersistence)
	}
	ms.Spec.Rollout = &msv1.Rollout{Strategy: msv1.CanaryStrategy, Canary: &msv1.Canary{
		Matches: []msv1.CanaryMatch{{Headers: []msv1.HeaderMatch{{Name: "X-Canary", Value: "1"}}}},
	}}
	for _, tc := range []struct {
		affinity msv1.SessionAffinity
		want     gwv1.SessionPersistence
	}{
		{msv1.SessionAffinity{}, gwv1.SessionPersistence{Type: ptr.To(gwv1.CookieBasedSessionPersistence),
			CookieConfig: &gwv1.CookieConfig{LifetimeType: ptr.To(gwv1.SessionCookieLifetimeType)}}},
		{msv1.SessionAffinity{CookieName: "track", MaxAge: &metav1.Duration{Duration: 90 * time.Minute}}, gwv1.SessionPersistence{
			Type: ptr.To(gwv1.CookieBasedSessionPersistence), SessionName: ptr.To("track"), AbsoluteTimeout: ptr.To(gwv1.Duration("1h30m")),
			CookieConfig: &gwv1.CookieConfig{LifetimeType: ptr.To(gwv1.PermanentCookieLifetimeType)}}},
	} {
		ms.Spec.Rollout.Canary.SessionAffinity = &tc.affinity
		r := typed(t, WithSessionAffinity(HTTPRoute(ms, 20, true), ms))
		if len(r.Spec.Rules) != 2 || r.Spec.Rules[0].SessionPersistence != nil {
			t.Fatalf("the match rule must stay first and without sessions: %+v", r.Spec.Rules)
		}
		if got := r.Spec.Rules[1].SessionPersistence; !reflect.DeepEqual(got, &tc.want) {
			t.Errorf("%+v: session persistence %+v, want %+v", tc.affinity, got, tc.want)
		}
	}
}

func TestGatewayDuration(t *testing.T) {
	format := regexp.MustCompile(`^([0-9]{1,5}(h|m|s|ms)){1,4}$`) // GEP-2257, as the Gateway API CRDs check it
	for _, tc := range []struct {
		in   time.Duration
		want gwv1.Duration
	}{
		{0, "0s"}, {time.Microsecond, "0s"}, {time.Millisecond, "1ms"}, {1500 * time.Millisecond, "1s500ms"},
		{time.Second, "1s"}, {30 * time.Minute, "30m"}, {90 * time.Minute, "1h30m"}, {24 * time.Hour, "24h"},
		{25*time.Hour + 61*time.Second + time.Millisecond, "25h1m1s1ms"}, {99999 * time.Hour, "99999h"},
	} {
		got := GatewayDuration(tc.in)
		if got != tc.want || !format.MatchString(string(got)) {
			t.Errorf("GatewayDuration(%v) = %q, want %q (and the GEP-2257 format)", tc.in, got, tc.want)
		}
		if back, err := time.ParseDuration(string(got)); err != nil || back != tc.in.Truncate(time.Millisecond) {
			t.Errorf("GatewayDuration(%v) = %q reads back as %v, %v", tc.in, got, back, err)
		}
	}
}
