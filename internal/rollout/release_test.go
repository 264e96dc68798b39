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

package rollout

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
)

// A release of three services, storefront -> checkout -> ledger (each calls
// the next), all changed at once. Each member is one sim (its own
// Deployments, route and status); before each of its reconciles it sees the
// release as ViewRelease computes it from the other members' last written
// statuses, as the reconciler does from the cache. Members reconcile
// consumer first, the order most likely to start a consumer too early.
type releaseSim struct {
	name     string
	order    []string
	deps     map[string][]string
	sims     map[string]*sim
	pending  map[string]bool
	now      time.Time
	step     time.Duration
	changeAt int
	ticks    int
	lines    []string
	// failed is the member whose own failure rolled the release back, once one has.
	failed string
	// promoted records each member's first tick at Promoting, rolledBack
	// each member's first tick at RolledBack or Aborted.
	promoted, rolledBack map[string]int
	violations           []string
}

const releaseName = "checkout-v2"

func newReleaseSim(title string, doc []string, measurements map[string]string) *releaseSim {
	rs := &releaseSim{
		name:  releaseName,
		order: []string{"shop/storefront", "shop/checkout", "shop/ledger"},
		deps: map[string][]string{
			"shop/storefront": {"shop/checkout"},
			"shop/checkout":   {"shop/ledger"},
			"shop/ledger":     nil,
		},
		sims: map[string]*sim{}, pending: map[string]bool{},
		now: simEpoch, step: 10 * time.Second, changeAt: 1, ticks: 40,
		promoted: map[string]int{}, rolledBack: map[string]int{},
	}
	rs.lines = append(rs.lines, "# release "+title)
	for _, l := range doc {
		rs.lines = append(rs.lines, "# "+l)
	}
	rs.lines = append(rs.lines,
		"# members: storefront calls checkout, checkout calls ledger; every member changes to rev2 at tick 1,",
		"#          labelled with release "+releaseName+"; each reconciles every 10s, consumers first",
	)
	for _, m := range rs.order {
		sc := &scenario{
			name:             m,
			canary:           canarySpec(analysisSpec(20*time.Second, 2, 0, 0), setWeight(20), analysis(), setWeight(50), pauseFor(20*time.Second)),
			stableReplicas:   2,
			stableReadyAfter: 1,
			measurements:     measurements[m],
			ticks:            rs.ticks,
		}
		s := newSim(sc)
		rs.sims[m] = s
		rs.lines = append(rs.lines, fmt.Sprintf("# %s: %s; measurements %q then S", m, strings.TrimPrefix(s.lines[1+len(sc.doc)], "# "), sc.measurements))
	}
	rs.lines = append(rs.lines, "# columns: member, then the columns of the one-service scenarios, and release=STATE of status.rollout.release")
	return rs
}

func (rs *releaseSim) members() []ReleaseMember {
	var out []ReleaseMember
	for _, m := range rs.order {
		rm := ReleaseMember{Key: m, Dependencies: rs.deps[m], Pending: rs.pending[m]}
		if st := rs.sims[m].status(); st != nil {
			rm.Status = st.Release
		}
		out = append(out, rm)
	}
	return out
}

func (rs *releaseSim) stateOf(m string) msv1.ReleaseMemberState {
	if rs.pending[m] {
		return msv1.ReleaseWaiting
	}
	if st := rs.sims[m].status(); st != nil && st.Release != nil {
		return st.Release.State
	}
	return ""
}

func (rs *releaseSim) fail(tick int, m, format string, args ...any) {
	rs.violations = append(rs.violations, fmt.Sprintf("tick %d, %s: %s", tick, m, fmt.Sprintf(format, args...)))
}

func (rs *releaseSim) run() {
	for tick := 0; tick < rs.ticks; tick++ {
		if tick == rs.changeAt {
			for _, m := range rs.order {
				rs.sims[m].desired = "rev2"
				rs.pending[m] = true
			}
			rs.lines = append(rs.lines, "           -- spec: every member's pod template changed to revision rev2")
		}
		for _, m := range rs.order {
			s := rs.sims[m]
			members := rs.members()
			var self ReleaseMember
			for _, x := range members {
				if x.Key == m {
					self = x
				}
			}
			s.release = ViewRelease(rs.name, self, members)
			s.now = rs.now
			before, ran := len(s.lines), s.tick
			s.runTick()
			// A reconcile that failed wrote no status: the member's latest
			// spec is still not observed (observedGeneration stays behind).
			if s.failAt.tick != ran {
				rs.pending[m] = false
			}
			for _, l := range s.lines[before:] {
				rs.lines = append(rs.lines, fmt.Sprintf("%-10s %s", strings.TrimPrefix(m, "shop/"), l))
			}
			rs.check(tick, m)
		}
		rs.now = rs.now.Add(rs.step)
	}
}

