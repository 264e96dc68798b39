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
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// config is what one testapp process serves, read from its flags and
// environment by parseConfig.
type config struct {
	listen    []string
	version   string
	errorRate float64
	latency   time.Duration
	drain     time.Duration
	// calls are the URLs of the dependencies each request calls, read
	// from the variables TESTAPP_CALL names.
	calls []string
	// services is the pod runner's service table (TESTAPP_SERVICES), and
	// namespace the pod's (TESTAPP_NAMESPACE), to resolve their hosts.
	services, namespace string
}

const (
	defaultDrain = 5 * time.Second
	// badSuffix marks a version that fails half of its requests unless
	// TESTAPP_ERROR_RATE says otherwise: a canary that analysis must reject.
	badSuffix      = "-bad"
	badErrorRate   = 0.5
	defaultVersion = "dev"
)

// parseConfig combines the flag values with the environment: a listen
// address or version given as a flag wins over the environment's.
func parseConfig(flagListen []string, flagVersion string, getenv func(string) string) (config, error) {
	c := config{listen: flagListen, version: flagVersion}
	if len(c.listen) == 0 {
		c.listen = splitList(getenv("TESTAPP_LISTEN"))
	}
	if len(c.listen) == 0 {
		return config{}, errors.New("no address to listen on: set --listen or TESTAPP_LISTEN")
	}
	if c.version == "" {
		c.version = getenv("TESTAPP_VERSION")
	}
	if c.version == "" {
		c.version = defaultVersion
	}
	var err error
	if c.errorRate, err = parseErrorRate(getenv("TESTAPP_ERROR_RATE"), c.version); err != nil {
		return config{}, err
	}
	if c.latency, err = parseDuration("TESTAPP_LATENCY", getenv("TESTAPP_LATENCY"), 0); err != nil {
		return config{}, err
	}
	if c.drain, err = parseDuration("TESTAPP_DRAIN", getenv("TESTAPP_DRAIN"), defaultDrain); err != nil {
		return config{}, err
	}
	for _, name := range splitList(getenv("TESTAPP_CALL")) {
		url := strings.TrimSpace(getenv(name))
		if url == "" {
			return config{}, fmt.Errorf("TESTAPP_CALL names %s, which is unset or empty: the dependency's address is missing", name)
		}
		if !strings.Contains(url, "://") {
			url = "http://" + url
		}
		c.calls = append(c.calls, url)
	}
	c.services, c.namespace = getenv("TESTAPP_SERVICES"), getenv("TESTAPP_NAMESPACE")
	return c, nil
}

// parseErrorRate reads TESTAPP_ERROR_RATE, a share between 0 and 1. When it
// is unset, a version ending in -bad fails half of its requests and any other
// version none.
func parseErrorRate(s, version string) (float64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		if strings.HasSuffix(version, badSuffix) {
			return badErrorRate, nil
		}
		return 0, nil
	}
	r, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("TESTAPP_ERROR_RATE %q is not a number: %w", s, err)
	}
	if r < 0 || r > 1 || r != r {
		return 0, fmt.Errorf("TESTAPP_ERROR_RATE %q is not between 0 and 1", s)
	}
	return r, nil
}

// parseDuration reads a Go duration such as 150ms; unset gives def.
func parseDuration(name, s string, def time.Duration) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return def, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%s %q is not a duration such as 150ms: %w", name, s, err)
	}
	if d < 0 {
		return 0, fmt.Errorf("%s %q is negative", name, s)
	}
	return d, nil
}

// splitList splits a comma-separated list and drops empty items.
func splitList(s string) []string {
	var out []string
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// listFlag is a flag that may be given more than once; each value may
// itself be a comma-separated list.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(s string) error {
	*l = append(*l, splitList(s)...)
	return nil
}
