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

package graph

import (
	"fmt"
	"testing"
)

// fuzzGraph decodes fuzz bytes into a dependency graph: the first byte is
// the number of Microservices (1 to 16), the second picks the start, and
// every following pair of bytes is an edge from one to another. A target
// beyond the Microservices is one that does not exist (deps returns nil for
// it). Microservices alternate between two namespaces, and each namespace
// has one of every name, so that a name alone never identifies a node.
type fuzzGraph struct {
	n     int
	start int
	edges map[int][]int
}

const fuzzGhosts = 4 // ids n..n+3 are dependencies that do not exist

func decodeGraph(data []byte) fuzzGraph {
	g := fuzzGraph{n: 1, edges: map[int][]int{}}
	if len(data) > 0 {
		g.n = int(data[0])%16 + 1
	}
	if len(data) > 1 {
		g.start = int(data[1]) % g.n
	}
	for i := 2; i+1 < len(data); i += 2 {
		from, to := int(data[i])%g.n, int(data[i+1])%(g.n+fuzzGhosts)
		g.edges[from] = append(g.edges[from], to)
	}
	return g
}

func (g fuzzGraph) key(id int) Key {
	return Key{Namespace: fmt.Sprintf("ns%d", id%2), Name: fmt.Sprintf("svc%d", id/2)}
}

// reachesStart reports, by a breadth-first search independent of
// FindCycle, whether start is reachable from one of its own dependencies:
// whether start lies on a cycle.
func (g fuzzGraph) reachesStart() bool {
	seen := map[int]bool{}
	queue := append([]int(nil), g.edges[g.start]...)
	for len(queue) > 0 {
		id := queue[0]
		queue = queue[1:]
		if id == g.start {
			return true
		}
		if seen[id] {
			continue
		}
		seen[id] = true
		queue = append(queue, g.edges[id]...)
	}
	return false
}

// FuzzFindCycle checks FindCycle on random dependency graphs (with
// duplicate edges, self-dependencies, dependencies that do not exist and
// equal names in two namespaces) against a breadth-first search: it returns
// a cycle exactly when start is on one, the cycle starts and ends at start,
// every step is an edge of the graph, no Microservice appears twice in
// between, and deps is asked about each Microservice at most once.
func FuzzFindCycle(f *testing.F) {
	f.Add([]byte{0, 0})                         // one node, no edges
	f.Add([]byte{0, 0, 0, 0})                   // a self-dependency
	f.Add([]byte{1, 0, 0, 1, 1, 0})             // a -> b -> a
	f.Add([]byte{3, 0, 0, 1, 0, 2, 1, 3, 2, 3}) // a diamond, no cycle
	f.Add([]byte{3, 0, 0, 1, 1, 2, 2, 1})       // a cycle not through start
	f.Add([]byte{2, 0, 0, 3, 0, 1, 1, 0})       // a missing dependency first, then a cycle
	f.Fuzz(func(t *testing.T, data []byte) {
		g := decodeGraph(data)
		ids := map[Key]int{}
		for id := 0; id < g.n+fuzzGhosts; id++ {
			ids[g.key(id)] = id
		}
		calls := map[Key]int{}
		deps := func(k Key) []Key {
			calls[k]++
			id, ok := ids[k]
			if !ok {
				t.Fatalf("deps asked about %s, which is in no edge", k)
			}
			if id >= g.n {
				return nil
			}
			var out []Key
			for _, to := range g.edges[id] {
				out = append(out, g.key(to))
			}
			return out
		}

		start := g.key(g.start)
		cycle := FindCycle(start, deps)
		for k, n := range calls {
			if n > 1 {
				t.Errorf("deps(%s) called %d times", k, n)
			}
		}
		want := g.reachesStart()
		if want != (cycle != nil) {
			t.Fatalf("FindCycle(%s) = %v, but a cycle through it exists: %v (graph %v)", start, FormatCycle(cycle, "ns0"), want, g.edges)
		}
		if cycle == nil {
			return
		}
		if len(cycle) < 2 || cycle[0] != start || cycle[len(cycle)-1] != start {
			t.Fatalf("cycle %v does not go from %s back to it", cycle, start)
		}
		inner := map[Key]bool{}
		for i := 0; i+1 < len(cycle); i++ {
			from, to := ids[cycle[i]], ids[cycle[i+1]]
			isEdge := false
			for _, e := range g.edges[from] {
				isEdge = isEdge || e == to
			}
			if !isEdge {
				t.Fatalf("cycle %v: %s does not depend on %s (graph %v)", cycle, cycle[i], cycle[i+1], g.edges)
			}
			if inner[cycle[i]] {
				t.Fatalf("cycle %v passes %s twice", cycle, cycle[i])
			}
			inner[cycle[i]] = true
		}
	})
}
