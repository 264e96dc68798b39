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

// Package kubectlmsvc is the kubectl-msvc plugin: a tree view of a Microservice
// and its rollout, rollout controls, and the dependency graph.
package kubectlmsvc

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
	"github.com/msvc-dev/msvc-operator/internal/builder"
	"github.com/msvc-dev/msvc-operator/internal/graph"
)

// Printer writes with or without colour.
type Printer struct {
	Out   io.Writer
	Color bool
}

func (p Printer) paint(code, s string) string {
	if !p.Color || s == "" {
		return s
	}
	return "\033[" + code + "m" + s + "\033[0m"
}

// state colours a status word: green when good, yellow while moving, red when bad.
func (p Printer) state(s string) string {
	switch s {
	case "True", "Ready", "Healthy", "Succeeded", "Idle", "Passed", "Promoted":
		return p.paint("32", s)
	case "False", "RolledBack", "Aborted", "Missing", "Denied", "Unavailable", "Failed":
		return p.paint("31", s)
	case "Progressing", "Paused", "Promoting", "RollingOut", "Unknown", "Inconclusive", "Waiting", "Pending":
		return p.paint("33", s)
	}
	return s
}

// Get prints the tree of one Microservice: its tracks, rollout, analysis,
// dependencies (and the cycle they form, if any) and dependents.
func Get(ctx context.Context, c client.Client, ns, name string, p Printer) error {
	ms := &msv1.Microservice{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, ms); err != nil {
		return fmt.Errorf("getting Microservice %s/%s: %w", ns, name, err)
	}
	// A blue-green is shown as the steps it amounts to, and named.
	strategy := ""
	if ms.Spec.Rollout != nil && ms.Spec.Rollout.Strategy == msv1.BlueGreenStrategy {
		strategy = "blue-green, "
	}
	ms = builder.AsCanary(ms)
	// The tree is drawn in memory and written at once: a failed write is
	// one error to return, and Watch redraws without flicker.
	var b strings.Builder
	w := &b
	ready := "Unknown"
	if cond := apimeta.FindStatusCondition(ms.Status.Conditions, msv1.ReadyCondition); cond != nil {
		ready = string(cond.Status)
	}
	fmt.Fprintf(w, "%s (%s)  Ready=%s  %s\n", p.paint("1", ms.Name), ms.Namespace, p.state(ready), ms.Spec.Image)
	if ms.Status.URL != "" {
		fmt.Fprintf(w, "│  url: %s\n", ms.Status.URL)
	}

	ro := ms.Status.Rollout
	weight := int32(0)
	if ro != nil {
		weight = ro.CanaryWeight
		step := "-"
		if ro.CurrentStep != nil && builder.IsCanary(ms) {
			step = fmt.Sprintf("%d/%d", min(*ro.CurrentStep+1, int32(len(ms.Spec.Rollout.Canary.Steps))), len(ms.Spec.Rollout.Canary.Steps))
		}
		fmt.Fprintf(w, "├─ rollout: %s  step %s  canary weight %d%%  (%s%s)\n", p.state(string(ro.Phase)), step, ro.CanaryWeight, strategy, ro.TrafficRouting)
		if ro.Message != "" {
			fmt.Fprintf(w, "│  %s\n", ro.Message)
		}
	} else {
		fmt.Fprintf(w, "├─ rollout: RollingUpdate\n")
	}

	tracks := []struct {
		track, deployment, revision string
		weight                      int32
	}{{"stable", builder.DeploymentName(ms), "", 100 - weight}}
	if ro != nil {
		tracks[0].revision = ro.StableRevision
		if builder.IsCanary(ms) {
			tracks = append(tracks, struct {
				track, deployment, revision string
				weight                      int32
			}{"canary", builder.CanaryDeploymentName(ms), ro.CanaryRevision, weight})
		}
	}
	fmt.Fprintf(w, "├─ tracks\n")
	for i, t := range tracks {
		branch := "├─"
		if i == len(tracks)-1 {
			branch = "└─"
		}
		readyPods, wantPods := deploymentPods(ctx, c, ns, t.deployment)
		fmt.Fprintf(w, "│  %s %-7s %-28s %s pods ready  weight %3d%%  revision %s\n", branch, t.track, t.deployment,
			fmt.Sprintf("%d/%d", readyPods, wantPods), t.weight, orDash(t.revision))
	}

	if ro != nil && ro.Analysis != nil {
		a := ro.Analysis
		fmt.Fprintf(w, "├─ analysis (step %d): %d measurements, %d failed, %d inconclusive\n", a.Step+1, a.Measurements, a.Failures, a.Inconclusives)
		for _, m := range a.Metrics {
			fmt.Fprintf(w, "│  • %s = %s  %s  %s\n", m.Name, orDash(m.Value), p.state(m.Phase), m.Message)
		}
	}

	fmt.Fprintf(w, "├─ dependencies\n")
	if len(ms.Status.Dependencies) == 0 {
		fmt.Fprintf(w, "│  (none)\n")
	}
	for _, d := range ms.Status.Dependencies {
		name := d.Name
		if d.Namespace != ms.Namespace {
			name = d.Namespace + "/" + d.Name
		}
		fmt.Fprintf(w, "│  • %-24s %s  %s\n", name, p.state(d.State), orDash(d.Address))
	}
	all, err := listNeighbourhood(ctx, c, ms)
	if err != nil {
		return err
	}
	if cycle := cycleThrough(all, ms); cycle != "" {
		fmt.Fprintf(w, "│  %s %s\n", p.paint("31", "Cycle:"), cycle)
	}
	fmt.Fprintf(w, "└─ dependents: %s\n", orDash(strings.Join(dependentsIn(all, ms), ", ")))
	return write(p.Out, b.String())
}