// check judges the release after member m's reconcile at tick.
func (rs *releaseSim) check(tick int, m string) {
	s := rs.sims[m]
	st := s.status()
	if st == nil {
		return
	}
	state := rs.stateOf(m)
	passed := func(x string) bool {
		s := rs.stateOf(x)
		return s == msv1.ReleasePassed || s == msv1.ReleasePromoting || s == msv1.ReleasePromoted
	}
	// No canary pod of a consumer before every changed dependency passed.
	if s.canary.replicas > 0 && s.canary.revision == "rev2" && rs.failed == "" {
		for _, d := range rs.deps[m] {
			if !passed(d) {
				rs.fail(tick, m, "canary pods while its dependency %s is %s", d, rs.stateOf(d))
			}
		}
	}
	if state == msv1.ReleaseRolledBack && st.Release.FailedMember == m && rs.failed == "" {
		rs.failed = m
	}
	if state == msv1.ReleasePromoting || state == msv1.ReleasePromoted {
		if _, ok := rs.promoted[m]; !ok {
			rs.promoted[m] = tick
			// No promotion before the whole release passed, nor before
			// the dependencies are promoted, nor after a failure.
			for _, x := range rs.order {
				if x != m && !passed(x) && rs.stateOf(x) != "" {
					rs.fail(tick, m, "promoted while %s is %s", x, rs.stateOf(x))
				}
			}
			for _, d := range rs.deps[m] {
				if rs.stateOf(d) != msv1.ReleasePromoted {
					rs.fail(tick, m, "promoted before its dependency %s (%s)", d, rs.stateOf(d))
				}
			}
			if rs.failed != "" {
				rs.fail(tick, m, "promoted after %s failed", rs.failed)
			}
		}
	}
	if state == msv1.ReleaseRolledBack {
		if _, ok := rs.rolledBack[m]; !ok {
			rs.rolledBack[m] = tick
			// Consumers go back before their dependencies.
			for _, c := range rs.order {
				if slices.Contains(rs.deps[c], m) && m != rs.failed {
					if cs := rs.stateOf(c); cs != msv1.ReleaseRolledBack && cs != "" {
						rs.fail(tick, m, "rolled back before its consumer %s (%s)", c, cs)
					}
				}
			}
			if st.Release.FailedMember == "" {
				rs.fail(tick, m, "rolled back without naming the member that failed")
			}
		}
		if st.Phase == msv1.RolloutPhaseRolledBack && s.weight > 0 && s.canary.replicas == 0 {
			rs.fail(tick, m, "weight %d on a canary scaled to zero", s.weight)
		}
	}
}

func (rs *releaseSim) trace() string { return strings.Join(rs.lines, "\n") + "\n" }

func (rs *releaseSim) report(t *testing.T) {
	t.Helper()
	for _, m := range rs.order {
		rs.sims[m].inv.report(t, rs.sims[m])
	}
	for _, v := range rs.violations {
		t.Errorf("release invariant: %s", v)
	}
	if t.Failed() {
		t.Logf("trace:\n%s", rs.trace())
	}
}

// TestReleaseScenarios drives a three-service release through success, a
// failure of the middle member and a failure of the consumer, compares
// each trace with testdata/release-NAME.golden and checks the release's
// order on every tick: no consumer canary before its dependencies passed,
// no promotion before the whole release passed and the dependencies are
// promoted, none after a failure, consumers rolled back before their
// dependencies, and every member's own invariants.
type releaseCase struct {
	name, title  string
	doc          []string
	measurements map[string]string
	// want is every member's last phase and stable revision.
	want map[string][2]string
}

func releaseCases() []releaseCase {
	return []releaseCase{
		{
			name: "release-in-order", title: "in dependency order",
			doc: []string{
				"ledger's canary runs first; checkout's starts once ledger passed its steps and calls ledger's canary;",
				"storefront's once checkout passed. Each member that passed is held at its last weight until the",
				"whole release passed, then ledger, checkout and storefront are promoted in that order.",
			},
			want: map[string][2]string{
				"shop/ledger": {"Succeeded", "rev2"}, "shop/checkout": {"Succeeded", "rev2"}, "shop/storefront": {"Succeeded", "rev2"},
			},
		},
		{
			name: "release-middle-fails", title: "whose middle member fails its analysis",
			doc: []string{
				"checkout's analysis fails: checkout rolls back, storefront (still waiting) is not delivered,",
				"and ledger, held after passing, rolls back after them. Every member names checkout.",
			},
			measurements: map[string]string{"shop/checkout": "F"},
			want: map[string][2]string{
				"shop/ledger": {"RolledBack", "rev1"}, "shop/checkout": {"RolledBack", "rev1"}, "shop/storefront": {"Aborted", "rev1"},
			},
		},
		{
			name: "release-consumer-fails", title: "whose consumer fails its analysis",
			doc: []string{
				"storefront, the last to start, fails its analysis: checkout and then ledger, both held after",
				"passing, roll back, consumers first; nothing was promoted.",
			},
			measurements: map[string]string{"shop/storefront": "SF"},
			want: map[string][2]string{
				"shop/ledger": {"RolledBack", "rev1"}, "shop/checkout": {"RolledBack", "rev1"}, "shop/storefront": {"RolledBack", "rev1"},
			},
		},
	}
}

