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
	"sync"

	"k8s.io/apimachinery/pkg/types"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
)

// statusMemo remembers the last status the reconciler wrote for each
// Microservice. A reconcile that starts before the cache has seen that write
// (children's events often queue one right behind it) builds on the
// remembered status instead of the stale copy, so it neither writes the same
// status twice nor repeats a transition (and its event) it already made.
//
// An entry is forgotten as soon as the cache has caught up with the write:
// when the informer delivers it (observe), or when a reconcile reads it
// (restore). An entry the informer delivers while a reconcile of the same
// Microservice runs is kept until that reconcile ends, since it may hold a
// copy read before.
type statusMemo struct {
	mu sync.Mutex
	m  map[types.NamespacedName]*writtenStatus
	// inflight counts the running reconciles of each Microservice.
	inflight map[types.NamespacedName]int
	// seen is the last version the informer delivered of a Microservice
	// while a reconcile of it ran: the watch event of a write often comes
	// before the write's own response, and so before record.
	seen map[types.NamespacedName]string
}

// maxSuperseded bounds the resourceVersions remembered per Microservice.
const maxSuperseded = 32

type writtenStatus struct {
	uid types.UID
	// latest is the resourceVersion the last write produced.
	latest string
	// superseded are resourceVersions older than latest that this reconciler
	// saw or produced: a cached copy at one of them is stale.
	superseded map[string]bool
	status     msv1.MicroserviceStatus
	// observed is true once the cache has caught up with latest while a
	// reconcile was running; the entry goes when the reconcile ends.
	observed bool
}

// restore replaces ms.Status with the last written status when ms is a copy
// from before that write.
func (s *statusMemo) restore(ms *msv1.Microservice) {
	s.mu.Lock()
	defer s.mu.Unlock()
	w, ok := s.m[types.NamespacedName{Namespace: ms.Namespace, Name: ms.Name}]
	if !ok || w.uid != ms.UID {
		return
	}
	switch {
	case ms.ResourceVersion == w.latest:
		// The cache has caught up, and an informer never goes back: there
		// is nothing left to remember. (At thousands of Microservices the
		// memo would otherwise hold a second copy of every status.)
		delete(s.m, types.NamespacedName{Namespace: ms.Namespace, Name: ms.Name})
	case w.superseded[ms.ResourceVersion]:
		ms.Status = *w.status.DeepCopy()
	}
}

// record remembers that ms.Status was written over resourceVersion rvBefore,
// producing ms.ResourceVersion.
func (s *statusMemo) record(ms *msv1.Microservice, rvBefore string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[types.NamespacedName]*writtenStatus{}
	}
	key := types.NamespacedName{Namespace: ms.Namespace, Name: ms.Name}
	w, ok := s.m[key]
	if !ok || w.uid != ms.UID || len(w.superseded) >= maxSuperseded {
		w = &writtenStatus{uid: ms.UID, superseded: map[string]bool{}}
		s.m[key] = w
	}
	w.superseded[rvBefore] = true
	if w.latest != "" {
		w.superseded[w.latest] = true
	}
	w.latest = ms.ResourceVersion
	w.observed = s.seen[key] == ms.ResourceVersion
	w.status = *ms.Status.DeepCopy()
}

// begin marks a reconcile of key as running, before it reads the cache.
func (s *statusMemo) begin(key types.NamespacedName) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inflight == nil {
		s.inflight = map[types.NamespacedName]int{}
	}
	s.inflight[key]++
}

// end marks a reconcile of key as finished, and forgets the entry if the
// cache caught up with it meanwhile.
func (s *statusMemo) end(key types.NamespacedName) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inflight[key]--; s.inflight[key] > 0 {
		return
	}
	delete(s.inflight, key)
	delete(s.seen, key)
	if w, ok := s.m[key]; ok && w.observed {
		delete(s.m, key)
	}
}

// observe is told of every version of a Microservice the cache stores. Once
// the cache holds the last written version, or a later one, the entry is no
// longer needed: a reconcile that starts now reads that version or a later
// one, and an informer never goes back.
func (s *statusMemo) observe(ms *msv1.Microservice) {
	key := types.NamespacedName{Namespace: ms.Namespace, Name: ms.Name}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inflight[key] > 0 {
		if s.seen == nil {
			s.seen = map[types.NamespacedName]string{}
		}
		s.seen[key] = ms.ResourceVersion
	}
	w, ok := s.m[key]
	if !ok || w.uid != ms.UID || w.superseded[ms.ResourceVersion] {
		return
	}
	if s.inflight[key] > 0 {
		w.observed = true
		return
	}
	delete(s.m, key)
}

func (s *statusMemo) forget(key types.NamespacedName) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, key)
}
