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

// Package memlimit gives the Go runtime a soft memory limit derived from the
// container's memory limit.
//
// Without one, the heap of a Go process grows to twice its live size before
// a collection (GOGC=100), and a cache of thousands of objects makes that
// growth the largest part of the operator's memory. With a soft limit the
// runtime collects more often as it nears the limit instead of growing past
// it. The manifests hand the container's limit to the process through the
// downward API (MEMORY_LIMIT, from resourceFieldRef limits.memory).
package memlimit

import (
	"fmt"
	"runtime/debug"

	"k8s.io/apimachinery/pkg/api/resource"
)

// EnvVar holds the container's memory limit, in bytes or as a quantity.
const EnvVar = "MEMORY_LIMIT"

// Ratio is the share of the container's limit set as the soft limit. The
// rest is headroom for memory the Go runtime does not manage and for the
// allocations made while a collection runs.
const Ratio = 0.9

// FromEnv returns the soft limit for the environment getenv reads, and where
// it comes from. It is 0 when GOMEMLIMIT is set (the runtime honours that
// itself) or when no container limit is given.
func FromEnv(getenv func(string) string) (int64, string, error) {
	if v := getenv("GOMEMLIMIT"); v != "" {
		return 0, "GOMEMLIMIT=" + v, nil
	}
	v := getenv(EnvVar)
	if v == "" {
		return 0, "no " + EnvVar, nil
	}
	q, err := resource.ParseQuantity(v)
	if err != nil {
		return 0, "", fmt.Errorf("%s=%q is not a memory quantity: %w", EnvVar, v, err)
	}
	if q.Sign() <= 0 {
		return 0, "", fmt.Errorf("%s=%q: a memory limit must be positive", EnvVar, v)
	}
	return int64(float64(q.Value()) * Ratio), fmt.Sprintf("%.0f%% of %s=%s", Ratio*100, EnvVar, v), nil
}

// DefaultGCPercent is the collector's target unless GOGC says otherwise:
// the heap may grow by 40% of its live size between collections, not by all
// of it (Go's default of 100). Busy with thousands of Microservices, the
// operator's live heap is mostly its cache and the peak is live plus that
// growth; at N=5,000 a target of 50 took the peak RSS from 237 to 169 MiB,
// and 40 takes it under 150 MiB, for more of the collector's CPU time
// (docs/scale.md has the figures).
const DefaultGCPercent = 40

// GCPercentFromEnv returns the collector's target to set, and where it
// comes from: 0 when GOGC is set (the runtime honours it itself), else
// DefaultGCPercent.
func GCPercentFromEnv(getenv func(string) string) (int, string) {
	if v := getenv("GOGC"); v != "" {
		return 0, "GOGC=" + v
	}
	return DefaultGCPercent, "the operator's default"
}

// Apply sets the soft limit FromEnv returns, if any, and the collector's
// target GCPercentFromEnv returns, and reports the limit.
func Apply(getenv func(string) string) (int64, string, error) {
	if percent, _ := GCPercentFromEnv(getenv); percent > 0 {
		debug.SetGCPercent(percent)
	}
	limit, from, err := FromEnv(getenv)
	if err == nil && limit > 0 {
		debug.SetMemoryLimit(limit)
	}
	return limit, from, err
}
