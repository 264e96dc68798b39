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
	"sort"
	"strings"

	"k8s.io/utils/ptr"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
)

// A release is the set of Microservices of one namespace that carry the
// same release label.
// Its changed members (those delivering a new version in it) roll out in
// dependency order:
//
//   - a member's canary starts once every changed dependency in the release
//     has passed its canary steps (Passed) or is promoted;
//   - a member that passed its steps is held, canary at its last weight,
//     until every changed member of the release has passed its own steps
//     (no member is promoted before the whole release passed) and every
//     changed dependency is promoted: dependencies are promoted first, so a
//     consumer's new stable pods never call an old dependency;
//   - the first member to fail (rolled back, or aborted) takes back every
//     member not promoted yet, consumers before their dependencies.
//
// The planner sees a release only as a ReleaseView, computed by
// ViewRelease from the members' statuses; a member changes its own status
// only, so members never write each other.

// ReleaseMember is what one member of a release shows the others.
type ReleaseMember struct {
	// Key is namespace/name.
	Key string
	// Dependencies are the keys of the Microservices it declares as
	// dependencies.
	Dependencies []string
	// Pending is true while its latest spec has not been reconciled: it
	// may be about to deliver a change in the release.
	Pending bool
	// Status is its part in the release, nil when it delivers no change in
	// it (status.rollout.release of another release counts as nil).
	Status *msv1.ReleaseMemberStatus
}

// ReleaseView is what the planner of one member knows of its release.
type ReleaseView struct {
	// Name of the release; Self is the member's key.
	Name, Self string
	// StartAfter lists the changed dependencies that have not passed their
	// canary steps yet: a new version of this member waits for them.
	StartAfter []string
	// HoldFor lists the other changed members that have not passed their
	// canary steps yet, and PromoteAfter the changed dependencies not
	// promoted yet: a member that passed its steps waits for both.
	HoldFor, PromoteAfter []string
	// Failed is the member whose failure rolls the release back, "" when
	// none failed; FailedWhy is its message.
	Failed, FailedWhy string
	// RollBackAfter lists the changed consumers not rolled back yet: after
	// a failure this member goes back after them.
	RollBackAfter []string
	// CanaryCalls lists the changed dependencies whose canary runs its
	// steps or holds after them (Progressing or Passed): this member's
	// canary pods call them there, its stable pods keep their address.
	CanaryCalls []string
}

// ViewRelease is the view of release name from the member self, given
// every member (self among them or not).
func ViewRelease(name string, self ReleaseMember, members []ReleaseMember) *ReleaseView {
	v := &ReleaseView{Name: name, Self: self.Key}
	byKey := map[string]ReleaseMember{}
	for _, m := range members {
		if m.Status != nil && m.Status.Name != name {
			m.Status = nil
		}
		byKey[m.Key] = m
	}
	state := func(m ReleaseMember) msv1.ReleaseMemberState {
		switch {
		case m.Status != nil:
			return m.Status.State
		case m.Pending:
			// Not reconciled yet: it may be about to wait in the release.
			return msv1.ReleaseWaiting
		}
		return ""
	}
	passed := func(s msv1.ReleaseMemberState) bool {
		return s == msv1.ReleasePassed || s == msv1.ReleasePromoting || s == msv1.ReleasePromoted
	}
	for _, k := range self.Dependencies {
		m, ok := byKey[k]
		if !ok || k == self.Key {
			continue
		}
		s := state(m)
		if s == "" || s == msv1.ReleaseRolledBack || s == msv1.ReleasePromoted {
			continue
		}
		v.PromoteAfter = append(v.PromoteAfter, k)
		if !passed(s) {
			v.StartAfter = append(v.StartAfter, k)
		}
		if s == msv1.ReleaseProgressing || s == msv1.ReleasePassed {
			// Its canary runs the steps, or holds after them. From its
			// promotion on, its stable track gets the new version and its
			// canary pods go once traffic left them: calls go to stable
			// from the start of the promotion, so none finds the canary's
			// Service without pods.
			v.CanaryCalls = append(v.CanaryCalls, k)
		}
	}
	var failed []string
	for _, m := range byKey {
		if m.Key == self.Key {
			continue
		}
		s := state(m)
		if s == msv1.ReleaseRolledBack {
			f := m.Status.FailedMember
			if f == "" {
				f = m.Key
			}
			failed = append(failed, f)
			if f == m.Key && (v.Failed == "" || m.Key < v.Failed) {
				v.Failed, v.FailedWhy = m.Key, m.Status.Message
			}
		}
		if s == msv1.ReleaseWaiting || s == msv1.ReleaseProgressing {
			v.HoldFor = append(v.HoldFor, m.Key)
		}
		if slices.Contains(m.Dependencies, self.Key) && (s == msv1.ReleaseWaiting || s == msv1.ReleaseProgressing || s == msv1.ReleasePassed) {
			v.RollBackAfter = append(v.RollBackAfter, m.Key)
		}
	}
	if v.Failed == "" && len(failed) > 0 {
		// Only members that went back with the release are seen: the one
		// that failed first is named by them.
		sort.Strings(failed)
		v.Failed = failed[0]
	}
	if v.Failed != "" && v.FailedWhy == "" {
		v.FailedWhy = "rolled back"
	}
	for _, l := range [][]string{v.StartAfter, v.HoldFor, v.PromoteAfter, v.RollBackAfter, v.CanaryCalls} {
		sort.Strings(l)
	}
	return v
}

