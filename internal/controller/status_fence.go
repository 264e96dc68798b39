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
	"k8s.io/apimachinery/pkg/util/resourceversion"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
)

// statusFence remembers the resourceVersion each status write produced,
// until the cache has caught up with it. A reconcile that would start from
// an older copy of the Microservice (children's events often queue one right
// behind the write) waits for the cache instead, as Cluster API's
// controllers do: the operator never plans twice from the same state, so it
// neither repeats a transition and its event nor writes a status it has
// already written.
//
// Only resourceVersions are kept, never a copy of a status, and an entry
// goes as soon as the cache holds its version or a later one.
type statusFence struct {
	mu sync.Mutex
	m  map[types.NamespacedName]written
}

type written struct {
	uid types.UID
	rv  string
}

// wrote remembers that ms's status was written at ms.ResourceVersion.
func (f *statusFence) wrote(ms *msv1.Microservice) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.m == nil {
		f.m = map[types.NamespacedName]written{}
	}
	f.m[types.NamespacedName{Namespace: ms.Namespace, Name: ms.Name}] = written{uid: ms.UID, rv: ms.ResourceVersion}
}

// behind reports whether ms is a copy from before the last status write of
// the reconciler; it forgets the write once ms has caught up with it.
func (f *statusFence) behind(ms *msv1.Microservice) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	key := types.NamespacedName{Namespace: ms.Namespace, Name: ms.Name}
	w, ok := f.m[key]
	if !ok {
		return false
	}
	if w.uid != ms.UID || !olderThan(ms.ResourceVersion, w.rv) {
		delete(f.m, key)
		return false
	}
	return true
}

// observe is told of every version of a Microservice the cache stores.
func (f *statusFence) observe(ms *msv1.Microservice) {
	f.behind(ms)
}

func (f *statusFence) forget(key types.NamespacedName) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.m, key)
}

// olderThan reports whether resourceVersion a is older than b. The
// resourceVersions of a kube-apiserver are comparable integers; one that is
// not (an aggregated or unusual server) is taken as caught up.
func olderThan(a, b string) bool {
	c, err := resourceversion.CompareResourceVersion(a, b)
	return err == nil && c < 0
}
