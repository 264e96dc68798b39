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

// Command demohelper stands in for the data plane of the local demo and the
// end-to-end tests, where kwok's pods serve no traffic and no Gateway
// controller runs:
//
//   - it serves per-track request counters, http_requests_total{namespace,
//     service,track,code}, growing at 100 requests a second with a success
//     ratio the scenario sets (POST /ratio?namespace=&service=&track=&ratio=);
//     Prometheus scrapes them and the operator's analysis queries Prometheus
//     as in production;
//   - it accepts every HTTPRoute on each of its parents, as a Gateway
//     controller would, so that routes report Accepted.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"time"

	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

const controllerName = "msvc.dev/demo-gateway"

type series struct{ namespace, service, track string }

type traffic struct {
	mu      sync.Mutex
	ratios  map[series]float64
	ok, bad map[series]float64
	last    time.Time
}

// advance adds the requests served since the last scrape.
func (t *traffic) advance(now time.Time) {
	dt := now.Sub(t.last).Seconds()
	t.last = now
	for s, r := range t.ratios {
		t.ok[s] += 100 * dt * r
		t.bad[s] += 100 * dt * (1 - r)
	}
}

func (t *traffic) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch r.URL.Path {
	case "/ratio":
		q := r.URL.Query()
		ratio, err := strconv.ParseFloat(q.Get("ratio"), 64)
		if err != nil || ratio < 0 || ratio > 1 || q.Get("service") == "" {
			http.Error(w, "want namespace, service, track and ratio in [0,1]", http.StatusBadRequest)
			return
		}
		t.advance(time.Now())
		t.ratios[series{q.Get("namespace"), q.Get("service"), q.Get("track")}] = ratio
		fmt.Fprintln(w, "ok")
	case "/metrics":
		t.advance(time.Now())
		keys := make([]series, 0, len(t.ratios))
		for s := range t.ratios {
			keys = append(keys, s)
		}
		sort.Slice(keys, func(i, j int) bool { return fmt.Sprint(keys[i]) < fmt.Sprint(keys[j]) })
		fmt.Fprintln(w, "# TYPE http_requests_total counter")
		for _, s := range keys {
			for code, n := range map[string]float64{"200": t.ok[s], "500": t.bad[s]} {
				fmt.Fprintf(w, "http_requests_total{namespace=%q,service=%q,track=%q,code=%q} %d\n", s.namespace, s.service, s.track, code, int64(n))
			}
		}
	default:
		http.NotFound(w, r)
	}
}

// acceptRoutes marks every parent of every HTTPRoute as having accepted it.
func acceptRoutes(ctx context.Context, c client.Client) {
	for {
		routes := &gwv1.HTTPRouteList{}
		if err := c.List(ctx, routes); err == nil {
			for i := range routes.Items {
				accept(ctx, c, &routes.Items[i])
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}

func accept(ctx context.Context, c client.Client, r *gwv1.HTTPRoute) {
	want := make([]gwv1.RouteParentStatus, 0, len(r.Spec.ParentRefs))
	for _, ref := range r.Spec.ParentRefs {
		want = append(want, gwv1.RouteParentStatus{
			ParentRef:      ref,
			ControllerName: controllerName,
			Conditions: []metav1.Condition{{
				Type: string(gwv1.RouteConditionAccepted), Status: metav1.ConditionTrue, Reason: "Accepted",
				Message: "Accepted by the demo gateway", ObservedGeneration: r.Generation, LastTransitionTime: metav1.Now(),
			}},
		})
	}
	current := true
	if len(r.Status.Parents) != len(want) {
		current = false
	}
	for _, p := range r.Status.Parents {
		c := apimeta.FindStatusCondition(p.Conditions, string(gwv1.RouteConditionAccepted))
		current = current && c != nil && c.ObservedGeneration == r.Generation
	}
	if current {
		return
	}
	r.Status.Parents = want
	if err := c.Status().Update(ctx, r); err != nil {
		log.Printf("accepting HTTPRoute %s/%s: %v", r.Namespace, r.Name, err)
	}
}

func main() {
	addr := flag.String("listen", "127.0.0.1:9464", "Address of /metrics and /ratio.")
	routes := flag.Bool("accept-routes", true, "Accept every HTTPRoute, as a Gateway controller would.")
	flag.Parse()

	t := &traffic{ratios: map[series]float64{}, ok: map[series]float64{}, bad: map[series]float64{}, last: time.Now()}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	if *routes {
		scheme := runtime.NewScheme()
		if err := gwv1.Install(scheme); err != nil {
			log.Fatal(err)
		}
		c, err := client.New(ctrl.GetConfigOrDie(), client.Options{Scheme: scheme})
		if err != nil {
			log.Fatal(err)
		}
		go acceptRoutes(ctx, c)
	}
	srv := &http.Server{Addr: *addr, Handler: t, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	log.Printf("Serving request metrics on http://%s/metrics", *addr)
	if err := srv.ListenAndServe(); err != nil && err != http.ErrServerClosed {
		log.Fatal(err)
	}
}
