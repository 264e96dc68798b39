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
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"k8s.io/utils/ptr"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
	"github.com/msvc-dev/msvc-operator/internal/builder"
	"github.com/msvc-dev/msvc-operator/internal/rollout"
)

// Live is what Plan compares a spec with: the Microservice in the cluster
// and how many pods its stable track runs, when it exists.
type Live struct {
	Microservice   *msv1.Microservice
	StableReplicas int32
}

// Plan prints what the operator would make of ms, without applying it: the
// objects it writes, and, when live runs another pod template, the steps
// that deliver the new one, their weights and pods, and how long they take
// at least. live is nil for a Microservice that does not exist yet. The
// plan is written to w at once; Plan returns the error of that write.
func Plan(ms *msv1.Microservice, live *Live, w io.Writer) error {
	// A blue-green is planned as the steps it amounts to.
	ms = builder.AsCanary(ms)
	var b strings.Builder
	fmt.Fprintf(&b, "Microservice %s/%s\n\nObjects the operator writes:\n", ms.Namespace, ms.Name)
	var rows strings.Builder
	for _, o := range planObjects(ms) {
		fmt.Fprintf(&rows, "  %s\t%s\t%s\n", o[0], o[1], o[2])
	}
	align(&b, rows.String())
	b.WriteString("\n")
	planRollout(ms, live, &b)
	return write(w, b.String())
}

// align writes rows, lines of tab-separated cells, to b in columns two
// spaces apart.
func align(b *strings.Builder, rows string) {
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
	// tw writes to a strings.Builder, which takes every write.
	_, _ = io.WriteString(tw, rows)
	_ = tw.Flush()
}

func planObjects(ms *msv1.Microservice) [][3]string {
	replicas := fmt.Sprintf("replicas: %d", ptr.Deref(ms.Spec.Replicas, 1))
	if a := ms.Spec.Autoscaling; a != nil {
		replicas = fmt.Sprintf("replicas: %d to %d (the HPA decides)", ptr.Deref(a.MinReplicas, 1), a.MaxReplicas)
	}
	if len(ms.Spec.Dependencies) > 0 {
		replicas += ", held at 0 until its required dependencies are available"
	}
	objs := [][3]string{{"Deployment", builder.DeploymentName(ms), replicas + ", image " + ms.Spec.Image}}
	if builder.IsCanary(ms) {
		objs = append(objs, [3]string{"Deployment", builder.CanaryDeploymentName(ms), "replicas: 0 until a new version's canary starts"})
	}
	if len(ms.Spec.Ports) > 0 {
		var ports []string
		for _, p := range ms.Spec.Ports {
			ports = append(ports, fmt.Sprintf("%s %d", p.Name, p.Port))
		}
		note := ""
		if builder.IsCanary(ms) {
			note = "; selects the stable track only while a route weighs a canary"
		}
		objs = append(objs, [3]string{"Service", builder.ServiceName(ms), "ports " + strings.Join(ports, ", ") + note})
		if builder.IsCanary(ms) {
			objs = append(objs, [3]string{"Service", builder.TrackServiceName(ms, builder.TrackStable) + ", " + builder.TrackServiceName(ms, builder.TrackCanary), "one track each"})
		}
	}
	if r := ms.Spec.Route; r != nil {
		var parents []string
		for _, p := range r.ParentRefs {
			ns := p.Namespace
			if ns == "" {
				ns = ms.Namespace
			}
			parents = append(parents, ns+"/"+p.Name)
		}
		path := r.PathPrefix
		if path == "" {
			path = "/"
		}
		what := "parents " + strings.Join(parents, ", ") + ", path " + path
		if len(r.Hostnames) > 0 {
			what += ", hosts " + strings.Join(r.Hostnames, ", ")
		}
		if builder.IsCanary(ms) {
			what += "; weighs the stable and canary Services"
		}
		objs = append(objs, [3]string{"HTTPRoute", builder.HTTPRouteName(ms), what})
	}
	if builder.IsMeshRouted(ms) {
		objs = append(objs, [3]string{"HTTPRoute", builder.MeshRouteName(ms), "GAMMA route of Service " + builder.ServiceName(ms) + ", same weights"})
	}
	if a := ms.Spec.Autoscaling; a != nil {
		objs = append(objs, [3]string{"HorizontalPodAutoscaler", builder.HPAName(ms), fmt.Sprintf("%d to %d replicas", ptr.Deref(a.MinReplicas, 1), a.MaxReplicas)})
	}
	if builder.PodDisruptionBudget(ms, false) != nil {
		objs = append(objs, [3]string{"PodDisruptionBudget", builder.PodDisruptionBudgetName(ms), "pods of both tracks"})
	}
	objs = append(objs, [3]string{"NetworkPolicy", builder.NetworkPolicyName(ms), "only when the operator runs with --network-isolation (and spec.networkPolicy.enabled is not false)"})
	return objs
}