// write writes s to out, and says so when out refuses it.
func write(out io.Writer, s string) error {
	if _, err := io.WriteString(out, s); err != nil {
		return fmt.Errorf("writing the output: %w", err)
	}
	return nil
}

// Dependents lists the Microservices that declare ms as a dependency, by
// name, or as "namespace/name" outside ms's namespace. The operator keeps
// this reverse index in its cache rather than in status: a list in the
// status of every dependency would cost it a write each time a neighbour
// came or went. It looks in every namespace, or in ms's own when the
// caller may not list cluster-wide.
func Dependents(ctx context.Context, c client.Client, ms *msv1.Microservice) ([]string, error) {
	all, err := listNeighbourhood(ctx, c, ms)
	if err != nil {
		return nil, err
	}
	return dependentsIn(all, ms), nil
}

// listNeighbourhood lists the Microservices of every namespace, or of ms's
// own when the caller may not list cluster-wide.
func listNeighbourhood(ctx context.Context, c client.Client, ms *msv1.Microservice) ([]msv1.Microservice, error) {
	list := &msv1.MicroserviceList{}
	err := c.List(ctx, list)
	if apierrors.IsForbidden(err) {
		err = c.List(ctx, list, client.InNamespace(ms.Namespace))
	}
	if err != nil {
		return nil, fmt.Errorf("listing the neighbours of %s/%s: %w", ms.Namespace, ms.Name, err)
	}
	return list.Items, nil
}

// dependentsIn lists the Microservices of all that declare ms as a dependency.
func dependentsIn(all []msv1.Microservice, ms *msv1.Microservice) []string {
	self := graph.Key{Namespace: ms.Namespace, Name: ms.Name}
	var out []string
	for i := range all {
		other := &all[i]
		for _, d := range other.Spec.Dependencies {
			if builder.DependencyKey(other, d) == self {
				out = append(out, graph.Key{Namespace: other.Namespace, Name: other.Name}.ShortIn(ms.Namespace))
				break
			}
		}
	}
	sort.Strings(out)
	return out
}

