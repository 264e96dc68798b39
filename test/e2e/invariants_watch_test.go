//go:build e2e

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

package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
)

// invariants watches every Microservice, and every Pod and ReplicaSet of a
// Microservice, in every namespace from BeforeSuite to AfterSuite, which
// judges the two invariants on the whole history (invariants_test.go):
//
//  1. no pod of a Microservice is created before every required dependency
//     of that Microservice is Available;
//  2. no ReplicaSet asking for pods has a template whose app container lacks
//     the variable of a required dependency.
var invariants *invariantWatch

type invariantWatch struct {
	h      *history
	c      client.WithWatch
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// Each watch reconnects from the last version it received when the server
// ends it, a bounded number of times, and at most once a second.
const (
	maxWatches   = 300
	rewatchDelay = time.Second
)

func startInvariants(cfg *rest.Config, scheme *runtime.Scheme) *invariantWatch {
	c, err := client.NewWithWatch(cfg, client.Options{Scheme: scheme})
	if err != nil {
		Fail(fmt.Sprintf("a watching client: %v", err))
	}
	ctx, cancel := context.WithCancel(context.Background())
	w := &invariantWatch{h: newHistory(), c: c, cancel: cancel}
	ofMicroservices := client.HasLabels{microserviceLabel}
	listed := []chan struct{}{make(chan struct{}), make(chan struct{}), make(chan struct{})}
	w.wg.Add(3)
	go w.watch(ctx, listed[0], "Microservice", &msv1.MicroserviceList{}, func(obj client.Object, deleted bool) {
		w.h.recordService(obj.(*msv1.Microservice), deleted, time.Now())
	})
	go w.watch(ctx, listed[1], "Pod", &corev1.PodList{}, func(obj client.Object, _ bool) {
		w.h.recordPod(obj.(*corev1.Pod))
	}, ofMicroservices)
	go w.watch(ctx, listed[2], "ReplicaSet", &appsv1.ReplicaSetList{}, func(obj client.Object, _ bool) {
		w.h.recordReplicaSet(obj.(*appsv1.ReplicaSet))
	}, ofMicroservices)
	// The CRD may have been applied a moment ago: its first lists can fail
	// until it is established.
	timeout := time.After(time.Minute)
	for _, l := range listed {
		select {
		case <-l:
		case <-timeout:
			cancel()
			Fail("the invariants' watchers could not list Microservices, Pods and ReplicaSets within a minute")
		}
	}
	return w
}

// watch lists, then watches from the list's version, handing every object
// received to handle. It lists again only when the server no longer has the
// version it would resume from; that gap is noted in the report.
func (w *invariantWatch) watch(ctx context.Context, listed chan struct{}, kind string, list client.ObjectList, handle func(client.Object, bool), opts ...client.ListOption) {
	defer w.wg.Done()
	defer GinkgoRecover()
	rv, first := "", true
	for attempt := 0; attempt < maxWatches && ctx.Err() == nil; attempt++ {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(rewatchDelay):
			}
		}
		if rv == "" {
			fresh := list.DeepCopyObject().(client.ObjectList)
			if err := w.c.List(ctx, fresh, opts...); err != nil {
				continue
			}
			if !first {
				w.h.note("%s: listed again after the watch's version expired; versions in between were not seen", kind)
			}
			_ = apimeta.EachListItem(fresh, func(o runtime.Object) error {
				handle(o.(client.Object), false)
				return nil
			})
			rv = fresh.GetResourceVersion()
			if first {
				first = false
				close(listed)
			}
		}
		from := &client.ListOptions{Raw: &metav1.ListOptions{ResourceVersion: rv, AllowWatchBookmarks: true}}
		wi, err := w.c.Watch(ctx, list, append(opts, from)...)
		if err != nil {
			if apierrors.IsResourceExpired(err) || apierrors.IsGone(err) {
				rv = ""
			}
			continue
		}
		for ev := range wi.ResultChan() {
			switch ev.Type {
			case watch.Error:
				if err := apierrors.FromObject(ev.Object); apierrors.IsResourceExpired(err) || apierrors.IsGone(err) {
					rv = ""
				}
			case watch.Bookmark:
				if obj, ok := ev.Object.(client.Object); ok {
					rv = obj.GetResourceVersion()
				}
			default:
				if obj, ok := ev.Object.(client.Object); ok {
					handle(obj, ev.Type == watch.Deleted)
					rv = obj.GetResourceVersion()
				}
			}
		}
		wi.Stop()
	}
}

// caughtUp waits, a bounded time, until the watchers have received the
// current version of every object a fresh list returns.
func (w *invariantWatch) caughtUp(timeout time.Duration) []string {
	deadline := time.Now().Add(timeout)
	for {
		var missed []string
		for _, l := range []struct {
			kind string
			list client.ObjectList
			opts []client.ListOption
		}{
			{"Microservice", &msv1.MicroserviceList{}, nil},
			{"Pod", &corev1.PodList{}, []client.ListOption{client.HasLabels{microserviceLabel}}},
			{"ReplicaSet", &appsv1.ReplicaSetList{}, []client.ListOption{client.HasLabels{microserviceLabel}}},
		} {
			if err := w.c.List(context.Background(), l.list, l.opts...); err != nil {
				missed = append(missed, fmt.Sprintf("listing %s: %v", l.kind, err))
				continue
			}
			var objs []metav1.Object
			_ = apimeta.EachListItem(l.list, func(o runtime.Object) error {
				objs = append(objs, o.(metav1.Object))
				return nil
			})
			missed = append(missed, w.h.missedVersions(l.kind, objs)...)
		}
		if len(missed) == 0 || time.Now().After(deadline) {
			return missed
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// finish stops the watchers once they have caught up with the cluster and
// judges the history. It returns the violations, and a failure of its own
// when a judge checked nothing: an invariant that checked nothing proves
// nothing.
func (w *invariantWatch) finish() []string {
	missed := w.caughtUp(15 * time.Second)
	w.cancel()
	w.wg.Wait()
	podsChecked, podViolations := w.h.judgePods()
	rsChecked, rsViolations := w.h.judgeReplicaSets()

	w.h.mu.Lock()
	versions := 0
	for _, v := range w.h.services {
		versions += len(v)
	}
	summary := fmt.Sprintf("Microservice versions seen: %d\n"+
		"1. no pod before its dependencies: %d pods seen, %d with required dependencies checked, %d violations\n"+
		"2. no pod template without its dependency environment: %d ReplicaSet versions seen, %d asking for pods with required dependencies checked, %d violations\n",
		versions, len(w.h.pods), podsChecked, len(podViolations), len(w.h.replicaSets), rsChecked, len(rsViolations))
	notes := append([]string(nil), w.h.notes...)
	w.h.mu.Unlock()
	for _, n := range notes {
		summary += "note: " + n + "\n"
	}
	for _, m := range missed {
		summary += "note: not caught up at the end: " + m + "\n"
	}

	failures := append(podViolations, rsViolations...)
	if podsChecked == 0 {
		failures = append(failures, "invariant 1 checked no pod of a Microservice with required dependencies")
	}
	if rsChecked == 0 {
		failures = append(failures, "invariant 2 checked no ReplicaSet version asking for pods of a Microservice with required dependencies")
	}
	full := summary + strings.Join(failures, "\n") + "\n" + w.h.versionsOf(failures)
	path := filepath.Join(state, "e2e-invariants.txt")
	if err := os.WriteFile(path, []byte(full), 0o644); err == nil {
		summary += "full report: " + path + "\n"
	}
	AddReportEntry("invariants", summary)
	fmt.Fprint(GinkgoWriter, summary)
	return failures
}