func planRollout(ms *msv1.Microservice, live *Live, w *strings.Builder) {
	switch {
	case live == nil || live.Microservice == nil:
		fmt.Fprintln(w, "Rollout: none. A new Microservice's first version starts on the stable track directly.")
		return
	case builder.Revision(live.Microservice, builder.PodInputs{}) == builder.Revision(ms, builder.PodInputs{}):
		fmt.Fprintln(w, "Rollout: none. The pod template is the live one; other changes are applied in place.")
		return
	case !builder.IsCanary(ms):
		fmt.Fprintf(w, "Rollout: the Deployment's rolling update replaces the pods of %s (no canary, no analysis).\n", builder.DeploymentName(ms))
		return
	}
	c := ms.Spec.Rollout.Canary
	stable := live.StableReplicas
	if stable < 1 {
		stable = 1
	}
	n := len(c.Steps)
	fmt.Fprintf(w, "Rollout: a canary in %d steps, then a promotion (stable track at %d pods now).\n", n, stable)
	var rows strings.Builder
	rows.WriteString("  STEP\tACTION\tTRAFFIC stable/canary\tCANARY PODS\tTAKES\n")
	var least time.Duration
	gates, weight := 0, int32(0)
	for i, s := range c.Steps {
		action, takes := "", ""
		switch {
		case s.SetWeight != nil:
			weight = *s.SetWeight
			action = fmt.Sprintf("setWeight %d", weight)
			takes = fmt.Sprintf("until the pods are ready (rolled back past %s)", rollout.ProgressDeadline(c))
		case s.Pause != nil && s.Pause.Duration != nil:
			action = "pause"
			takes = s.Pause.Duration.Duration.String()
			least += s.Pause.Duration.Duration
		case s.Pause != nil:
			action, takes = "manual gate", "until promoted"
			gates++
		case s.Analysis != nil && c.Analysis != nil:
			count := ptr.Deref(c.Analysis.Count, rollout.DefaultCount)
			d := time.Duration(count) * rollout.AnalysisInterval(c)
			action = "analysis"
			takes = fmt.Sprintf("at least %s (%d measurements, %s apart)", d, count, rollout.AnalysisInterval(c))
			least += d
		}
		fmt.Fprintf(&rows, "  %d/%d\t%s\t%d/%d\t%s\t%s\n", i+1, n, action, 100-weight, weight, podsAt(weight, stable, c.Scale), takes)
	}
	fmt.Fprintf(&rows, "  -\tpromotion\t%d/%d then 100/0\t%s then 0\tuntil the stable Deployment has rolled out (rolled back past %s)\n",
		100-weight, weight, podsAt(weight, stable, c.Scale), rollout.ProgressDeadline(c))
	align(w, rows.String())
	estimate := fmt.Sprintf("at least %s", least)
	if gates > 0 {
		estimate += fmt.Sprintf(", plus %d manual gate(s)", gates)
	}
	fmt.Fprintf(w, "Duration: %s, plus the pods' start-up at each weight and at the promotion.\n", estimate)
}

func podsAt(weight, stable int32, scale msv1.CanaryScale) string {
	if scale == msv1.FullCanaryScale {
		return fmt.Sprint(stable)
	}
	if weight == 0 {
		return "0"
	}
	return fmt.Sprint(rollout.CanaryReplicasFor(weight, stable))
}