// releaseStartBlocked is true when a new version of this member must not
// start its canary yet: it waits for the release (waiting is then set), or
// the release failed and the version is not delivered (the status says so).
func (p *planner) releaseStartBlocked() bool {
	r := p.obs.Release
	if r == nil || p.active() || p.st.CanaryRevision == p.obs.DesiredRevision || p.obs.StableRevision == p.obs.DesiredRevision || neverStarted(p.obs) {
		return false
	}
	p.st.StableRevision = p.obs.StableRevision
	p.st.TrafficRouting = p.routing()
	p.st.HandledPromote, p.st.HandledPromoteFull = p.obs.Promote, p.obs.PromoteFull
	p.st.HandledAbort, p.st.HandledRetry = p.obs.Abort, p.obs.Retry
	switch {
	case r.Failed != "":
		// Never started: nothing to take back, the version is not delivered.
		p.st.Phase = msv1.RolloutPhaseAborted
		p.st.CanaryRevision = p.obs.DesiredRevision
		p.st.CurrentStep, p.st.StepStartedAt, p.st.CanaryWeight = nil, nil, 0
		p.st.Analysis, p.st.BackgroundAnalysis, p.st.Webhooks = nil, nil, nil
		why := fmt.Sprintf("release %s went back after %s failed", r.Name, r.Failed)
		p.st.Message = "Revision " + p.obs.DesiredRevision + " not delivered: " + why
		p.st.Release = &msv1.ReleaseMemberStatus{Name: r.Name, State: msv1.ReleaseRolledBack, FailedMember: r.Failed, Message: p.st.Message}
		p.event(true, "RolloutAborted", "Revision %s not delivered: %s (%s)", p.obs.DesiredRevision, why, r.FailedWhy)
		p.removeCanary()
		return true
	case len(r.StartAfter) > 0:
		if p.st.Phase == "" {
			p.st.Phase = msv1.RolloutPhaseIdle
		}
		p.waiting = fmt.Sprintf("Revision %s waits for release %s: %s must pass the canary steps first",
			p.obs.DesiredRevision, r.Name, strings.Join(r.StartAfter, ", "))
		if p.st.Phase == msv1.RolloutPhaseIdle || p.st.Phase == msv1.RolloutPhaseSucceeded {
			p.st.Message = p.waiting
		}
		p.st.Release = &msv1.ReleaseMemberStatus{Name: r.Name, State: msv1.ReleaseWaiting, Message: p.waiting}
		p.drainCanary()
		return true
	}
	return false
}

