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

package main

import (
	"testing"
	"time"
)

func TestParseErrorRate(t *testing.T) {
	tests := []struct {
		name    string
		env     string
		version string
		want    float64
		wantErr bool
	}{
		{name: "unset, good version fails nothing", version: "v1.2.0", want: 0},
		{name: "unset, bad version fails half", version: "v1.2.1-bad", want: 0.5},
		{name: "explicit value wins over -bad", env: "0.1", version: "v1.2.1-bad", want: 0.1},
		{name: "explicit zero wins over -bad", env: "0", version: "v1.2.1-bad", want: 0},
		{name: "explicit value for a good version", env: "0.25", version: "v1", want: 0.25},
		{name: "bad only as a suffix", version: "v1-bad-fixed", want: 0},
		{name: "blank is unset", env: "  ", version: "v1-bad", want: 0.5},
		{name: "one is allowed", env: "1", version: "v1", want: 1},
		{name: "above one", env: "1.5", version: "v1", wantErr: true},
		{name: "negative", env: "-0.1", version: "v1", wantErr: true},
		{name: "not a number", env: "half", version: "v1", wantErr: true},
		{name: "NaN", env: "NaN", version: "v1", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseErrorRate(tt.env, tt.version)
			if (err != nil) != tt.wantErr {
				t.Fatalf("parseErrorRate(%q, %q) error = %v, want error %v", tt.env, tt.version, err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("parseErrorRate(%q, %q) = %v, want %v", tt.env, tt.version, got, tt.want)
			}
		})
	}
}

func TestParseDuration(t *testing.T) {
	tests := []struct {
		env     string
		def     time.Duration
		want    time.Duration
		wantErr bool
	}{
		{env: "", def: 5 * time.Second, want: 5 * time.Second},
		{env: "150ms", want: 150 * time.Millisecond},
		{env: "0", def: time.Second, want: 0},
		{env: "2s", want: 2 * time.Second},
		{env: "150", wantErr: true},
		{env: "-1s", wantErr: true},
		{env: "soon", wantErr: true},
	}
	for _, tt := range tests {
		got, err := parseDuration("TESTAPP_LATENCY", tt.env, tt.def)
		if (err != nil) != tt.wantErr {
			t.Errorf("parseDuration(%q) error = %v, want error %v", tt.env, err, tt.wantErr)
			continue
		}
		if got != tt.want {
			t.Errorf("parseDuration(%q) = %v, want %v", tt.env, got, tt.want)
		}
	}
}

func TestParseConfigFlagsWinOverEnvironment(t *testing.T) {
	env := map[string]string{
		"TESTAPP_LISTEN":  "10.0.0.5:8080, 10.0.0.5:9090",
		"TESTAPP_VERSION": "v2-bad",
		"TESTAPP_LATENCY": "20ms",
		"TESTAPP_DRAIN":   "1s",
	}
	getenv := func(k string) string { return env[k] }

	fromEnv, err := parseConfig(nil, "", getenv)
	if err != nil {
		t.Fatal(err)
	}
	if got := fromEnv.listen; len(got) != 2 || got[0] != "10.0.0.5:8080" || got[1] != "10.0.0.5:9090" {
		t.Errorf("listen from the environment = %q", got)
	}
	if fromEnv.version != "v2-bad" || fromEnv.errorRate != 0.5 || fromEnv.latency != 20*time.Millisecond || fromEnv.drain != time.Second {
		t.Errorf("config from the environment = %+v", fromEnv)
	}

	fromFlags, err := parseConfig([]string{"127.0.0.1:1"}, "v3", getenv)
	if err != nil {
		t.Fatal(err)
	}
	if len(fromFlags.listen) != 1 || fromFlags.listen[0] != "127.0.0.1:1" || fromFlags.version != "v3" || fromFlags.errorRate != 0 {
		t.Errorf("config from flags = %+v", fromFlags)
	}
}

func TestParseConfigDefaults(t *testing.T) {
	c, err := parseConfig([]string{"127.0.0.1:1"}, "", func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if c.version != defaultVersion || c.errorRate != 0 || c.latency != 0 || c.drain != defaultDrain {
		t.Errorf("defaults = %+v", c)
	}
	if _, err := parseConfig(nil, "v1", func(string) string { return "" }); err == nil {
		t.Error("parseConfig without an address to listen on: want an error")
	}
}

func TestListFlagTakesRepeatsAndLists(t *testing.T) {
	var l listFlag
	for _, v := range []string{"127.0.0.1:1", "127.0.0.1:2,127.0.0.1:3"} {
		if err := l.Set(v); err != nil {
			t.Fatal(err)
		}
	}
	if l.String() != "127.0.0.1:1,127.0.0.1:2,127.0.0.1:3" {
		t.Errorf("listFlag = %q", l.String())
	}
}
