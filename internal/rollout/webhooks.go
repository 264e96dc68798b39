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
	"time"

	"k8s.io/utils/ptr"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
)

// Defaults of a webhook.
const (
	DefaultWebhookTimeout  = 10 * time.Second
	DefaultWebhookInterval = 10 * time.Second
	DefaultWebhookRetries  = 2
)

// webhookCheck is how soon a reconcile that made a webhook due looks again,
// to call it: the call is made off the reconcile, from the status.
const webhookCheck = time.Second

// WebhookAnswer is the outcome of one webhook call that WebhooksDue asked for.
type WebhookAnswer struct {
	// Name is the webhook's name.
	Name string
	// Step and Attempts are the entry's when it was called: the answer
	// only counts for that entry.
	Step     *int32
	Attempts int32
	// OK is true when the receiver answered 2xx.
	OK bool
	// Message is the HTTP status and the start of the body, or why the
	// call failed.
	Message string
}

// Webhook returns the webhook of c with the given name.
func Webhook(c *msv1.Canary, name string) (msv1.Webhook, bool) {
	if c == nil {
		return msv1.Webhook{}, false
	}
	for _, w := range c.Webhooks {
		if w.Name == name {
			return w, true
		}
	}
	return msv1.Webhook{}, false
}

// WebhookTimeout bounds each call of w.
func WebhookTimeout(w msv1.Webhook) time.Duration {
	if w.Timeout != nil && w.Timeout.Duration > 0 {
		return w.Timeout.Duration
	}
	return DefaultWebhookTimeout
}

// WebhookInterval is how long after a call that did not pass w is called again.
func WebhookInterval(w msv1.Webhook) time.Duration {
	if w.Interval != nil && w.Interval.Duration > 0 {
		return w.Interval.Duration
	}
	return DefaultWebhookInterval
}

func webhookRetries(w msv1.Webhook) int32 { return ptr.Deref(w.Retries, DefaultWebhookRetries) }

// gateType is true for the webhooks that hold the rollout until they say
// yes, and are asked until they do.
func gateType(t msv1.WebhookType) bool {
	switch t {
	case msv1.WebhookConfirmRollout, msv1.WebhookConfirmTrafficIncrease, msv1.WebhookConfirmPromotion:
		return true
	}
	return false
}

// WebhooksDue lists the webhook entries of st that are to be called now:
// pending or waiting ones whose interval since the last call has passed,
// of a webhook still in c with the same type. Post-rollout webhooks are due
// after the rollout has ended; the others only while the canary runs
// (rollback hooks not once it is being promoted).
func WebhooksDue(c *msv1.Canary, st *msv1.RolloutStatus, now time.Time) []msv1.WebhookStatus {
	var due []msv1.WebhookStatus
	for _, e := range callable(c, st) {
		if at, _ := nextCall(c, e); !at.After(now) {
			due = append(due, e)
		}
	}
	return due
}

// callable lists the entries of st that are waiting for a call, now or later.
func callable(c *msv1.Canary, st *msv1.RolloutStatus) []msv1.WebhookStatus {
	if c == nil || st == nil {
		return nil
	}
	var out []msv1.WebhookStatus
	for _, e := range st.Webhooks {
		w, ok := Webhook(c, e.Name)
		if !ok || w.Type != e.Type || (e.Phase != msv1.WebhookPending && e.Phase != msv1.WebhookWaiting) {
			continue
		}
		switch {
		case e.Type == msv1.WebhookPostRollout:
			if Active(st) {
				continue
			}
		case e.Type == msv1.WebhookRollback:
			if st.Phase != msv1.RolloutPhaseProgressing && st.Phase != msv1.RolloutPhasePaused {
				continue
			}
		case !Active(st) || st.Phase == msv1.RolloutPhasePromoting:
			continue
		}
		out = append(out, e)
	}
	return out
}

