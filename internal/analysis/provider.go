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

// Package metrics queries a metrics backend (Prometheus) and evaluates the
// results against the thresholds of a canary-rollout analysis.
package analysis

import "context"

// Provider runs an instant query and returns one number.
type Provider interface {
	// Query evaluates query at the current time. It returns an error when the
	// backend cannot be reached, rejects the query or returns something other
	// than a single number.
	Query(ctx context.Context, query string) (Value, error)
}

// Value is the result of one query.
type Value struct {
	Number float64 // meaningful only when !NoData
	NoData bool    // the query returned no samples (empty vector)
}
