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

package analysis

import (
	"fmt"
	"regexp"
	"strings"
	"unicode"
)

// Implementation is the Gateway API implementation or mesh that carries a
// route's traffic and reports its metrics.
type Implementation string

// The implementations the templates know. docs/traffic-metrics.md says what
// each one provides and why.
const (
	Traefik            Implementation = "traefik"
	EnvoyGateway       Implementation = "envoy-gateway"
	Istio              Implementation = "istio"
	Linkerd            Implementation = "linkerd"
	NGINXGatewayFabric Implementation = "nginx-gateway-fabric"
)

// DefaultImplementation is used when neither the operator's flag nor the
// analysis names one.
const DefaultImplementation = Traefik

// Template is a built-in query of one track's traffic.
type Template string

const (
	// RequestSuccessRate is the share of requests answered without a 5xx
	// status over the rate window, from 0 to 1 (NaN without requests).
	RequestSuccessRate Template = "request-success-rate"
	// RequestDurationP99 is the 99th percentile of the response time over the
	// rate window, in milliseconds.
	RequestDurationP99 Template = "request-duration-p99"
)

// Implementations lists every implementation, in the order of the docs.
func Implementations() []Implementation {
	return []Implementation{Traefik, EnvoyGateway, Istio, Linkerd, NGINXGatewayFabric}
}

// Templates lists every template, in the order of the docs.
func Templates() []Template {
	return []Template{RequestSuccessRate, RequestDurationP99}
}

// ParseImplementation checks that s names an implementation; "" is the default.
func ParseImplementation(s string) (Implementation, error) {
	if s == "" {
		return DefaultImplementation, nil
	}
	impl := Implementation(s)
	if _, ok := sources[impl]; !ok {
		return "", fmt.Errorf("unknown gateway implementation %q: use one of %s", s, joinNames(Implementations()))
	}
	return impl, nil
}

// Target is the traffic a template measures: one track of one Microservice.
type Target struct {
	// Namespace of the Microservice, its Services and its Deployments.
	Namespace string
	// Service is the track's Service, which the HTTPRoute's backendRef names
	// (<name>-canary or <name>-stable).
	Service string
	// Workload is the track's Deployment (<name>-canary or <name>).
	Workload string
	// Window is the rate window, from RateWindow.
	Window string
}

// UnavailableError says that an implementation cannot provide a template,
// and why. It is a property of the implementation, not a transient failure.
type UnavailableError struct {
	Implementation Implementation
	Template       Template
	Reason         string
}

func (e *UnavailableError) Error() string {
	return fmt.Sprintf("template %s is not available for %s: %s; write a query instead, or set analysis.implementation if another one carries the traffic",
		e.Template, e.Implementation, e.Reason)
}

// TemplateQuery returns the PromQL of template t for implementation impl
// ("" is the default), measuring target. Every name is escaped for the place
// it lands in: a PromQL string literal, or a regular expression inside one.
// It returns an *UnavailableError when the implementation cannot provide the
// template.
func TemplateQuery(impl Implementation, t Template, target Target) (string, error) {
	if impl == "" {
		impl = DefaultImplementation
	}
	src, ok := sources[impl]
	if !ok {
		return "", fmt.Errorf("unknown gateway implementation %q: use one of %s", impl, joinNames(Implementations()))
	}
	if t != RequestSuccessRate && t != RequestDurationP99 {
		return "", fmt.Errorf("unknown metric template %q: use one of %s", t, joinNames(Templates()))
	}
	if reason, missing := src.missing[t]; missing {
		return "", &UnavailableError{Implementation: impl, Template: t, Reason: reason}
	}
	if !windowPattern.MatchString(target.Window) {
		return "", fmt.Errorf("rate window %q is not a Prometheus duration such as 60s", target.Window)
	}
	sel, err := src.selector(target)
	if err != nil {
		return "", err
	}
	w := target.Window
	switch t {
	case RequestSuccessRate:
		return fmt.Sprintf("sum(rate(%s{%s,%s}[%s])) / sum(rate(%s{%s}[%s]))",
			src.responses, sel, src.notServerError, w, src.responses, sel, w), nil
	default:
		return fmt.Sprintf("histogram_quantile(0.99, sum by (le) (rate(%s{%s}[%s])))%s",
			src.durationBuckets, sel, w, src.toMilliseconds), nil
	}
}

// windowPattern is a Prometheus duration; the window is the only value
// placed outside a string literal, so it must be exactly that.
var windowPattern = regexp.MustCompile(`^([0-9]+(ms|s|m|h|d|w|y))+$`)

// source is how one implementation reports a track's traffic.
type source struct {
	// selector returns the label matchers that pick the series of target's
	// track and nothing else.
	selector func(target Target) (string, error)
	// responses is a counter of responses with a status label.
	responses string
	// notServerError is the matcher that keeps the responses without a 5xx.
	notServerError string
	// durationBuckets is the response time histogram's _bucket series.
	durationBuckets string
	// toMilliseconds converts the histogram's unit: " * 1000" for seconds.
	toMilliseconds string
	// missing gives, per template the implementation cannot provide, why.
	missing map[Template]string
}

