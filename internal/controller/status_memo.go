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
// remembered status instead of the stale copy, and so does not write the same
// status twice.
type statusMemo struct {
	mu sync.Mutex
	m  map[types.NamespacedName]writtenStatus
}

type writtenStatus struct {
	uid types.UID
	// rvBefore is the resourceVersion the Microservice had before the write.
	rvBefore string
	status   msv1.MicroserviceStatus
}

// restore replaces ms.Status with the last written status when ms is the
// stale copy from before that write.
func (s *statusMemo) restore(ms *msv1.Microservice) {
	s.mu.Lock()
	defer s.mu.Unlock()
	w, ok := s.m[types.NamespacedName{Namespace: ms.Namespace, Name: ms.Name}]
	if ok && w.uid == ms.UID && w.rvBefore == ms.ResourceVersion {
		ms.Status = *w.status.DeepCopy()
	}
}

// record remembers that ms.Status was written over resourceVersion rvBefore.
func (s *statusMemo) record(ms *msv1.Microservice, rvBefore string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[types.NamespacedName]writtenStatus{}
	}
	s.m[types.NamespacedName{Namespace: ms.Namespace, Name: ms.Name}] = writtenStatus{uid: ms.UID, rvBefore: rvBefore, status: *ms.Status.DeepCopy()}
}

func (s *statusMemo) forget(key types.NamespacedName) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, key)
}