// nextCall is when entry e is to be called: at once when it never was,
// otherwise its webhook's interval after the last call.
func nextCall(c *msv1.Canary, e msv1.WebhookStatus) (time.Time, bool) {
	w, ok := Webhook(c, e.Name)
	if !ok {
		return time.Time{}, false
	}
	if e.Attempts == 0 || e.LastCalledAt == nil {
		return time.Time{}, true
	}
	return e.LastCalledAt.Add(WebhookInterval(w)), true
}

// applyWebhookAnswers records the answers of this reconcile's calls in the
// entries they were made for.
func (p *planner) applyWebhookAnswers() {
	answers := p.obs.Webhooks
	p.obs.Webhooks = nil
	for _, a := range answers {
		e := p.webhookEntry(a.Name)
		w, ok := Webhook(p.c, a.Name)
		if e == nil || !ok || e.Attempts != a.Attempts || !sameStep(e.Step, a.Step) ||
			(e.Phase != msv1.WebhookPending && e.Phase != msv1.WebhookWaiting) {
			continue
		}
		e.Attempts++
		e.LastCalledAt = p.now()
		e.Message = a.Message
		switch {
		case a.OK:
			e.Phase = msv1.WebhookSucceeded
		case gateType(e.Type) || e.Type == msv1.WebhookRollback:
			if e.Phase != msv1.WebhookWaiting && gateType(e.Type) {
				p.event(false, "WebhookWaiting", "The %s webhook %s said no (%s); asking again every %s", e.Type, e.Name, a.Message, WebhookInterval(w))
			}
			e.Phase = msv1.WebhookWaiting
		case e.Attempts > webhookRetries(w):
			e.Phase = msv1.WebhookFailed
			p.event(true, "WebhookFailed", "The %s webhook %s failed %s: %s", e.Type, e.Name, times(e.Attempts), a.Message)
		default:
			e.Phase = msv1.WebhookPending
		}
	}
}

// times says how many times something happened.
func times(n int32) string {
	switch n {
	case 1:
		return "once"
	case 2:
		return "twice"
	}
	return fmt.Sprintf("%d times", n)
}

func sameStep(a, b *int32) bool {
	return (a == nil) == (b == nil) && (a == nil || *a == *b)
}

func (p *planner) webhookEntry(name string) *msv1.WebhookStatus {
	for i := range p.st.Webhooks {
		if p.st.Webhooks[i].Name == name {
			return &p.st.Webhooks[i]
		}
	}
	return nil
}

// ensureWebhooks gives every webhook of type t an entry for step (nil for
// the types called once per attempt), pending when it has none yet, and
// returns their names.
func (p *planner) ensureWebhooks(t msv1.WebhookType, step *int32) []string {
	var names []string
	for _, w := range p.c.Webhooks {
		if w.Type != t {
			continue
		}
		names = append(names, w.Name)
		e := p.webhookEntry(w.Name)
		fresh := msv1.WebhookStatus{Name: w.Name, Type: t, Step: step, Phase: msv1.WebhookPending}
		switch {
		case e == nil:
			p.st.Webhooks = append(p.st.Webhooks, fresh)
		case e.Type != t || !sameStep(e.Step, step):
			*e = fresh
		}
	}
	return names
}

