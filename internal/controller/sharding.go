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

	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
	"github.com/msvc-dev/msvc-operator/internal/shard"
)

// claim says whether this manager reconciles the Microservice of req now:
// always without sharding, and with it while it holds the Microservice's
// shard. release must be called when the reconcile ends.
func (r *MicroserviceReconciler) claim(ctx context.Context, req reconcile.Request) (release func(), ok bool, err error) {
	if r.Shards == nil {
		return func() {}, true, nil
	}
	// The shard label is read from the cache, without a copy (only read);
	// a Microservice gone from it is claimed by its namespace, and the
	// reconcile finds it gone.
	cached := &msv1.Microservice{}
	if err := r.Get(ctx, req.NamespacedName, cached, client.UnsafeDisableDeepCopy); client.IgnoreNotFound(err) != nil {
		return nil, false, err
	}
	release, ok = r.Shards.Claim(req.Namespace, cached.Labels)
	return release, ok, nil
}

// ShardAcquired queues every Microservice of shard s: the manager that
// held it before may have left work undone. It is the shard Coordinator's
// Acquired callback.
func (r *MicroserviceReconciler) ShardAcquired(ctx context.Context, s int) {
	if r.shardEvents == nil {
		return
	}
	go func() {
		list := &msv1.MicroserviceList{}
		if err := r.List(ctx, list, client.UnsafeDisableDeepCopy); err != nil {
			logf.FromContext(ctx).Error(err, "Listing the Microservices of a shard taken over", "shard", s)
			return
		}
		for i := range list.Items {
			ms := &list.Items[i]
			if shard.Of(ms.Namespace, ms.Labels, r.Shards.Shards()) != s {
				continue
			}
			select {
			case r.shardEvents <- event.TypedGenericEvent[*msv1.Microservice]{Object: ms}:
			case <-ctx.Done():
				return
			}
		}
	}()
}

// shardSource is the source of the Microservices of the shards taken.
func (r *MicroserviceReconciler) shardSource() source.Source {
	r.shardEvents = make(chan event.TypedGenericEvent[*msv1.Microservice])
	return source.Channel(r.shardEvents, &handler.TypedEnqueueRequestForObject[*msv1.Microservice]{})
}
