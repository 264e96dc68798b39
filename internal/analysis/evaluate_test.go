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
	"errors"
	"math"
	"strings"
	"testing"
)

func ptr(f float64) *float64 { return &f }

func TestEvaluate(t *testing.T) {
	minOnly := Condition{Min: ptr(0.99)}
	maxOnly := Condition{Max: ptr(500)}
	both := Condition{Min: ptr(0.5), Max: ptr(1)}

	tests := []struct {
		name     string
		v        Value
		err      error
		cond     Condition
		noData   NoDataPolicy
		want     Phase
		wantMsgs []string // substrings the message must contain
		notMsgs  []string // substrings the message must not contain
	}{
		{name: "above min passes", v: Value{Number: 0.995}, cond: minOnly, want: PhaseSuccessful, wantMsgs: []string{"0.995", "0.99"}},
		{name: "equal to min passes", v: Value{Number: 0.99}, cond: minOnly, want: PhaseSuccessful},
		{name: "below min fails", v: Value{Number: 0.93}, cond: minOnly, want: PhaseFailed, wantMsgs: []string{"0.93 is below the minimum 0.99"}},
		{name: "below max passes", v: Value{Number: 120}, cond: maxOnly, want: PhaseSuccessful},
		{name: "equal to max passes", v: Value{Number: 500}, cond: maxOnly, want: PhaseSuccessful},
		{name: "above max fails", v: Value{Number: 501}, cond: maxOnly, want: PhaseFailed, wantMsgs: []string{"501 is above the maximum 500"}},
		{name: "within range passes", v: Value{Number: 0.75}, cond: both, want: PhaseSuccessful, wantMsgs: []string{"[0.5, 1]"}},
		{name: "under range fails", v: Value{Number: 0.2}, cond: both, want: PhaseFailed, wantMsgs: []string{"below the minimum 0.5"}},
		{name: "over range fails", v: Value{Number: 1.5}, cond: both, want: PhaseFailed, wantMsgs: []string{"above the maximum 1"}},
		{name: "negative values compare", v: Value{Number: -3}, cond: Condition{Min: ptr(-2)}, want: PhaseFailed},
		{name: "+Inf above max fails", v: Value{Number: math.Inf(1)}, cond: maxOnly, want: PhaseFailed, wantMsgs: []string{"+Inf is above"}},
		{name: "+Inf above min is inconclusive, never a pass", v: Value{Number: math.Inf(1)}, cond: minOnly, want: PhaseInconclusive, wantMsgs: []string{"value is +Inf", "never passes"}},
		{name: "-Inf below max is inconclusive, never a pass", v: Value{Number: math.Inf(-1)}, cond: maxOnly, want: PhaseInconclusive, wantMsgs: []string{"value is -Inf"}},
		{name: "-Inf below min fails", v: Value{Number: math.Inf(-1)}, cond: minOnly, want: PhaseFailed, wantMsgs: []string{"-Inf is below"}},
		{name: "NaN is inconclusive with min", v: Value{Number: math.NaN()}, cond: minOnly, want: PhaseInconclusive, wantMsgs: []string{"NaN"}},
		{name: "NaN is inconclusive with max", v: Value{Number: math.NaN()}, cond: maxOnly, want: PhaseInconclusive},
		{name: "NaN is inconclusive with both", v: Value{Number: math.NaN()}, cond: both, want: PhaseInconclusive},
		{name: "query error is inconclusive", v: Value{Number: 1}, err: errors.New("connection refused"), cond: minOnly, want: PhaseInconclusive, wantMsgs: []string{"connection refused"}},
		{name: "query error wins over no data fail", v: Value{NoData: true}, err: errors.New("boom"), cond: minOnly, noData: NoDataFail, want: PhaseInconclusive, wantMsgs: []string{"boom"}},
		{name: "no bounds is inconclusive", v: Value{Number: 1}, cond: Condition{}, want: PhaseInconclusive, wantMsgs: []string{"no bounds"}},
		{name: "min above max is inconclusive", v: Value{Number: 1}, cond: Condition{Min: ptr(2), Max: ptr(1)}, want: PhaseInconclusive, wantMsgs: []string{"above the maximum"}},
		{name: "NaN bound is inconclusive", v: Value{Number: 1}, cond: Condition{Min: ptr(math.NaN())}, want: PhaseInconclusive},
		{name: "no data policy Fail", v: Value{NoData: true}, cond: minOnly, noData: NoDataFail, want: PhaseFailed, wantMsgs: []string{"no data"}},
		{name: "no data policy Pass", v: Value{NoData: true}, cond: minOnly, noData: NoDataPass, want: PhaseSuccessful, wantMsgs: []string{"no data"}},
		{name: "no data policy Inconclusive", v: Value{NoData: true}, cond: minOnly, noData: NoDataInconclusive, want: PhaseInconclusive},
		{name: "no data empty policy defaults to Inconclusive", v: Value{NoData: true}, cond: minOnly, want: PhaseInconclusive, wantMsgs: []string{"no data"}, notMsgs: []string{"unknown"}},
		{name: "no data unknown policy is Inconclusive", v: Value{NoData: true}, cond: minOnly, noData: "Maybe", want: PhaseInconclusive, wantMsgs: []string{"Maybe"}},
		{name: "no data ignores stale number", v: Value{NoData: true, Number: 0}, cond: minOnly, noData: NoDataPass, want: PhaseSuccessful},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, msg := Evaluate(tc.v, tc.err, tc.cond, tc.noData)
			if got != tc.want {
				t.Errorf("phase = %q, want %q (message %q)", got, tc.want, msg)
			}
			if msg == "" {
				t.Errorf("message is empty")
			}
			for _, sub := range tc.wantMsgs {
				if !strings.Contains(msg, sub) {
					t.Errorf("message %q does not contain %q", msg, sub)
				}
			}
			for _, sub := range tc.notMsgs {
				if strings.Contains(msg, sub) {
					t.Errorf("message %q contains %q", msg, sub)
				}
			}
		})
	}
}

