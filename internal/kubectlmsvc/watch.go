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

package kubectlmsvc

import (
	"context"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
	"github.com/msvc-dev/msvc-operator/internal/builder"
)

// redrawAfter gathers the events of one change (a status write, then the
// Deployments it moved) into one redraw.
const redrawAfter = 100 * time.Millisecond

// WatchChanges draws Get, then draws it again each time the API server's watch
// reports a change of the Microservice or of one of its Deployments, until
// ctx ends. A watch the server closes (they time out) is opened again.
func WatchChanges(ctx context.Context, c client.WithWatch, ns, name string, p Printer) error {
	return redrawUntilDone(ctx, p, func() error { return Get(ctx, c, ns, name, p) }, func() (<-chan watch.Event, func(), error) {
		return watchTree(ctx, c, ns, name)
	})
}

// redrawUntilDone draws with get, then again after each burst of events of
// the watches open gives, until ctx ends; it opens them again when the
// server closes one.
func redrawUntilDone(ctx context.Context, p Printer, get func() error, open func() (<-chan watch.Event, func(), error)) error {
	draw := func() error {
		if p.Color {
			if err := write(p.Out, "\033[H\033[2J"); err != nil {
				return err
			}
		}
		if err := get(); err != nil {
			return err
		}
		if !p.Color {
			return write(p.Out, "\n")
		}
		return nil
	}
	for {
		if err := draw(); err != nil {
			return err
		}
		changes, stop, err := open()
		if err != nil {
			return err
		}
		err = redrawOnChange(ctx, changes, draw)
		stop()
		if err != nil || ctx.Err() != nil {
			return err
		}
	}
}

// watchTree merges a watch of the Microservice and one of its Deployments.
func watchTree(ctx context.Context, c client.WithWatch, ns, name string) (<-chan watch.Event, func(), error) {
	ms, err := c.Watch(ctx, &msv1.MicroserviceList{}, client.InNamespace(ns), client.MatchingFields{"metadata.name": name})
	if err != nil {
		return nil, nil, fmt.Errorf("watching Microservice %s/%s: %w", ns, name, err)
	}
	deployments, err := c.Watch(ctx, &appsv1.DeploymentList{}, client.InNamespace(ns), client.MatchingLabels{builder.LabelMicroservice: name})
	if err != nil {
		ms.Stop()
		return nil, nil, fmt.Errorf("watching the Deployments of %s/%s: %w", ns, name, err)
	}
	out, stop := merge(ms, deployments)
	return out, stop, nil
}

// merge forwards the events of every watch to one channel; when one watch
// closes, it sends an Error event, so that all are opened again.
func merge(watches ...watch.Interface) (<-chan watch.Event, func()) {
	out := make(chan watch.Event)
	done := make(chan struct{})
	forward := func(w watch.Interface) {
		for ev := range w.ResultChan() {
			select {
			case out <- ev:
			case <-done:
				return
			}
		}
		select {
		case out <- watch.Event{Type: watch.Error}:
		case <-done:
		}
	}
	for _, w := range watches {
		go forward(w)
	}
	return out, func() {
		close(done)
		for _, w := range watches {
			w.Stop()
		}
	}
}

// redrawOnChange redraws after each burst of events, and returns when a
// watch closed or ctx ended.
func redrawOnChange(ctx context.Context, changes <-chan watch.Event, draw func() error) error {
	var pending <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev := <-changes:
			if ev.Type == watch.Error {
				return nil
			}
			if pending == nil {
				pending = time.After(redrawAfter)
			}
		case <-pending:
			pending = nil
			if err := draw(); err != nil {
				return err
			}
		}
	}
}
