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

package shard

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"
)

func TestOf(t *testing.T) {
	// The hash must never change between releases: an upgrade would move
	// every namespace to another shard at once. These values pin it.
	for _, tc := range []struct {
		namespace string
		labels    map[string]string
		shards    int
		want      int
	}{
		{"default", nil, 6, -1}, {"shop", nil, 6, -1}, {"payments", nil, 5, -1},
		{"shop", map[string]string{Label: "4"}, 6, 4},
		{"shop", map[string]string{Label: "0"}, 6, 0},
		{"shop", map[string]string{Label: "6"}, 6, Of("shop", nil, 6)},  // out of range: the hash
		{"shop", map[string]string{Label: "-1"}, 6, Of("shop", nil, 6)}, // negative: the hash
		{"shop", map[string]string{Label: "two"}, 6, Of("shop", nil, 6)},
		{"shop", map[string]string{Label: "3"}, 1, 0}, // no sharding
	} {
		got := Of(tc.namespace, tc.labels, tc.shards)
		if tc.want >= 0 && got != tc.want {
			t.Errorf("Of(%q, %v, %d) = %d, want %d", tc.namespace, tc.labels, tc.shards, got, tc.want)
		}
		if got < 0 || got >= max(tc.shards, 1) {
			t.Errorf("Of(%q, %v, %d) = %d, out of range", tc.namespace, tc.labels, tc.shards, got)
		}
	}
	pinned := fmt.Sprint(Of("default", nil, 6), Of("shop", nil, 6), Of("payments", nil, 5), Of("kube-system", nil, 16))
	if pinned != pinnedHashes {
		t.Errorf("the namespace hash changed: %s, was %s", pinned, pinnedHashes)
	}
}

// pinnedHashes are the shards of default, shop (of 6), payments (of 5)
// and kube-system (of 16): FNV-1a of the namespace, modulo the shards.
const pinnedHashes = "0 5 3 14"

func TestOfSpreads(t *testing.T) {
	counts := make([]int, 8)
	for i := range 8000 {
		counts[Of(fmt.Sprintf("team-%d", i), nil, 8)]++
	}
	for s, n := range counts {
		if n < 800 || n > 1200 {
			t.Errorf("shard %d got %d of 8000 namespaces, want about 1000: %v", s, n, counts)
		}
	}
}

func TestNewRefuses(t *testing.T) {
	var c client.Client = struct{ client.Client }{} // New makes no request
	ok := Options{Namespace: "ops", Name: "msvc", Shards: 3, Identity: "a"}
	for _, tc := range []struct {
		name string
		edit func(*Options)
		want string
	}{
		{"one shard", func(o *Options) { o.Shards = 1 }, "2 shards or more"},
		{"no identity", func(o *Options) { o.Identity = "" }, "identity"},
		{"lease under a second", func(o *Options) { o.LeaseDuration, o.RenewDeadline = 500*time.Millisecond, 100*time.Millisecond }, "1s or more"},
		{"renew deadline not shorter", func(o *Options) { o.LeaseDuration, o.RenewDeadline = 5*time.Second, 5*time.Second }, "must be shorter"},
	} {
		o := ok
		o.Client = c
		tc.edit(&o)
		if _, err := New(o); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: New = %v, want an error with %q", tc.name, err, tc.want)
		}
	}
}