func TestParseBound(t *testing.T) {
	tests := []struct {
		in      string
		want    *float64
		wantErr string
	}{
		{in: "", want: nil},
		{in: "   ", want: nil},
		{in: "0.99", want: ptr(0.99)},
		{in: " 0.99 ", want: ptr(0.99)},
		{in: "500", want: ptr(500)},
		{in: "-1.5", want: ptr(-1.5)},
		{in: "1e3", want: ptr(1000)},
		{in: "+Inf", want: ptr(math.Inf(1))},
		{in: "-Inf", want: ptr(math.Inf(-1))},
		{in: "NaN", wantErr: "NaN"},
		{in: "abc", wantErr: "must be a number"},
		{in: "0.99%", wantErr: "must be a number"},
		{in: "1,5", wantErr: "must be a number"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseBound(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("ParseBound(%q) error = %v, want one containing %q", tc.in, err, tc.wantErr)
				}
				if got != nil {
					t.Errorf("ParseBound(%q) = %v with an error, want nil", tc.in, *got)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseBound(%q) unexpected error: %v", tc.in, err)
			}
			switch {
			case tc.want == nil && got != nil:
				t.Errorf("ParseBound(%q) = %v, want nil", tc.in, *got)
			case tc.want != nil && got == nil:
				t.Errorf("ParseBound(%q) = nil, want %v", tc.in, *tc.want)
			case tc.want != nil && *got != *tc.want:
				t.Errorf("ParseBound(%q) = %v, want %v", tc.in, *got, *tc.want)
			}
		})
	}
}

func TestParseBoundWrapsError(t *testing.T) {
	_, err := ParseBound("x")
	if err == nil || errors.Unwrap(err) == nil {
		t.Fatalf("ParseBound error %v does not wrap the strconv error", err)
	}
}

func TestDifference(t *testing.T) {
	boom := errors.New("boom")
	for _, tc := range []struct {
		name               string
		canary, stable     Value
		canaryErr, stabErr error
		want               Value
		err                string
	}{
		{"both measured", Value{Number: 0.5}, Value{Number: 0.125}, nil, nil, Value{Number: 0.375}, ""},
		{"canary below stable", Value{Number: 0.125}, Value{Number: 0.5}, nil, nil, Value{Number: -0.375}, ""},
		{"no canary data", Value{NoData: true}, Value{Number: 1}, nil, nil, Value{NoData: true}, ""},
		{"no stable data", Value{Number: 1}, Value{NoData: true}, nil, nil, Value{NoData: true}, ""},
		{"canary query failed", Value{}, Value{Number: 1}, boom, nil, Value{}, "canary track: boom"},
		{"stable query failed", Value{Number: 1}, Value{}, nil, boom, Value{}, "stable track: boom"},
	} {
		got, err := Difference(tc.canary, tc.canaryErr, tc.stable, tc.stabErr)
		switch {
		case tc.err != "" && (err == nil || err.Error() != tc.err):
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.err)
		case tc.err == "" && (err != nil || got != tc.want):
			t.Errorf("%s: got %+v, %v; want %+v", tc.name, got, err, tc.want)
		}
	}
}