// sources holds every implementation's metrics; the names and labels are
// the ones each project documents (docs/traffic-metrics.md links them).
var sources = map[Implementation]source{
	// Traefik's Kubernetes Gateway provider names the service of a
	// backendRef to Service S port P in namespace N "N-S-http-P", normalised
	// (every run of characters other than letters and digits becomes one
	// '-'), with the provider suffix @kubernetesgateway. Service labels need
	// --metrics.prometheus.addServicesLabels=true.
	Traefik: {
		selector: func(t Target) (string, error) {
			name := traefikNormalize(t.Namespace + "-" + t.Service + "-http")
			re, err := promRegex(name)
			if err != nil {
				return "", fmt.Errorf("service name: %w", err)
			}
			return `service=~"` + re + `-[0-9]+@kubernetesgateway"`, nil
		},
		responses:       "traefik_service_requests_total",
		notServerError:  `code!~"5.."`,
		durationBuckets: "traefik_service_request_duration_seconds_bucket",
		toMilliseconds:  " * 1000",
	},
	// Envoy Gateway translates an HTTPRoute rule into one Envoy cluster,
	// httproute/<namespace>/<route>/rule/<index>, whose endpoints are those
	// of all the rule's backendRefs: its cluster statistics count both
	// tracks together.
	EnvoyGateway: {
		missing: map[Template]string{
			RequestSuccessRate: envoyGatewayOneCluster,
			RequestDurationP99: envoyGatewayOneCluster,
		},
	},
	// Istio's standard metrics, as reported by the canary's own proxy
	// (a sidecar): the destination workload is the Deployment.
	Istio: {
		selector: func(t Target) (string, error) {
			return labelMatchers(
				"reporter", "destination",
				"destination_workload_namespace", t.Namespace,
				"destination_workload", t.Workload)
		},
		responses:       "istio_requests_total",
		notServerError:  `response_code!~"5.."`,
		durationBuckets: "istio_request_duration_milliseconds_bucket",
	},
	// Linkerd's proxy metrics on the canary's pods (inbound), labelled with
	// the pod's Deployment by Linkerd's Prometheus configuration. A response
	// is classified as failure for a 5xx (or a gRPC error).
	Linkerd: {
		selector: func(t Target) (string, error) {
			return labelMatchers(
				"direction", "inbound",
				"namespace", t.Namespace,
				"deployment", t.Workload)
		},
		responses:       "response_total",
		notServerError:  `classification!="failure"`,
		durationBuckets: "response_latency_ms_bucket",
	},
	// NGINX Gateway Fabric gives every backendRef's Service and port its own
	// NGINX upstream, <namespace>_<service>_<port>. Per-upstream counts come
	// from NGINX Plus only, through NGINX Agent's OpenTelemetry metrics, and
	// are grouped by status range.
	NGINXGatewayFabric: {
		selector: func(t Target) (string, error) {
			ns, err := promRegex(t.Namespace)
			if err != nil {
				return "", fmt.Errorf("namespace: %w", err)
			}
			svc, err := promRegex(t.Service)
			if err != nil {
				return "", fmt.Errorf("service name: %w", err)
			}
			return `nginx_upstream_name=~"` + ns + "_" + svc + `_[0-9]+"`, nil
		},
		responses:      "nginx_http_upstream_peer_responses_total",
		notServerError: `nginx_status_range!="5xx"`,
		missing: map[Template]string{
			RequestDurationP99: "NGINX reports only an average response time per upstream peer (nginx_http_upstream_peer_response_time_milliseconds), no histogram, so no percentile can be computed",
		},
	},
}

const envoyGatewayOneCluster = "Envoy Gateway counts all backendRefs of an HTTPRoute rule in one Envoy cluster (httproute/<namespace>/<route>/rule/<index>), so its metrics cannot tell the canary from stable"

// traefikNormalize is how Traefik turns a name into a service name: every
// run of characters that are not letters or digits becomes a single '-',
// and none is left at either end.
func traefikNormalize(name string) string {
	fields := strings.FieldsFunc(name, func(r rune) bool { return !isLetterOrNumber(r) })
	return strings.Join(fields, "-")
}

// promRegex escapes s to match itself literally in a PromQL regular
// expression (RE2) that is written inside a double-quoted string literal:
// first the regular expression's metacharacters, then the string literal's
// backslashes and quotes.
func promRegex(s string) (string, error) {
	return escapePromQLString(regexp.QuoteMeta(s))
}

// labelMatchers writes name="value" matchers for pairs of name and value,
// each value escaped for a PromQL string literal.
func labelMatchers(pairs ...string) (string, error) {
	var parts []string
	for i := 0; i+1 < len(pairs); i += 2 {
		v, err := escapePromQLString(pairs[i+1])
		if err != nil {
			return "", fmt.Errorf("label %s: %w", pairs[i], err)
		}
		parts = append(parts, pairs[i]+`="`+v+`"`)
	}
	return strings.Join(parts, ","), nil
}

func joinNames[T ~string](names []T) string {
	s := make([]string, len(names))
	for i, n := range names {
		s[i] = string(n)
	}
	return strings.Join(s, ", ")
}

// isLetterOrNumber is unicode.IsLetter || unicode.IsNumber, Traefik's test.
func isLetterOrNumber(r rune) bool { return unicode.IsLetter(r) || unicode.IsNumber(r) }