func (rs *releaseSim) checkEnd(t *testing.T, want map[string][2]string) {
	t.Helper()
	for m, w := range want {
		st := rs.sims[m].status()
		if got := [2]string{string(st.Phase), rs.sims[m].stable.revision}; got != w {
			t.Errorf("%s ends %v, want %v", m, got, w)
		}
	}
}

func TestReleaseScenarios(t *testing.T) {
	for _, tc := range releaseCases() {
		t.Run(tc.name, func(t *testing.T) {
			rs := newReleaseSim(tc.title, tc.doc, tc.measurements)
			rs.run()
			rs.checkEnd(t, tc.want)
			rs.report(t)
			compareGolden(t, tc.name, rs.trace())
		})
	}
}

// TestReleaseScenariosWithAFailedAction runs every release scenario again
// once for each action of each reconcile of each member, failing that
// action (and every later one of the same reconcile, the status write
// included): the release's order and every member's invariants must hold
// on every tick, and the release must end as without the failure.
func TestReleaseScenariosWithAFailedAction(t *testing.T) {
	runs := 0
	for _, tc := range releaseCases() {
		base := newReleaseSim(tc.title, tc.doc, tc.measurements)
		for _, m := range base.order {
			for tick := 1; tick < base.ticks; tick++ {
				for _, action := range []string{actionStable, actionCanary, actionRoute, actionStatus} {
					rs := newReleaseSim(tc.title, tc.doc, tc.measurements)
					rs.ticks += 3
					for _, x := range rs.order {
						rs.sims[x].sc.ticks = rs.ticks
					}
					rs.sims[m].failAt = failedAction{tick: tick, action: action}
					rs.run()
					runs++
					name := fmt.Sprintf("%s/%s/%s-at-tick-%d", tc.name, strings.TrimPrefix(m, "shop/"), strings.ReplaceAll(action, " ", "-"), tick)
					t.Run(name, func(t *testing.T) {
						rs.checkEnd(t, tc.want)
						rs.report(t)
					})
				}
			}
		}
	}
	t.Logf("%d runs of the release scenarios, each with one failed action", runs)
}

func TestViewRelease(t *testing.T) {
	st := func(s msv1.ReleaseMemberState) *msv1.ReleaseMemberStatus {
		return &msv1.ReleaseMemberStatus{Name: releaseName, State: s}
	}
	self := ReleaseMember{Key: "shop/checkout", Dependencies: []string{"shop/ledger", "shop/tax"}}
	for _, tc := range []struct {
		name    string
		members []ReleaseMember
		want    ReleaseView
	}{
		{
			name: "a dependency not reconciled yet holds the start",
			members: []ReleaseMember{{Key: "shop/ledger", Pending: true}, {Key: "shop/tax"},
				{Key: "shop/storefront", Dependencies: []string{"shop/checkout"}}},
			want: ReleaseView{StartAfter: []string{"shop/ledger"}, PromoteAfter: []string{"shop/ledger"}, HoldFor: []string{"shop/ledger"}},
		},
		{
			name: "a passed dependency is called at its canary; a consumer still waiting holds the promotion",
			members: []ReleaseMember{{Key: "shop/ledger", Status: st(msv1.ReleasePassed)},
				{Key: "shop/storefront", Dependencies: []string{"shop/checkout"}, Status: st(msv1.ReleaseWaiting)}},
			want: ReleaseView{PromoteAfter: []string{"shop/ledger"}, CanaryCalls: []string{"shop/ledger"},
				HoldFor: []string{"shop/storefront"}, RollBackAfter: []string{"shop/storefront"}},
		},
		{
			name: "another release's status and a member that changes nothing count for nothing",
			members: []ReleaseMember{{Key: "shop/ledger", Status: &msv1.ReleaseMemberStatus{Name: "older", State: msv1.ReleaseProgressing}},
				{Key: "shop/tax"}},
			want: ReleaseView{},
		},
		{
			name: "the member that failed is named, by those that went back with it too",
			members: []ReleaseMember{
				{Key: "shop/ledger", Status: &msv1.ReleaseMemberStatus{Name: releaseName, State: msv1.ReleaseRolledBack, FailedMember: "shop/storefront"}},
				{Key: "shop/storefront", Dependencies: []string{"shop/checkout"}, Status: &msv1.ReleaseMemberStatus{Name: releaseName, State: msv1.ReleaseRolledBack, Message: "analysis failed"}}},
			want: ReleaseView{Failed: "shop/storefront", FailedWhy: "analysis failed"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := ViewRelease(releaseName, self, append(tc.members, self))
			tc.want.Name, tc.want.Self = releaseName, self.Key
			if fmt.Sprintf("%+v", *got) != fmt.Sprintf("%+v", tc.want) {
				t.Errorf("got  %+v\nwant %+v", *got, tc.want)
			}
		})
	}
}
