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

package analysis

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Phase is the outcome of evaluating one metric.
type Phase string

const (
	// PhaseSuccessful means the value met the condition.
	PhaseSuccessful Phase = "Successful"
	// PhaseFailed means the value broke the condition.
	PhaseFailed Phase = "Failed"
	// PhaseInconclusive means no decision could be made (query error, NaN,
	// missing data under the Inconclusive policy, or a bad condition).
	PhaseInconclusive Phase = "Inconclusive"
)

// NoDataPolicy says how a query that returned no samples is judged.
type NoDataPolicy string

const (
	// NoDataFail judges missing data as Failed.
	NoDataFail NoDataPolicy = "Fail"
	// NoDataPass judges missing data as Successful.
	NoDataPass NoDataPolicy = "Pass"
	// NoDataInconclusive judges missing data as Inconclusive; it is the default.
	NoDataInconclusive NoDataPolicy = "Inconclusive"
)

// Condition says which values pass: a value passes when Min <= value <= Max.
// Each bound is optional, but at least one must be set.
type Condition struct {
	Min, Max *float64
}

// Validate reports whether the condition can be evaluated: at least one
// bound set, no NaN bound and Min not above Max.
func (c Condition) Validate() error {
	if c.Min == nil && c.Max == nil {
		return fmt.Errorf("no bounds set: give a minimum, a maximum or both")
	}
	if c.Min != nil && math.IsNaN(*c.Min) {
		return fmt.Errorf("the minimum is NaN: give a number")
	}
	if c.Max != nil && math.IsNaN(*c.Max) {
		return fmt.Errorf("the maximum is NaN: give a number")
	}
	if c.Min != nil && c.Max != nil && *c.Min > *c.Max {
		return fmt.Errorf("the minimum %s is above the maximum %s", formatNumber(*c.Min), formatNumber(*c.Max))
	}
	return nil
}

// Evaluate turns one query outcome into a phase and a short human message
// (e.g. "0.93 is below the minimum 0.99"). It never passes a NaN or
// infinite value.
func Evaluate(v Value, queryErr error, cond Condition, noData NoDataPolicy) (Phase, string) {
	if queryErr != nil {
		return PhaseInconclusive, fmt.Sprintf("query failed: %v", queryErr)
	}
	if err := cond.Validate(); err != nil {
		return PhaseInconclusive, fmt.Sprintf("invalid condition: %v", err)
	}
	if v.NoData {
		switch noData {
		case NoDataFail:
			return PhaseFailed, "query returned no data (no-data policy Fail)"
		case NoDataPass:
			return PhaseSuccessful, "query returned no data (no-data policy Pass)"
		case NoDataInconclusive, "":
			return PhaseInconclusive, "query returned no data"
		default:
			return PhaseInconclusive, fmt.Sprintf("query returned no data and the no-data policy %q is unknown (use Fail, Pass or Inconclusive)", noData)
		}
	}
	x := v.Number
	if math.IsNaN(x) {
		return PhaseInconclusive, "value is NaN (e.g. a ratio with no traffic)"
	}
	if cond.Min != nil && x < *cond.Min {
		return PhaseFailed, fmt.Sprintf("%s is below the minimum %s", formatNumber(x), formatNumber(*cond.Min))
	}
	if cond.Max != nil && x > *cond.Max {
		return PhaseFailed, fmt.Sprintf("%s is above the maximum %s", formatNumber(x), formatNumber(*cond.Max))
	}
	if math.IsInf(x, 0) {
		// An infinite value fails a bound it crosses, but never passes:
		// it comes from a division by zero or a broken query, not from a
		// canary that did well.
		return PhaseInconclusive, fmt.Sprintf("value is %s (e.g. a ratio over no requests); it never passes", formatNumber(x))
	}
	switch {
	case cond.Min != nil && cond.Max != nil:
		return PhaseSuccessful, fmt.Sprintf("%s is within [%s, %s]", formatNumber(x), formatNumber(*cond.Min), formatNumber(*cond.Max))
	case cond.Min != nil:
		return PhaseSuccessful, fmt.Sprintf("%s is at or above the minimum %s", formatNumber(x), formatNumber(*cond.Min))
	default:
		return PhaseSuccessful, fmt.Sprintf("%s is at or below the maximum %s", formatNumber(x), formatNumber(*cond.Max))
	}
}

// ParseBound parses a bound given as a string such as "0.99". An empty (or
// blank) string means the bound is not set and yields nil, nil. NaN is
// rejected; "+Inf" and "-Inf" are accepted.
func ParseBound(s string) (*float64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return nil, fmt.Errorf("invalid bound %q: must be a number such as 0.99: %w", s, err)
	}
	if math.IsNaN(f) {
		return nil, fmt.Errorf("invalid bound %q: NaN is not a usable bound", s)
	}
	return &f, nil
}

// formatNumber prints a float in its shortest exact form ("0.99", "+Inf").
func formatNumber(f float64) string {
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// Difference is canary minus stable, for a metric judged relative to the
// stable track: an error of either query is the error (naming the track),
// and no data on either side is no data.
func Difference(canary Value, canaryErr error, stable Value, stableErr error) (Value, error) {
	switch {
	case canaryErr != nil:
		return Value{}, fmt.Errorf("canary track: %w", canaryErr)
	case stableErr != nil:
		return Value{}, fmt.Errorf("stable track: %w", stableErr)
	case canary.NoData || stable.NoData:
		return Value{NoData: true}, nil
	}
	return Value{Number: canary.Number - stable.Number}, nil
}
