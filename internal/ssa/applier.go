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

// Package ssa applies desired objects with server-side apply under one field
// manager, and skips the request when it would change nothing.
//
// A server-side apply that changes nothing is still a write request. To make
// a reconcile of an unchanged Microservice free, the Applier remembers, per
// object, the hash of the configuration it last applied and a fingerprint of
// the live object before and after that apply. When the desired configuration
// hashes the same and the live object still has one of those fingerprints
// (the cache may lag one step behind the apply), nothing has changed on
// either side and the request is skipped.
//
// The fingerprint is the object's generation plus its labels, annotations and
// owner references, so status updates (a Deployment rolling out) cost
// nothing, while any edit of the spec or metadata by someone else changes it
// and is put back. Objects without a generation fall back to their
// resourceVersion.
package ssa

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"sync"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// FieldManager is the one field manager under which the operator applies
// every child it owns.
const FieldManager = "msvc-operator"

// ApplyConfiguration is what the generated apply configurations implement.
type ApplyConfiguration interface {
	runtime.ApplyConfiguration
	GetName() *string
	GetNamespace() *string
	GetKind() *string
}

// Ref identifies an object for the Applier.
type Ref struct {
	Kind      string
	Namespace string
	Name      string
}

// RefOf is the Ref of a live object of the given kind.
func RefOf(kind string, obj client.Object) Ref {
	return Ref{Kind: kind, Namespace: obj.GetNamespace(), Name: obj.GetName()}
}

// sum is a hash, kept as an array rather than a hex string: the Applier holds
// three for every child, and at thousands of Microservices records without
// pointers are less memory and no work for the garbage collector.
type sum [sha256.Size]byte

// fingerprintSum is a fingerprint; the zero value is an object that does not exist.
type fingerprintSum [16]byte

type record struct {
	hash   sum
	before fingerprintSum // of the live object before the apply; zero if it did not exist
	after  fingerprintSum // of the object the apply returned
}

// Applier applies objects and remembers what it applied. It is safe for
// concurrent use.
type Applier struct {
	Client client.Client
	// Owner is the field manager; FieldManager when empty.
	Owner string

	mu      sync.Mutex
	applied map[Ref]record
}

// Apply applies desired with forced ownership, unless live already is what
// this Applier last applied. live is the object from the cache: the zero
// object (empty resourceVersion) when it does not exist. After a request, live
// holds the object the API server returned. Apply reports whether it sent a
// request.
func (a *Applier) Apply(ctx context.Context, desired ApplyConfiguration, live client.Object) (bool, error) {
	ref := Ref{Kind: ptr.Deref(desired.GetKind(), ""), Namespace: ptr.Deref(desired.GetNamespace(), ""), Name: ptr.Deref(desired.GetName(), "")}
	hash, err := hashOf(desired)
	if err != nil {
		return false, err
	}
	before := fingerprint(live)
	if a.upToDate(ref, hash, before) {
		return false, nil
	}

	owner := a.Owner
	if owner == "" {
		owner = FieldManager
	}
	if err := a.Client.Apply(ctx, desired, client.FieldOwner(owner), client.ForceOwnership); err != nil {
		a.Forget(ref)
		return true, fmt.Errorf("applying %s %s/%s: %w", ref.Kind, ref.Namespace, ref.Name, err)
	}
	// The client decoded the API server's answer into desired.
	data, err := json.Marshal(desired)
	if err != nil {
		return true, fmt.Errorf("reading applied %s %s/%s: %w", ref.Kind, ref.Namespace, ref.Name, err)
	}
	if err := json.Unmarshal(data, live); err != nil {
		return true, fmt.Errorf("reading applied %s %s/%s: %w", ref.Kind, ref.Namespace, ref.Name, err)
	}
	a.remember(ref, record{hash: hash, before: before, after: fingerprint(live)})
	return true, nil
}

// Forget drops what the Applier remembers of ref. Call it when the object is
// deleted, so that a child deleted by hand is created again.
func (a *Applier) Forget(ref Ref) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.applied, ref)
}

func (a *Applier) upToDate(ref Ref, hash sum, live fingerprintSum) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	rec, ok := a.applied[ref]
	if !ok || rec.hash != hash {
		return false
	}
	// The live object is what the last apply returned, or the cache has not
	// caught up with that apply yet.
	return live == rec.after || live == rec.before
}

func (a *Applier) remember(ref Ref, rec record) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.applied == nil {
		a.applied = map[Ref]record{}
	}
	a.applied[ref] = rec
}

// fingerprint changes whenever the object's spec or metadata changes, and
// not when only its status does. It is zero for an object that does not
// exist. Objects without a generation fall back to their resourceVersion.
func fingerprint(obj client.Object) fingerprintSum {
	if obj.GetResourceVersion() == "" {
		return fingerprintSum{}
	}
	var data []byte
	if obj.GetGeneration() == 0 {
		data = []byte("rv:" + obj.GetResourceVersion())
	} else {
		data, _ = json.Marshal(struct {
			G int64 `json:"g"`
			L any   `json:"l"`
			A any   `json:"a"`
			O any   `json:"o"`
		}{obj.GetGeneration(), obj.GetLabels(), obj.GetAnnotations(), obj.GetOwnerReferences()})
	}
	full := sha256.Sum256(data)
	return fingerprintSum(full[:16])
}

func hashOf(desired any) (sum, error) {
	data, err := json.Marshal(desired)
	if err != nil {
		return sum{}, fmt.Errorf("hashing apply configuration: %w", err)
	}
	return sha256.Sum256(data), nil
}