// releaseHold holds a member that passed its canary steps until its
// release lets it be promoted, and reports whether it did.
func (p *planner) releaseHold() bool {
	r := p.obs.Release
	if r == nil || len(r.HoldFor)+len(r.PromoteAfter) == 0 {
		return false
	}
	var waits []string
	if len(r.HoldFor) > 0 {
		waits = append(waits, strings.Join(r.HoldFor, ", ")+" to pass the canary steps")
	}
	if len(r.PromoteAfter) > 0 {
		waits = append(waits, strings.Join(r.PromoteAfter, ", ")+" to be promoted")
	}
	msg := fmt.Sprintf("Passed every step; held for release %s, waiting for %s", r.Name, strings.Join(waits, " and "))
	if p.st.Phase != msv1.RolloutPhasePaused || p.st.Release == nil || p.st.Release.State != msv1.ReleasePassed {
		p.event(false, "ReleaseHeld", "Revision %s passed every step; held for release %s, waiting for %s", p.st.CanaryRevision, r.Name, strings.Join(waits, " and "))
	}
	p.st.Phase = msv1.RolloutPhasePaused
	p.st.Message = msg
	p.st.Release = &msv1.ReleaseMemberStatus{Name: r.Name, State: msv1.ReleasePassed, Message: msg}
	p.holdCanary()
	return true
}

// releaseRollBack takes this member's canary back when another member of
// its release failed, after its consumers, and reports whether the release
// decides this reconcile. A promotion under way is not taken back.
func (p *planner) releaseRollBack() bool {
	r := p.obs.Release
	if r == nil || r.Failed == "" || r.Failed == r.Self || !p.active() || p.st.Phase == msv1.RolloutPhasePromoting {
		return false
	}
	if len(r.RollBackAfter) > 0 {
		p.st.Phase = msv1.RolloutPhasePaused
		p.st.Message = fmt.Sprintf("Release %s goes back after %s failed: waiting for %s to roll back first", r.Name, r.Failed, strings.Join(r.RollBackAfter, ", "))
		p.st.Release = &msv1.ReleaseMemberStatus{Name: r.Name, State: releaseStateOf(&p.st), FailedMember: r.Failed, Message: p.st.Message}
		p.holdCanary()
		return true
	}
	why := fmt.Sprintf("release %s went back after %s failed", r.Name, r.Failed)
	p.st.Phase = msv1.RolloutPhaseRolledBack
	p.st.Message = "Rolled back: " + why
	p.st.Release = &msv1.ReleaseMemberStatus{Name: r.Name, State: msv1.ReleaseRolledBack, FailedMember: r.Failed, Message: p.st.Message}
	at := "after its last step"
	if i := int(ptr.Deref(p.st.CurrentStep, 0)); i < len(p.c.Steps) {
		at = fmt.Sprintf("at step %d/%d", i+1, len(p.c.Steps))
	}
	p.event(true, "RolloutRolledBack", "Revision %s rolled back %s: %s (%s)", p.st.CanaryRevision, at, why, r.FailedWhy)
	p.postRollout()
	p.removeCanary()
	return true
}

// trackRelease keeps status.rollout.release in step with the phase, for a
// member delivering a change in its release.
func (p *planner) trackRelease() {
	r := p.obs.Release
	if r == nil || p.st.Release == nil || p.st.Release.Name != r.Name {
		return
	}
	rel := p.st.Release
	switch s := releaseStateOf(&p.st); {
	case s == "":
	case s == msv1.ReleaseRolledBack:
		if rel.State != msv1.ReleaseRolledBack {
			rel.FailedMember, rel.Message = r.Self, p.st.Message
		}
		rel.State = s
	case s == msv1.ReleaseProgressing && rel.State == msv1.ReleasePassed && p.st.Phase == msv1.RolloutPhasePaused:
		// Held for the release.
	default:
		if rel.State != s {
			rel.Message = ""
		}
		rel.State = s
	}
}

// releaseStateOf is the release state a rollout's phase implies.
func releaseStateOf(st *msv1.RolloutStatus) msv1.ReleaseMemberState {
	switch st.Phase {
	case msv1.RolloutPhaseProgressing, msv1.RolloutPhasePaused:
		return msv1.ReleaseProgressing
	case msv1.RolloutPhasePromoting:
		return msv1.ReleasePromoting
	case msv1.RolloutPhaseSucceeded:
		return msv1.ReleasePromoted
	case msv1.RolloutPhaseRolledBack, msv1.RolloutPhaseAborted:
		return msv1.ReleaseRolledBack
	}
	return ""
}