// webhooksPass is true when every webhook of type t has answered 2xx for
// step. A check that failed more often than its retries allow rolls the
// canary back (at step i); otherwise the rollout waits for the calls, and
// the status says for which.
func (p *planner) webhooksPass(t msv1.WebhookType, step *int32, i int, where string) bool {
	names := p.ensureWebhooks(t, step)
	var waiting []string
	for _, name := range names {
		e := p.webhookEntry(name)
		switch e.Phase {
		case msv1.WebhookSucceeded:
		case msv1.WebhookFailed:
			why := fmt.Sprintf("the %s webhook %s failed %s: %s", t, name, times(e.Attempts), e.Message)
			p.rollBack(i, "Rolled back "+where+": "+why, why)
			return false
		default:
			w := name
			if e.Message != "" {
				w += " (" + e.Message + ")"
			}
			waiting = append(waiting, w)
		}
	}
	if len(waiting) == 0 {
		return true
	}
	p.st.Phase = msv1.RolloutPhaseProgressing
	p.st.Message = fmt.Sprintf("%s: waiting for the %s webhook %s", capitalize(where), t, strings.Join(waiting, ", "))
	return false
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// startWebhooks runs the webhooks of the attempt's start, before the
// canary gets any traffic: confirm-rollout before the canary scales up,
// then pre-rollout once it has a ready pod. It reports whether the steps
// may run.
func (p *planner) startWebhooks() bool {
	if ptr.Deref(p.st.CurrentStep, 0) != 0 || p.st.CanaryWeight != 0 {
		return true
	}
	if !p.webhooksPass(msv1.WebhookConfirmRollout, nil, 0, "before the canary starts") {
		p.drainCanary()
		return false
	}
	var checks []string
	for _, w := range p.c.Webhooks {
		if w.Type == msv1.WebhookPreRollout {
			checks = append(checks, w.Name)
		}
	}
	if len(checks) == 0 {
		return true
	}
	// The checks are made due only once the canary has a ready pod to
	// check.
	if !p.allSucceeded(checks) {
		p.canaryReplicas = p.canaryReplicasAt(0)
		if !p.canaryReady(p.canaryReplicas) {
			p.waitForPods(0, 0)
			if p.st.Phase == msv1.RolloutPhaseProgressing {
				p.st.Message = fmt.Sprintf("Waiting for %d ready canary pod before the pre-rollout webhooks", p.canaryReplicas)
			}
			return false
		}
	}
	return p.webhooksPass(msv1.WebhookPreRollout, nil, 0, "before the canary got traffic")
}

func (p *planner) allSucceeded(names []string) bool {
	for _, n := range names {
		if e := p.webhookEntry(n); e == nil || e.Phase != msv1.WebhookSucceeded {
			return false
		}
	}
	return true
}

// rollbackRequested asks the rollback hooks while the canary runs, and
// rolls it back once one has answered 2xx.
func (p *planner) rollbackRequested() bool {
	for _, name := range p.ensureWebhooks(msv1.WebhookRollback, nil) {
		if e := p.webhookEntry(name); e.Phase == msv1.WebhookSucceeded {
			i := int(ptr.Deref(p.st.CurrentStep, 0))
			why := fmt.Sprintf("the rollback webhook %s asked for it (%s)", name, e.Message)
			p.rollBack(min(i, len(p.c.Steps)-1), fmt.Sprintf("Rolled back at step %d/%d: %s", min(i, len(p.c.Steps)-1)+1, len(p.c.Steps), why), why)
			return true
		}
	}
	return false
}

// postRollout makes the post-rollout webhooks due: the rollout has ended.
func (p *planner) postRollout() {
	for _, w := range p.c.Webhooks {
		if w.Type != msv1.WebhookPostRollout {
			continue
		}
		fresh := msv1.WebhookStatus{Name: w.Name, Type: w.Type, Phase: msv1.WebhookPending}
		if e := p.webhookEntry(w.Name); e != nil {
			*e = fresh
		} else {
			p.st.Webhooks = append(p.st.Webhooks, fresh)
		}
	}
}

// requeueForWebhooks brings the next reconcile forward to the next call of
// an entry of the new status, unless that call is running now (its answer
// triggers the reconcile).
func (p *planner) requeueForWebhooks() {
	for _, e := range callable(p.c, &p.st) {
		if slices.Contains(p.obs.WebhookCalls, e.Name) {
			continue
		}
		at, ok := nextCall(p.c, e)
		if !ok {
			continue
		}
		wait := max(at.Sub(p.obs.Now), webhookCheck)
		if p.requeue == 0 || wait < p.requeue {
			p.requeue = wait
		}
	}
}
