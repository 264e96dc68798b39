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
	"slices"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/types"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
)

// dependentsDelay is how long a status change that only touches
// status.dependents may wait before it is written on its own. Dependents
// usually arrive in bursts (an application applied at once), and a new
// service soon has a status write of its own that carries the list along.
const dependentsDelay = 10 * time.Second

// dependentsCoalescer holds back status writes whose only change is the list
// of dependents: such a change is caused by neighbours, not by the
// Microservice itself, and one write per burst of neighbours is enough.
type dependentsCoalescer struct {
	mu sync.Mutex
	// since is when a Microservice's pending change to status.dependents was first held back.
	since map[types.NamespacedName]time.Time
}

// hold reports how long the status write of ms may still wait: zero when it
// must be written now, because something else changed too, or because a
// change to its dependents has waited dependentsDelay already.
func (c *dependentsCoalescer) hold(before, after *msv1.Microservice, now time.Time) time.Duration {
	key := types.NamespacedName{Namespace: after.Namespace, Name: after.Name}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !onlyDependentsChanged(before.Status, after.Status) {
		delete(c.since, key)
		return 0
	}
	if c.since == nil {
		c.since = map[types.NamespacedName]time.Time{}
	}
	first, ok := c.since[key]
	if !ok {
		c.since[key] = now
		return dependentsDelay
	}
	if wait := dependentsDelay - now.Sub(first); wait > 0 {
		return wait
	}
	delete(c.since, key)
	return 0
}

func (c *dependentsCoalescer) forget(key types.NamespacedName) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.since, key)
}

// onlyDependentsChanged reports whether after differs from before in
// status.dependents and nowhere else.
func onlyDependentsChanged(before, after msv1.MicroserviceStatus) bool {
	if slices.Equal(before.Dependents, after.Dependents) {
		return false
	}
	after.Dependents = before.Dependents
	return equality.Semantic.DeepEqual(before, after)
}
