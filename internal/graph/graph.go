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

// Package graph is the pure part of dependency handling: keys of
// Microservices, the environment variable naming rule, and cycle detection.
package graph

import (
	"strings"
)

// Key identifies a Microservice.
type Key struct {
	Namespace string
	Name      string
}

// String is "namespace/name".
func (k Key) String() string { return k.Namespace + "/" + k.Name }

// ShortIn names k as seen from namespace ns: "name" in the same namespace,
// "namespace/name" otherwise.
func (k Key) ShortIn(ns string) string {
	if k.Namespace == ns {
		return k.Name
	}
	return k.String()
}

// EnvPrefix turns a Microservice name into the prefix of the environment
// variables that carry its address: upper case, with '-' as '_'. A
// Microservice name starts with a letter and holds only lower-case letters,
// digits and '-', so the prefix is a valid variable name, and two different
// names never share a prefix.
func EnvPrefix(name string) string {
	return strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// FindCycle follows the dependencies of start, as deps reports them, and
// returns a cycle through start as the path start, ..., start; nil when start
// is on no cycle. deps must return the keys a Microservice depends on, nil
// for one that does not exist. The walk visits each Microservice once.
func FindCycle(start Key, deps func(Key) []Key) []Key {
	visited := map[Key]bool{}
	var path []Key
	var walk func(k Key) bool
	walk = func(k Key) bool {
		for _, d := range deps(k) {
			if d == start {
				path = append(path, d)
				return true
			}
			if visited[d] {
				continue
			}
			visited[d] = true
			path = append(path, d)
			if walk(d) {
				return true
			}
			path = path[:len(path)-1]
		}
		return false
	}
	path = append(path, start)
	visited[start] = true
	if walk(start) {
		return path
	}
	return nil
}

// FormatCycle spells a cycle out as "a -> b -> c -> a", naming members of
// other namespaces than ns with their namespace.
func FormatCycle(cycle []Key, ns string) string {
	parts := make([]string, len(cycle))
	for i, k := range cycle {
		parts[i] = k.ShortIn(ns)
	}
	return strings.Join(parts, " -> ")
}
