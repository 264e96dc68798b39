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

package memlimit

import (
	"runtime/debug"
	"strings"
	"testing"
)

func TestFromEnv(t *testing.T) {
	cases := []struct {
		name     string
		env      map[string]string
		want     int64
		wantErr  string
		wantFrom string
	}{
		{name: "no limit", env: map[string]string{}, want: 0, wantFrom: "no MEMORY_LIMIT"},
		{name: "bytes, as the downward API gives them", env: map[string]string{EnvVar: "268435456"}, want: 241591910, wantFrom: "90% of MEMORY_LIMIT=268435456"},
		{name: "a quantity", env: map[string]string{EnvVar: "160Mi"}, want: 150994944, wantFrom: "90% of MEMORY_LIMIT=160Mi"},
		{name: "GOMEMLIMIT wins", env: map[string]string{EnvVar: "256Mi", "GOMEMLIMIT": "100MiB"}, want: 0, wantFrom: "GOMEMLIMIT=100MiB"},
		{name: "not a quantity", env: map[string]string{EnvVar: "lots"}, wantErr: `MEMORY_LIMIT="lots" is not a memory quantity`},
		{name: "zero", env: map[string]string{EnvVar: "0"}, wantErr: "must be positive"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, from, err := FromEnv(func(k string) string { return tc.env[k] })
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want || from != tc.wantFrom {
				t.Fatalf("FromEnv = %d, %q, %v; want %d, %q", got, from, err, tc.want, tc.wantFrom)
			}
		})
	}
}

func TestApplySetsTheRuntimeLimit(t *testing.T) {
	before := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(before) })

	env := map[string]string{EnvVar: "160Mi"}
	limit, _, err := Apply(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if got := debug.SetMemoryLimit(-1); got != limit || limit != 150994944 {
		t.Fatalf("runtime limit %d after Apply returned %d; want 150994944", got, limit)
	}

	debug.SetMemoryLimit(before)
	if _, _, err := Apply(func(k string) string { return map[string]string{EnvVar: "lots"}[k] }); err == nil {
		t.Fatal("Apply accepted a limit that is not a quantity")
	}
	if got := debug.SetMemoryLimit(-1); got != before {
		t.Fatalf("a refused limit changed the runtime's: %d, want %d", got, before)
	}
}

func TestGCPercentFromEnv(t *testing.T) {
	if got, from := GCPercentFromEnv(func(string) string { return "" }); got != DefaultGCPercent || from != "the operator's default" {
		t.Errorf("without GOGC: %d (%s), want %d", got, from, DefaultGCPercent)
	}
	env := map[string]string{"GOGC": "200"}
	if got, from := GCPercentFromEnv(func(k string) string { return env[k] }); got != 0 || from != "GOGC=200" {
		t.Errorf("with GOGC=200: %d (%s), want 0: the runtime's own", got, from)
	}
}
