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

package kubectlmsvc

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
	"github.com/msvc-dev/msvc-operator/internal/builder"
)

// releaseMembers lists the Microservices of release name in namespace ns:
// a release is a namespace's.
func releaseMembers(ctx context.Context, c client.Client, ns, name string) ([]msv1.Microservice, error) {
	list := &msv1.MicroserviceList{}
	if err := c.List(ctx, list, client.InNamespace(ns), client.MatchingLabels{msv1.ReleaseLabel: name}); err != nil {
		return nil, fmt.Errorf("listing the Microservices of release %s in %s: %w", name, ns, err)
	}
	return list.Items, nil
}

// ReleaseGet prints release name as a graph: its members in dependency
// order (dependencies first), each with its state in the release, its
// rollout's phase, step, weight and analysis, and the members it calls.
func ReleaseGet(ctx context.Context, c client.Client, ns, name string, p Printer) error {
	items, err := releaseMembers(ctx, c, ns, name)
	if err != nil {
		return err
	}
	if len(items) == 0 {
		return fmt.Errorf("no Microservice in namespace %s carries the label %s=%s", ns, msv1.ReleaseLabel, name)
	}
	return write(p.Out, RenderRelease(name, items, p))
}

// memberKey is a member's namespace/name.
func memberKey(ms *msv1.Microservice) string { return ms.Namespace + "/" + ms.Name }

// releaseState is a member's state in release name, "unchanged" when it
// delivers no change in it.
func releaseState(ms *msv1.Microservice, name string) string {
	if st := ms.Status.Rollout; st != nil && st.Release != nil && st.Release.Name == name {
		return string(st.Release.State)
	}
	if ms.Status.ObservedGeneration < ms.Generation {
		return "Pending"
	}
	return "unchanged"
}

// RenderRelease draws release name from its members.
func RenderRelease(name string, items []msv1.Microservice, p Printer) string {
	byKey := map[string]*msv1.Microservice{}
	for i := range items {
		byKey[memberKey(&items[i])] = &items[i]
	}
	// Depth: 0 for a member that calls no other member, else one more
	// than the deepest member it calls. Dependencies form no cycle (the
	// operator stalls a Microservice in one), but a guard bounds the walk.
	depth := map[string]int{}
	var depthOf func(k string, guard int) int
	depthOf = func(k string, guard int) int {
		if d, ok := depth[k]; ok || guard > len(items) {
			return d
		}
		d := 0
		ms := byKey[k]
		for _, dep := range ms.Spec.Dependencies {
			if dk := builder.DependencyKey(ms, dep).String(); byKey[dk] != nil {
				d = max(d, depthOf(dk, guard+1)+1)
			}
		}
		depth[k] = d
		return d
	}
	keys := make([]string, 0, len(byKey))
	for k := range byKey {
		depthOf(k, 0)
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if depth[keys[i]] != depth[keys[j]] {
			return depth[keys[i]] < depth[keys[j]]
		}
		return keys[i] < keys[j]
	})

	counts := map[string]int{}
	failed := ""
	for _, k := range keys {
		s := releaseState(byKey[k], name)
		counts[s]++
		if st := byKey[k].Status.Rollout; s == string(msv1.ReleaseRolledBack) && failed == "" {
			failed = st.Release.FailedMember
		}
	}
	changed := len(keys) - counts["unchanged"]
	overall := string(msv1.ReleaseProgressing)
	switch {
	case failed != "":
		overall = "RolledBack (" + failed + " failed)"
	case changed > 0 && counts[string(msv1.ReleasePromoted)] == changed:
		overall = string(msv1.ReleasePromoted)
	case changed == 0:
		overall = "no changes"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "release %s: %d members, %d changed, %s\n", p.paint("1", name), len(keys), changed, p.state(overall))
	for i, k := range keys {
		ms := builder.AsCanary(byKey[k])
		branch, cont := "├─", "│ "
		if i == len(keys)-1 {
			branch, cont = "└─", "  "
		}
		state := releaseState(ms, name)
		line := fmt.Sprintf("%s %-28s %-11s", branch, k, p.state(state))
		// A member waiting in the release has not started its rollout:
		// its status still has the last one's phase, step and analysis.
		if ro := ms.Status.Rollout; ro != nil && state != "unchanged" && state != string(msv1.ReleaseWaiting) && state != "Pending" {
			step := "-"
			if ro.CurrentStep != nil && builder.IsCanary(ms) {
				n := int32(len(ms.Spec.Rollout.Canary.Steps))
				step = fmt.Sprintf("%d/%d", min(*ro.CurrentStep+1, n), n)
			}
			line += fmt.Sprintf("  %s step %s  canary %d%%", p.state(string(ro.Phase)), step, ro.CanaryWeight)
			if a := ro.Analysis; a != nil {
				line += fmt.Sprintf("  analysis %d measured, %d failed", a.Measurements, a.Failures)
			}
		}
		fmt.Fprintf(&b, "%s  %s\n", line, ms.Spec.Image)
		var calls []string
		for _, dep := range ms.Spec.Dependencies {
			dk := builder.DependencyKey(ms, dep).String()
			if d := byKey[dk]; d != nil {
				where := "stable"
				if s := releaseState(d, name); state != "unchanged" && (s == string(msv1.ReleaseProgressing) || s == string(msv1.ReleasePassed)) {
					where = "its canary, from this canary"
				}
				calls = append(calls, dk+" ("+where+")")
			}
		}
		if len(calls) > 0 {
			fmt.Fprintf(&b, "%s   calls %s\n", cont, strings.Join(calls, ", "))
		}
		if ro := ms.Status.Rollout; ro != nil && ro.Release != nil && ro.Release.Name == name && ro.Release.Message != "" {
			fmt.Fprintf(&b, "%s   %s\n", cont, ro.Release.Message)
		} else if ro != nil && state != "unchanged" && ro.Message != "" {
			fmt.Fprintf(&b, "%s   %s\n", cont, ro.Message)
		}
	}
	return b.String()
}

// WatchRelease draws ReleaseGet, then again after each change of a member
// the API server's watch reports, until ctx ends. Unlike ReleaseGet, it
// draws a release that has no members yet, and waits for them.
func WatchRelease(ctx context.Context, c client.WithWatch, ns, name string, p Printer) error {
	// A release without members yet is drawn as such: the watch waits for them.
	get := func() error {
		items, err := releaseMembers(ctx, c, ns, name)
		if err != nil {
			return err
		}
		if len(items) == 0 {
			return write(p.Out, fmt.Sprintf("release %s: no Microservice in namespace %s carries the label %s=%s yet\n", p.paint("1", name), ns, msv1.ReleaseLabel, name))
		}
		return write(p.Out, RenderRelease(name, items, p))
	}
	return redrawUntilDone(ctx, p, get, func() (<-chan watch.Event, func(), error) {
		w, err := c.Watch(ctx, &msv1.MicroserviceList{}, client.InNamespace(ns), client.MatchingLabels{msv1.ReleaseLabel: name})
		if err != nil {
			return nil, nil, fmt.Errorf("watching release %s: %w", name, err)
		}
		out, stop := merge(w)
		return out, stop, nil
	})
}