// cycleThrough spells out a dependency cycle through ms, such as
// "a -> b -> c -> a", or returns "" when ms is on none. It follows the specs
// of all, the way the operator does (optional dependencies included), so it
// says what the graph is now, not what the last reconcile saw. A cycle
// through a namespace the caller cannot list goes unseen.
func cycleThrough(all []msv1.Microservice, ms *msv1.Microservice) string {
	specs := make(map[graph.Key]*msv1.Microservice, len(all))
	for i := range all {
		specs[graph.Key{Namespace: all[i].Namespace, Name: all[i].Name}] = &all[i]
	}
	self := graph.Key{Namespace: ms.Namespace, Name: ms.Name}
	specs[self] = ms
	cycle := graph.FindCycle(self, func(k graph.Key) []graph.Key {
		node := specs[k]
		if node == nil {
			return nil
		}
		keys := make([]graph.Key, len(node.Spec.Dependencies))
		for i, d := range node.Spec.Dependencies {
			keys[i] = builder.DependencyKey(node, d)
		}
		return keys
	})
	if cycle == nil {
		return ""
	}
	return graph.FormatCycle(cycle, ms.Namespace)
}

func deploymentPods(ctx context.Context, c client.Client, ns, name string) (int32, int32) {
	d := &appsv1.Deployment{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, d); err != nil {
		return 0, 0
	}
	return d.Status.ReadyReplicas, ptr.Deref(d.Spec.Replicas, 1)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// Control sets a rollout control annotation. Promote, promote-full, abort and
// retry get a new value each time; pause sets paused=true and resume removes it.
func Control(ctx context.Context, c client.Client, ns, name, action string, now time.Time) error {
	ms := &msv1.Microservice{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, ms); err != nil {
		return fmt.Errorf("getting Microservice %s/%s: %w", ns, name, err)
	}
	base := ms.DeepCopy()
	if ms.Annotations == nil {
		ms.Annotations = map[string]string{}
	}
	value := strconv.FormatInt(now.UnixNano(), 10)
	switch action {
	case "promote":
		ms.Annotations[msv1.PromoteAnnotation] = value
	case "promote-full":
		ms.Annotations[msv1.PromoteFullAnnotation] = value
	case "abort":
		ms.Annotations[msv1.AbortAnnotation] = value
	case "retry":
		ms.Annotations[msv1.RetryAnnotation] = value
	case "pause":
		ms.Annotations[msv1.PausedAnnotation] = "true"
	case "resume":
		delete(ms.Annotations, msv1.PausedAnnotation)
	default:
		return fmt.Errorf("unknown action %q", action)
	}
	if err := c.Patch(ctx, ms, client.MergeFrom(base)); err != nil {
		return fmt.Errorf("annotating Microservice %s/%s: %w", ns, name, err)
	}
	return nil
}

// Graph prints the dependency graph of a namespace, as text or as Graphviz DOT.
func Graph(ctx context.Context, c client.Client, ns string, dot bool, out io.Writer) error {
	list := &msv1.MicroserviceList{}
	if err := c.List(ctx, list, client.InNamespace(ns)); err != nil {
		return fmt.Errorf("listing Microservices in %s: %w", ns, err)
	}
	sort.Slice(list.Items, func(i, j int) bool { return list.Items[i].Name < list.Items[j].Name })
	var b strings.Builder
	if dot {
		fmt.Fprintf(&b, "digraph %q {\n  rankdir=LR;\n", ns)
		for _, ms := range list.Items {
			fmt.Fprintf(&b, "  %q;\n", ms.Name)
			for _, d := range ms.Spec.Dependencies {
				style := ""
				if d.Optional {
					style = " [style=dashed]"
				}
				fmt.Fprintf(&b, "  %q -> %q%s;\n", ms.Name, builder.DependencyKey(&ms, d).ShortIn(ns), style)
			}
		}
		fmt.Fprintln(&b, "}")
		return write(out, b.String())
	}
	for _, ms := range list.Items {
		var deps []string
		for _, d := range ms.Spec.Dependencies {
			s := builder.DependencyKey(&ms, d).ShortIn(ns)
			if d.Optional {
				s += " (optional)"
			}
			deps = append(deps, s)
		}
		fmt.Fprintf(&b, "%s -> %s\n", ms.Name, orDash(strings.Join(deps, ", ")))
	}
	return write(out, b.String())
}
