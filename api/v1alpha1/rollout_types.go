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

package v1alpha1

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// RolloutStrategyType is how a new version of the pod template reaches users.
// +kubebuilder:validation:Enum=RollingUpdate;Canary;BlueGreen
type RolloutStrategyType string

const (
	// RollingUpdateStrategy replaces pods with the Deployment's rolling update.
	RollingUpdateStrategy RolloutStrategyType = "RollingUpdate"
	// CanaryStrategy runs the new version beside the old one and moves traffic
	// to it step by step.
	CanaryStrategy RolloutStrategyType = "Canary"
	// BlueGreenStrategy runs the new version at full size with no traffic
	// (the preview), then switches all traffic to it at once, keeping the
	// old version for a while for a fast rollback.
	BlueGreenStrategy RolloutStrategyType = "BlueGreen"
)

// TrafficRoutingType is what splits a canary's traffic between the tracks.
type TrafficRoutingType string

const (
	// GatewayAPITrafficRouting weighs the tracks in the HTTPRoute of spec.route.
	GatewayAPITrafficRouting TrafficRoutingType = "GatewayAPI"
	// MeshTrafficRouting also weighs them in a GAMMA HTTPRoute whose parent
	// is the Microservice's Service, for east-west traffic through a mesh.
	MeshTrafficRouting TrafficRoutingType = "Mesh"
)

// Rollout says how a new version of the service is delivered.
// +kubebuilder:validation:XValidation:rule="self.strategy != 'Canary' || has(self.canary)",message="spec.rollout.canary is required when spec.rollout.strategy is Canary"
// +kubebuilder:validation:XValidation:rule="self.strategy == 'Canary' || !has(self.canary)",message="spec.rollout.canary is only allowed with spec.rollout.strategy: Canary"
// +kubebuilder:validation:XValidation:rule="self.strategy != 'BlueGreen' || has(self.blueGreen)",message="spec.rollout.blueGreen is required when spec.rollout.strategy is BlueGreen (blueGreen: {} takes every default)"
// +kubebuilder:validation:XValidation:rule="self.strategy == 'BlueGreen' || !has(self.blueGreen)",message="spec.rollout.blueGreen is only allowed with spec.rollout.strategy: BlueGreen"
type Rollout struct {
	// strategy is RollingUpdate (the default), Canary or BlueGreen.
	// +kubebuilder:default=RollingUpdate
	// +optional
	Strategy RolloutStrategyType `json:"strategy,omitempty"`

	// canary configures the canary steps and their analysis.
	// +optional
	Canary *Canary `json:"canary,omitempty"`

	// blueGreen configures the blue-green strategy.
	// +optional
	BlueGreen *BlueGreen `json:"blueGreen,omitempty"`
}

// BlueGreen runs the new version beside the old one at full size with no
// traffic (the preview, reached through the <name>-canary Service or the
// matches), optionally analyses it, then switches all traffic to it at
// once (automatically, or on a promote), optionally analyses it again,
// and keeps the old version's pods for scaleDownDelay, during which an
// abort switches back at once. Then the stable track takes the new
// version and the preview goes.
// +kubebuilder:validation:XValidation:rule="!(has(self.prePromotionAnalysis) && self.prePromotionAnalysis || has(self.postPromotionAnalysis) && self.postPromotionAnalysis) || has(self.analysis) || has(self.analysisTemplate)",message="spec.rollout.blueGreen.analysis (or analysisTemplate) is required with prePromotionAnalysis or postPromotionAnalysis"
// +kubebuilder:validation:XValidation:rule="!(has(self.analysis) && has(self.analysisTemplate))",message="spec.rollout.blueGreen sets both analysis and analysisTemplate: keep one"
// +kubebuilder:validation:XValidation:rule="!has(self.autoPromotionDelay) || !has(self.autoPromotion) || self.autoPromotion",message="spec.rollout.blueGreen.autoPromotionDelay needs autoPromotion: leave autoPromotion out (or true), or drop the delay"
type BlueGreen struct {
	// autoPromotion switches traffic to the new version once its preview
	// is ready (and its pre-promotion analysis passed); false waits for a
	// promote (kubectl msvc promote). Defaults to true.
	// +optional
	AutoPromotion *bool `json:"autoPromotion,omitempty"`

	// autoPromotionDelay waits this long, with the preview ready, before an
	// automatic switch.
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]{1,5}(\\\\.[0-9]{1,9})?(ms|s|m|h)){1,4}$')",message="spec.rollout.blueGreen.autoPromotionDelay must be a duration such as 30s or 10m"
	// +kubebuilder:validation:XValidation:rule="!self.matches('^([0-9]{1,5}(\\\\.[0-9]{1,9})?(ms|s|m|h)){1,4}$') || duration(self) <= duration('720h')",message="spec.rollout.blueGreen.autoPromotionDelay must be at most 720h"
	// +optional
	AutoPromotionDelay *metav1.Duration `json:"autoPromotionDelay,omitempty"`

	// prePromotionAnalysis runs the analysis on the preview before the
	// switch; a failure removes the preview with no user request having
	// reached it but those of the matches.
	// +optional
	PrePromotionAnalysis bool `json:"prePromotionAnalysis,omitempty"`

	// postPromotionAnalysis runs the analysis after the switch, while the
	// old version is kept; a failure switches back at once.
	// +optional
	PostPromotionAnalysis bool `json:"postPromotionAnalysis,omitempty"`

	// scaleDownDelay keeps the old version's pods, with no traffic, this
	// long after the switch (and its post-promotion analysis): an abort in
	// that time switches back to them at once. Defaults to 30s.
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]{1,5}(\\\\.[0-9]{1,9})?(ms|s|m|h)){1,4}$')",message="spec.rollout.blueGreen.scaleDownDelay must be a duration such as 30s or 10m"
	// +kubebuilder:validation:XValidation:rule="!self.matches('^([0-9]{1,5}(\\\\.[0-9]{1,9})?(ms|s|m|h)){1,4}$') || duration(self) <= duration('24h')",message="spec.rollout.blueGreen.scaleDownDelay must be at most 24h"
	// +optional
	ScaleDownDelay *metav1.Duration `json:"scaleDownDelay,omitempty"`

	// analysis is how the new version is judged by its metrics, as in a
	// canary.
	// +optional
	Analysis *Analysis `json:"analysis,omitempty"`

	// analysisTemplate uses an AnalysisTemplate of the namespace instead of
	// an analysis of its own.
	// +optional
	AnalysisTemplate *AnalysisTemplateRef `json:"analysisTemplate,omitempty"`

	// trafficRouting is as in a canary: GatewayAPI (the default) or Mesh.
	// +kubebuilder:validation:Enum=GatewayAPI;Mesh
	// +optional
	TrafficRouting TrafficRoutingType `json:"trafficRouting,omitempty"`

	// alerts are as in a canary.
	// +kubebuilder:validation:MaxItems=8
	// +listType=map
	// +listMapKey=provider
	// +optional
	Alerts []RolloutAlert `json:"alerts,omitempty"`

	// matches send matching requests to the preview before the switch, as
	// a canary's do: testers reach the new version through the Gateway.
	// +kubebuilder:validation:MaxItems=8
	// +listType=atomic
	// +optional
	Matches []CanaryMatch `json:"matches,omitempty"`

	// progressDeadline is how long the switch waits for the preview's pods
	// to be ready; past it the new version is rolled back. Defaults to 10m.
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]{1,5}(\\\\.[0-9]{1,9})?(ms|s|m|h)){1,4}$')",message="spec.rollout.blueGreen.progressDeadline must be a duration such as 30s, 10m or 1h"
	// +kubebuilder:validation:XValidation:rule="!self.matches('^([0-9]{1,5}(\\\\.[0-9]{1,9})?(ms|s|m|h)){1,4}$') || (duration(self) >= duration('1s') && duration(self) <= duration('24h'))",message="spec.rollout.blueGreen.progressDeadline must be from 1s to 24h"
	// +optional
	ProgressDeadline *metav1.Duration `json:"progressDeadline,omitempty"`

	// webhooks are as in a canary; rollout webhooks run after the switch.
	// +kubebuilder:validation:MaxItems=16
	// +listType=map
	// +listMapKey=name
	// +optional
	Webhooks []Webhook `json:"webhooks,omitempty"`
}

// DefaultScaleDownDelay is how long a blue-green switch keeps the old
// version's pods when the spec says nothing.
const DefaultScaleDownDelay = 30 * time.Second

// EffectiveCanary is the canary that delivers r: its own for the Canary
// strategy, the one a BlueGreen strategy amounts to, nil otherwise. A
// blue-green is a canary at full size whose steps are: the pre-promotion
// analysis, the wait for a promote (or the auto-promotion delay), the
// switch (setWeight 100), the post-promotion analysis, and a pause of
// scaleDownDelay.
func (r *Rollout) EffectiveCanary() *Canary {
	switch {
	case r == nil:
		return nil
	case r.Strategy == CanaryStrategy:
		return r.Canary
	case r.Strategy != BlueGreenStrategy || r.BlueGreen == nil:
		return nil
	}
	bg := r.BlueGreen
	c := &Canary{
		Scale:            FullCanaryScale,
		Analysis:         bg.Analysis,
		AnalysisTemplate: bg.AnalysisTemplate,
		TrafficRouting:   bg.TrafficRouting,
		Alerts:           bg.Alerts,
		Matches:          bg.Matches,
		ProgressDeadline: bg.ProgressDeadline,
		Webhooks:         bg.Webhooks,
	}
	if bg.PrePromotionAnalysis {
		c.Steps = append(c.Steps, CanaryStep{Analysis: &AnalysisStep{}})
	}
	switch {
	case bg.AutoPromotion != nil && !*bg.AutoPromotion:
		c.Steps = append(c.Steps, CanaryStep{Pause: &PauseStep{}})
	case bg.AutoPromotionDelay != nil:
		c.Steps = append(c.Steps, CanaryStep{Pause: &PauseStep{Duration: bg.AutoPromotionDelay.DeepCopy()}})
	}
	full := int32(100)
	c.Steps = append(c.Steps, CanaryStep{SetWeight: &full})
	if bg.PostPromotionAnalysis {
		c.Steps = append(c.Steps, CanaryStep{Analysis: &AnalysisStep{}})
	}
	delay := metav1.Duration{Duration: DefaultScaleDownDelay}
	if bg.ScaleDownDelay != nil {
		delay = *bg.ScaleDownDelay
	}
	c.Steps = append(c.Steps, CanaryStep{Pause: &PauseStep{Duration: &delay}})
	return c
}

// Canary is a list of steps run in order for every new version, and the
// metric analysis that the steps can run.
// +kubebuilder:validation:XValidation:rule="!self.steps.exists(s, has(s.analysis)) || has(self.analysis) || has(self.analysisTemplate)",message="spec.rollout.canary.analysis (or analysisTemplate) is required when a step runs an analysis"
// +kubebuilder:validation:XValidation:rule="!(has(self.analysis) && has(self.analysisTemplate))",message="spec.rollout.canary sets both analysis and analysisTemplate: keep one"
// +kubebuilder:validation:XValidation:rule="!has(self.backgroundAnalysis) || has(self.analysis) || has(self.analysisTemplate)",message="spec.rollout.canary.backgroundAnalysis runs the canary's analysis: set spec.rollout.canary.analysis (or analysisTemplate) too"
// +kubebuilder:validation:XValidation:rule="!has(self.backgroundAnalysis) || !has(self.backgroundAnalysis.startingStep) || self.backgroundAnalysis.startingStep < size(self.steps)",message="spec.rollout.canary.backgroundAnalysis.startingStep must be the index (from 0) of one of spec.rollout.canary.steps"
type Canary struct {
	// steps are run in order. When the last step is done, the new version is promoted.
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:XValidation:rule="size(self) > 0",message="spec.rollout.canary.steps needs at least one step, for example setWeight: 20"
	// +kubebuilder:validation:XValidation:rule="self.filter(s, has(s.setWeight)).map(s, s.setWeight).isSorted()",message="spec.rollout.canary.steps[].setWeight must not decrease from one step to the next"
	// +listType=atomic
	// +required
	Steps []CanaryStep `json:"steps"`

	// scale is how many pods the canary runs: Weight (the default), its
	// weight's share of the stable replicas (at least 1); Full, as many as
	// the stable track from its start, so that it can take any weight at
	// once (a blue-green's preview is one).
	// +kubebuilder:validation:Enum=Weight;Full
	// +optional
	Scale CanaryScale `json:"scale,omitempty"`

	// analysis is how the canary is judged by its metrics.
	// +optional
	Analysis *Analysis `json:"analysis,omitempty"`

	// analysisTemplate uses an AnalysisTemplate of the namespace instead of
	// an analysis of its own, with arguments. Set analysis or
	// analysisTemplate, not both.
	// +optional
	AnalysisTemplate *AnalysisTemplateRef `json:"analysisTemplate,omitempty"`

	// backgroundAnalysis runs the analysis through every step from
	// startingStep on, not only at analysis steps: a measurement every
	// interval while the canary gets traffic (a weight, or matches). More
	// failed measurements than failureLimit roll the canary back at
	// whatever step it is; more inconclusive ones than inconclusiveLimit
	// pause it, and a promote resumes it at the same step with the
	// inconclusive count reset. Analysis steps still take their own count
	// of measurements. Needs analysis or analysisTemplate.
	// +optional
	BackgroundAnalysis *BackgroundAnalysis `json:"backgroundAnalysis,omitempty"`

	// trafficRouting is how the canary's weights reach callers. GatewayAPI
	// (the default) sets them on the HTTPRoute of spec.route, and the Service
	// that dependents call selects the stable track only while the canary
	// runs, so in-cluster callers never reach a canary before its analysis.
	// Mesh does that too and also writes a GAMMA HTTPRoute named
	// <name>-mesh whose parent is that Service, so a service mesh that
	// implements the Gateway API's mesh support sends in-cluster callers to
	// the tracks with the same weights. Without spec.route and without Mesh
	// there is no router: the replica counts split the Service's traffic by
	// pod count (status.rollout.trafficRouting: ReplicaRatio).
	// +kubebuilder:validation:Enum=GatewayAPI;Mesh
	// +optional
	TrafficRouting TrafficRoutingType `json:"trafficRouting,omitempty"`

	// alerts name the operator's alert receivers (from its
	// --alert-providers-file: Slack, Microsoft Teams, Discord or a generic
	// webhook) that hear of this Microservice's rollouts.
	// +kubebuilder:validation:MaxItems=8
	// +listType=map
	// +listMapKey=provider
	// +optional
	Alerts []RolloutAlert `json:"alerts,omitempty"`

	// matches send the requests that match any entry to the canary whatever
	// its weight (A/B testing: testers reach the new version with a header
	// or a cookie), from the moment the canary has ready pods until it is
	// promoted, aborted or rolled back. Each entry matches when all its
	// headers and its cookie do. They need a route: spec.route, or
	// trafficRouting: Mesh for in-cluster callers.
	// +kubebuilder:validation:MaxItems=8
	// +listType=atomic
	// +optional
	Matches []CanaryMatch `json:"matches,omitempty"`

	// mirror sends a copy of percent of the route's requests to the canary
	// while it runs with ready pods, before and during its weight steps
	// (shadow traffic: the answers of the copies are dropped, the client
	// gets the track's answer). It needs spec.route, and a Gateway whose
	// implementation lists HTTPRouteRequestMirror (and, below 100 percent,
	// HTTPRouteRequestPercentageMirror) in its GatewayClass's
	// status.supportedFeatures; otherwise requests are not mirrored and
	// the RouteAccepted condition says why.
	// +optional
	Mirror *Mirror `json:"mirror,omitempty"`

	// sessionAffinity keeps a user on the track that first answered them
	// while the canary runs with ready pods: the route's weighted rule gets
	// cookie-based session persistence, so a user sent to the canary by the
	// weight stays on it at the next request instead of flipping between
	// versions. It needs spec.route and an HTTPRoute CRD that has
	// spec.rules[].sessionPersistence (Gateway API's experimental channel);
	// with the standard channel's CRD the RouteAccepted condition says that
	// sessions are not kept. A Gateway implementation that ignores the field
	// serves the route without affinity.
	// +optional
	SessionAffinity *SessionAffinity `json:"sessionAffinity,omitempty"`

	// progressDeadline is how long a setWeight step may wait for the canary
	// pods it needs to be ready; past it the canary is rolled back. A canary
	// Deployment that reports ProgressDeadlineExceeded (its own
	// progressDeadlineSeconds, 600 by default) is rolled back at once.
	// It also bounds a promotion: a stable Deployment that has not rolled
	// out the new version within it (or reports ProgressDeadlineExceeded)
	// gets the previous version's template back. Pauses, gates and analyses
	// are not bounded by it. Defaults to 10m.
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]{1,5}(\\\\.[0-9]{1,9})?(ms|s|m|h)){1,4}$')",message="spec.rollout.canary.progressDeadline must be a duration such as 30s, 10m or 1h: up to 4 parts, each a number of at most 5 digits and a unit of ms, s, m or h"
	// +kubebuilder:validation:XValidation:rule="!self.matches('^([0-9]{1,5}(\\\\.[0-9]{1,9})?(ms|s|m|h)){1,4}$') || (duration(self) >= duration('1s') && duration(self) <= duration('24h'))",message="spec.rollout.canary.progressDeadline must be from 1s to 24h"
	// +optional
	ProgressDeadline *metav1.Duration `json:"progressDeadline,omitempty"`

	// webhooks are HTTP calls at points of the rollout. Gates hold it until
	// their receiver answers 2xx: confirm-rollout before the canary starts,
	// confirm-traffic-increase before each weight increase,
	// confirm-promotion before the promotion. Checks roll it back when
	// their receiver keeps failing: pre-rollout once the canary has ready
	// pods and before it gets traffic, rollout after each setWeight step
	// (load tests). A rollback hook rolls the canary back as soon as its
	// receiver answers 2xx, and post-rollout hooks hear of the outcome. The
	// request is Flagger's webhook payload, so Flagger's load tester and
	// existing receivers work unchanged.
	// +kubebuilder:validation:MaxItems=16
	// +listType=map
	// +listMapKey=name
	// +optional
	Webhooks []Webhook `json:"webhooks,omitempty"`
}

// WebhookType is the point of a rollout at which a webhook is called, named
// as Flagger names it.
// +kubebuilder:validation:Enum=confirm-rollout;pre-rollout;confirm-traffic-increase;rollout;confirm-promotion;post-rollout;rollback
type WebhookType string

const (
	// WebhookConfirmRollout holds a new version before its canary starts
	// until the receiver answers 2xx.
	WebhookConfirmRollout WebhookType = "confirm-rollout"
	// WebhookPreRollout is called once the canary has a ready pod and
	// before it gets traffic; failing more often than retries allows rolls
	// the canary back.
	WebhookPreRollout WebhookType = "pre-rollout"
	// WebhookConfirmTrafficIncrease holds each weight increase until the
	// receiver answers 2xx.
	WebhookConfirmTrafficIncrease WebhookType = "confirm-traffic-increase"
	// WebhookRollout is called after each setWeight step has moved traffic,
	// before the next step; failing more often than retries allows rolls
	// the canary back. Load tests start here.
	WebhookRollout WebhookType = "rollout"
	// WebhookConfirmPromotion holds the promotion, once every step has
	// passed, until the receiver answers 2xx.
	WebhookConfirmPromotion WebhookType = "confirm-promotion"
	// WebhookPostRollout is called once the rollout has ended: promoted,
	// rolled back or aborted. Its answer changes nothing.
	WebhookPostRollout WebhookType = "post-rollout"
	// WebhookRollback is asked while the canary runs; a 2xx answer rolls
	// the canary back.
	WebhookRollback WebhookType = "rollback"
)

// Webhook is one HTTP call at a point of the rollout: a POST of Flagger's
// JSON payload (name, namespace, phase, checksum, metadata, plus type).
type Webhook struct {
	// name identifies the webhook in the status and in events.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	// +required
	Name string `json:"name"`

	// type is the point of the rollout at which it is called:
	// confirm-rollout, pre-rollout, confirm-traffic-increase, rollout,
	// confirm-promotion, post-rollout or rollback.
	// +required
	Type WebhookType `json:"type"`

	// url is where the payload is POSTed: an http or https URL.
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="isURL(self) && url(self).getScheme() in ['http', 'https'] && url(self).getHostname() != ''",message="spec.rollout.canary.webhooks[].url must be an http:// or https:// URL with a host, for example http://flagger-loadtester.test/"
	// +required
	URL string `json:"url"`

	// timeout bounds each call. Defaults to 10s; from 1s to 5m.
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]{1,5}(\\\\.[0-9]{1,9})?(ms|s|m|h)){1,4}$')",message="spec.rollout.canary.webhooks[].timeout must be a duration such as 10s or 1m"
	// +kubebuilder:validation:XValidation:rule="!self.matches('^([0-9]{1,5}(\\\\.[0-9]{1,9})?(ms|s|m|h)){1,4}$') || (duration(self) >= duration('1s') && duration(self) <= duration('5m'))",message="spec.rollout.canary.webhooks[].timeout must be from 1s to 5m"
	// +optional
	Timeout *metav1.Duration `json:"timeout,omitempty"`

	// interval is how long after a call that did not pass the webhook is
	// called again: a gate that said no, a check that failed with retries
	// left, a rollback hook that said no. Defaults to 10s; from 1s to 1h.
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]{1,5}(\\\\.[0-9]{1,9})?(ms|s|m|h)){1,4}$')",message="spec.rollout.canary.webhooks[].interval must be a duration such as 10s or 1m"
	// +kubebuilder:validation:XValidation:rule="!self.matches('^([0-9]{1,5}(\\\\.[0-9]{1,9})?(ms|s|m|h)){1,4}$') || (duration(self) >= duration('1s') && duration(self) <= duration('1h'))",message="spec.rollout.canary.webhooks[].interval must be from 1s to 1h"
	// +optional
	Interval *metav1.Duration `json:"interval,omitempty"`

	// retries is how many failed calls of a pre-rollout, rollout or
	// post-rollout webhook are tried again before it counts as failed (a
	// failed pre-rollout or rollout webhook rolls the canary back).
	// Defaults to 2; gates and rollback hooks are asked until the rollout
	// moves on.
	// +kubebuilder:validation:XValidation:rule="self >= 0 && self <= 20",message="spec.rollout.canary.webhooks[].retries must be from 0 to 20"
	// +optional
	Retries *int32 `json:"retries,omitempty"`

	// metadata is sent as the payload's metadata: Flagger's load tester
	// reads its command from metadata.cmd and the command type from
	// metadata.type.
	// +kubebuilder:validation:MaxProperties=32
	// +optional
	Metadata map[string]string `json:"metadata,omitempty"`
}

// CanaryStep is one step of a canary: exactly one of setWeight, pause and analysis.
// +kubebuilder:validation:XValidation:rule="(has(self.setWeight) ? 1 : 0) + (has(self.pause) ? 1 : 0) + (has(self.analysis) ? 1 : 0) == 1",message="each step of spec.rollout.canary.steps needs exactly one of setWeight, pause or analysis"
type CanaryStep struct {
	// setWeight sends this percentage of the route's traffic to the canary.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	// +optional
	SetWeight *int32 `json:"setWeight,omitempty"`

	// pause waits for its duration, or, without one, until the rollout is promoted.
	// +optional
	Pause *PauseStep `json:"pause,omitempty"`

	// analysis measures the canary's metrics at the current weight.
	// +optional
	Analysis *AnalysisStep `json:"analysis,omitempty"`
}

// PauseStep waits.
type PauseStep struct {
	// duration is how long the pause lasts. Without it the rollout waits for a promote.
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]{1,5}(\\\\.[0-9]{1,9})?(ms|s|m|h)){1,4}$')",message="spec.rollout.canary.steps[].pause.duration must be a duration such as 30s, 10m or 1h30m: up to 4 parts, each a number of at most 5 digits and a unit of ms, s, m or h"
	// +kubebuilder:validation:XValidation:rule="!self.matches('^([0-9]{1,5}(\\\\.[0-9]{1,9})?(ms|s|m|h)){1,4}$') || duration(self) <= duration('720h')",message="spec.rollout.canary.steps[].pause.duration must be at most 720h (30 days): to hold a canary longer, leave duration out and promote it by hand"
	// +optional
	Duration *metav1.Duration `json:"duration,omitempty"`
}

// AnalysisStep runs spec.rollout.canary.analysis at the current weight.
type AnalysisStep struct{}

// Analysis judges a canary by its metrics. Each measurement queries every
// metric once; a measurement fails when any metric fails.
// +kubebuilder:validation:XValidation:rule="!(has(self.prometheus) && has(self.provider))",message="spec.rollout.canary.analysis sets both prometheus and provider: move prometheus.address to provider.prometheus.address"
// +kubebuilder:validation:XValidation:rule="!has(self.provider) || !has(self.provider.web) || self.metrics.all(m, !has(m.template))",message="spec.rollout.canary.analysis.metrics[].template writes PromQL, which the web provider cannot run: give each metric a query (what {{ .Query }} puts in the provider's url)"
// +kubebuilder:validation:XValidation:rule="!has(self.failureLimit) || self.failureLimit < (has(self.count) ? self.count : 3)",message="spec.rollout.canary.analysis.failureLimit must be less than count (default 3), or an analysis could pass with every measurement failed"
type Analysis struct {
	// interval is the time between measurements. Defaults to 1m.
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]{1,5}(\\\\.[0-9]{1,9})?(ms|s|m|h)){1,4}$')",message="spec.rollout.canary.analysis.interval must be a duration such as 30s, 1m or 1m30s: up to 4 parts, each a number of at most 5 digits and a unit of ms, s, m or h"
	// +kubebuilder:validation:XValidation:rule="!self.matches('^([0-9]{1,5}(\\\\.[0-9]{1,9})?(ms|s|m|h)){1,4}$') || (duration(self) >= duration('1s') && duration(self) <= duration('24h'))",message="spec.rollout.canary.analysis.interval must be from 1s to 24h"
	// +optional
	Interval *metav1.Duration `json:"interval,omitempty"`

	// timeout bounds each query of a measurement: a query that has not
	// answered by then measures Inconclusive. The next measurement is due
	// one interval after this one is recorded, so a slow query delays the
	// analysis but never overlaps the next measurement. Defaults to 10s.
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]{1,5}(\\\\.[0-9]{1,9})?(ms|s|m|h)){1,4}$')",message="spec.rollout.canary.analysis.timeout must be a duration such as 5s, 30s or 1m: up to 4 parts, each a number of at most 5 digits and a unit of ms, s, m or h"
	// +kubebuilder:validation:XValidation:rule="!self.matches('^([0-9]{1,5}(\\\\.[0-9]{1,9})?(ms|s|m|h)){1,4}$') || (duration(self) >= duration('1s') && duration(self) <= duration('5m'))",message="spec.rollout.canary.analysis.timeout must be from 1s to 5m"
	// +optional
	Timeout *metav1.Duration `json:"timeout,omitempty"`

	// count is the number of conclusive (passed or failed) measurements an
	// analysis step takes. Inconclusive ones do not count. Defaults to 3.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100
	// +optional
	Count *int32 `json:"count,omitempty"`

	// failureLimit is the number of failed measurements tolerated; one more
	// rolls the canary back. Defaults to 0.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	// +optional
	FailureLimit *int32 `json:"failureLimit,omitempty"`

	// inconclusiveLimit is the number of inconclusive measurements (no data,
	// NaN, Prometheus unreachable) tolerated; one more pauses the rollout for a
	// human to promote or abort. Defaults to 0.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	// +optional
	InconclusiveLimit *int32 `json:"inconclusiveLimit,omitempty"`

	// prometheus is the server to query. Defaults to the operator's
	// --default-prometheus-address.
	//
	// Deprecated: use provider.prometheus, which also takes headers; this
	// field stays for the manifests written before it. Set one of them,
	// not both.
	// +optional
	Prometheus *PrometheusProvider `json:"prometheus,omitempty"`

	// provider is the metrics backend each metric's query goes to: exactly
	// one of prometheus or web. Without it (and without the deprecated
	// prometheus field) the operator's --default-prometheus-address, with
	// the operator's credentials for it.
	// +optional
	Provider *MetricProvider `json:"provider,omitempty"`

	// implementation is the Gateway API implementation or mesh whose metrics
	// the metric templates query: traefik, envoy-gateway, istio, linkerd or
	// nginx-gateway-fabric. Defaults to the operator's
	// --gateway-implementation (traefik). Metrics with a query ignore it.
	// +optional
	Implementation GatewayImplementation `json:"implementation,omitempty"`

	// metrics are the metrics each measurement queries.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=16
	// +listType=map
	// +listMapKey=name
	// +required
	Metrics []Metric `json:"metrics"`
}

// AlertSeverity says which rollout transitions an alert receiver hears of.
// +kubebuilder:validation:Enum=info;warning
type AlertSeverity string

const (
	// AlertSeverityInfo sends every transition: started, each step, the outcome.
	AlertSeverityInfo AlertSeverity = "info"
	// AlertSeverityWarning sends only those that need a human: rollbacks,
	// aborts, failed or inconclusive analyses, deadlines passed.
	AlertSeverityWarning AlertSeverity = "warning"
)

// RolloutAlert sends a Microservice's rollout transitions to one receiver.
type RolloutAlert struct {
	// provider is the name of one of the receivers in the operator's
	// --alert-providers-file.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	// +required
	Provider string `json:"provider"`

	// severity is info (every transition, the default) or warning (only
	// those that need a human).
	// +kubebuilder:default=info
	// +optional
	Severity AlertSeverity `json:"severity,omitempty"`
}

// CanaryScale is how many pods a canary runs.
type CanaryScale string

const (
	// WeightCanaryScale runs the weight's share of the stable replicas.
	WeightCanaryScale CanaryScale = "Weight"
	// FullCanaryScale runs as many replicas as the stable track.
	FullCanaryScale CanaryScale = "Full"
)

// BackgroundAnalysis says from which step the analysis runs throughout.
type BackgroundAnalysis struct {
	// startingStep is the index (from 0) of the first step during which
	// the analysis runs; it starts once the canary gets traffic at or after
	// that step. Defaults to 0.
	// +kubebuilder:validation:XValidation:rule="self >= 0",message="spec.rollout.canary.backgroundAnalysis.startingStep must be 0 or more"
	// +optional
	StartingStep *int32 `json:"startingStep,omitempty"`
}

// Mirror is the share of requests copied to the canary.
type Mirror struct {
	// percent of the route's requests are copied to the canary, 1 to 100.
	// Defaults to 100.
	// +kubebuilder:validation:XValidation:rule="self >= 1 && self <= 100",message="spec.rollout.canary.mirror.percent must be between 1 and 100"
	// +optional
	Percent *int32 `json:"percent,omitempty"`
}

// SessionAffinity is the cookie that keeps a user on one track.
type SessionAffinity struct {
	// cookieName is the name of the session cookie the Gateway sets.
	// Defaults to the Gateway implementation's choice.
	// +kubebuilder:validation:MaxLength=128
	// +kubebuilder:validation:XValidation:rule="self.matches('^[A-Za-z0-9!#$%&*+.^_|~-]+$')",message="spec.rollout.canary.sessionAffinity.cookieName must be a cookie name: letters, digits and !#$%&*+-.^_|~ (no spaces, '=', ';' or quotes)"
	// +optional
	CookieName string `json:"cookieName,omitempty"`

	// maxAge is how long the cookie keeps a user on a track, from 1s to
	// 24h (a permanent cookie). Without it the cookie lasts as long as the
	// user's browser session.
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1s') && duration(self) <= duration('24h')",message="spec.rollout.canary.sessionAffinity.maxAge must be from 1s to 24h, for example 30m"
	// +optional
	MaxAge *metav1.Duration `json:"maxAge,omitempty"`
}

// CanaryMatch picks requests for the canary: all of its headers and its
// cookie must match.
// +kubebuilder:validation:XValidation:rule="(has(self.headers) && size(self.headers) > 0) || has(self.cookie)",message="each entry of spec.rollout.canary.matches needs headers or a cookie, for example headers: [{name: X-Canary, value: always}]"
type CanaryMatch struct {
	// headers must all be present with a matching value.
	// +kubebuilder:validation:MaxItems=8
	// +listType=map
	// +listMapKey=name
	// +optional
	Headers []HeaderMatch `json:"headers,omitempty"`

	// cookie must be sent with this value.
	// +optional
	Cookie *CookieMatch `json:"cookie,omitempty"`
}

// HeaderMatchType is how a header's value is compared.
// +kubebuilder:validation:Enum=Exact;RegularExpression
type HeaderMatchType string

// HeaderMatch is one header a request must carry.
type HeaderMatch struct {
	// name is the header's name, for example X-Canary.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9!#$%&'*+.^_|~-]+$`
	// +required
	Name string `json:"name"`

	// value is what the header must equal (type Exact), or a regular
	// expression it must match (type RegularExpression; the Gateway's
	// regular expression syntax).
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	// +required
	Value string `json:"value"`

	// type is Exact (the default) or RegularExpression.
	// +kubebuilder:default=Exact
	// +optional
	Type HeaderMatchType `json:"type,omitempty"`
}

// CookieMatch is one cookie a request must send. The route matches it as a
// regular expression on the Cookie header, so the Gateway must support
// RegularExpression header matches.
type CookieMatch struct {
	// name is the cookie's name.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9!#$%&'*+.^_|~-]+$`
	// +required
	Name string `json:"name"`

	// value is the cookie's value.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	// +kubebuilder:validation:Pattern=`^[!#-+./0-9:<-\[\]-~-]+$`
	// +required
	Value string `json:"value"`
}

// MetricProvider is one metrics backend: exactly one of its fields is set.
// +kubebuilder:validation:XValidation:rule="(has(self.prometheus) ? 1 : 0) + (has(self.web) ? 1 : 0) == 1",message="spec.rollout.canary.analysis.provider needs exactly one of prometheus or web"
type MetricProvider struct {
	// prometheus sends each metric's PromQL to a Prometheus server's HTTP API
	// (or to one that speaks it: Thanos, Mimir, Cortex, VictoriaMetrics).
	// +optional
	Prometheus *PrometheusProvider `json:"prometheus,omitempty"`

	// web reads each metric's number from the JSON document that an HTTP
	// GET of a URL returns.
	// +optional
	Web *WebProvider `json:"web,omitempty"`
}

// PrometheusProvider is a Prometheus server's HTTP API.
type PrometheusProvider struct {
	// address is the URL of the server, for example http://prometheus.monitoring:9090.
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="isURL(self) && (url(self).getScheme() == 'http' || url(self).getScheme() == 'https') && url(self).getHostname() != ''",message="spec.rollout.canary.analysis.prometheus.address must be an http or https URL such as http://prometheus.monitoring:9090"
	// +required
	Address string `json:"address"`

	// headers are sent with every query, for example X-Scope-OrgID for a
	// multi-tenant Mimir or Cortex. They are part of the spec, readable by
	// anyone who can read the Microservice: put no secret in them.
	// +kubebuilder:validation:MaxItems=16
	// +listType=map
	// +listMapKey=name
	// +optional
	Headers []HTTPHeader `json:"headers,omitempty"`
}

// WebProvider reads a number from a JSON document over HTTP.
type WebProvider struct {
	// url is the address to GET, an http or https URL. It is a Go template
	// with {{ .Query }} (the metric's query), {{ .Name }}, {{ .Namespace }},
	// {{ .Track }}, {{ .Revision }} and {{ .Interval }}, each escaped as a
	// URL query value, for example
	// https://metrics.example.com/api/value?q={{ .Query }}&service={{ .Name }}.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="self.startsWith('http://') || self.startsWith('https://')",message="spec.rollout.canary.analysis.provider.web.url must start with http:// or https://"
	// +required
	URL string `json:"url"`

	// jsonPath is where the number is in the response, in kubectl's JSONPath
	// syntax, for example {.data.value}. A number or a string holding one
	// is read; null or a missing field means no data.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	// +required
	JSONPath string `json:"jsonPath"`

	// headers are sent with every request. They are part of the spec: put no
	// secret in them.
	// +kubebuilder:validation:MaxItems=16
	// +listType=map
	// +listMapKey=name
	// +optional
	Headers []HTTPHeader `json:"headers,omitempty"`
}

// HTTPHeader is one header of a request to a metrics backend.
type HTTPHeader struct {
	// name is the header's name, for example X-Scope-OrgID.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9!#$%&'*+.^_|~-]+$`
	// +required
	Name string `json:"name"`

	// value is the header's value.
	// +kubebuilder:validation:MaxLength=4096
	// +required
	Value string `json:"value"`
}

// GatewayImplementation names the software that carries the route's traffic
// and reports its metrics. docs/traffic-metrics.md lists what each provides.
// +kubebuilder:validation:Enum=traefik;envoy-gateway;istio;linkerd;nginx-gateway-fabric
type GatewayImplementation string

// MetricTemplate names a query the operator writes for the implementation in
// use, measuring the canary track only.
// +kubebuilder:validation:Enum=request-success-rate;request-duration-p99
type MetricTemplate string

// NoDataPolicy is what a query that returns no samples means.
// +kubebuilder:validation:Enum=Fail;Pass;Inconclusive
type NoDataPolicy string

// Metric is one PromQL query, written by hand or by a template, and the
// range its value must fall in.
// +kubebuilder:validation:XValidation:rule="!(has(self.query) && has(self.template))",message="spec.rollout.canary.analysis.metrics[] sets both query and template: keep template for the operator's query, or query for your own PromQL, not both"
// +kubebuilder:validation:XValidation:rule="has(self.query) || has(self.template)",message="spec.rollout.canary.analysis.metrics[] needs a template (request-success-rate or request-duration-p99) or a query (your own PromQL)"
// +kubebuilder:validation:XValidation:rule="has(self.successCondition.min) || has(self.successCondition.max)",message="spec.rollout.canary.analysis.metrics[].successCondition needs min, max or both"
// +kubebuilder:validation:XValidation:rule="!has(self.successCondition.min) || !has(self.successCondition.max) || double(self.successCondition.min) <= double(self.successCondition.max)",message="spec.rollout.canary.analysis.metrics[].successCondition.min must not be above max"
type Metric struct {
	// name is the name of the metric, shown in the status.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	// +required
	Name string `json:"name"`

	// query is a PromQL query that returns one number. It is a Go template
	// with {{ .Name }}, {{ .Namespace }}, {{ .Track }} ("canary" or "stable")
	// and {{ .Revision }}, each escaped for use inside a PromQL string literal,
	// and {{ .Interval }}, the rate window (for example 60s) that the
	// templates use. Set query or template, not both.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=4096
	// +optional
	Query string `json:"query,omitempty"`

	// template is a built-in query of the canary track's traffic:
	// request-success-rate (the share of requests answered without a 5xx,
	// from 0 to 1) or request-duration-p99 (the 99th percentile of the
	// response time, in milliseconds). The operator writes the PromQL for
	// the analysis's implementation. Set template or query, not both.
	// +optional
	Template MetricTemplate `json:"template,omitempty"`

	// successCondition is the range the value must fall in.
	// +required
	SuccessCondition SuccessCondition `json:"successCondition"`

	// noData says what a query without samples means: Fail, Pass or
	// Inconclusive (the default). A canary without traffic yet returns nothing.
	// +kubebuilder:default=Inconclusive
	// +optional
	NoData NoDataPolicy `json:"noData,omitempty"`
}

// RelativeTo is what a metric's bounds are measured from.
// +kubebuilder:validation:Enum=Stable
type RelativeTo string

// RelativeToStable bounds the canary's value minus the stable track's.
const RelativeToStable RelativeTo = "Stable"

// SuccessCondition bounds a metric's value. Bounds are decimal numbers given
// as strings, for example "0.99".
type SuccessCondition struct {
	// relativeTo is Stable to judge the canary against the stable track at
	// the same time: the metric is measured for both tracks ({{ .Track }} is
	// canary, then stable; a template measures each track's Service), and
	// min and max bound the canary's value minus the stable one's. For
	// example max: "0.01" on an error rate allows at most one point more
	// than stable, whatever stable's own rate. Without it, min and max bound
	// the canary's value.
	// +optional
	RelativeTo RelativeTo `json:"relativeTo,omitempty"`

	// min is the lowest passing value.
	// +kubebuilder:validation:XValidation:rule="self.matches('^-?[0-9]+(\\\\.[0-9]+)?$')",message="successCondition.min must be a decimal number such as 0.99"
	// +kubebuilder:validation:MaxLength=32
	// +optional
	Min *string `json:"min,omitempty"`
	// max is the highest passing value.
	// +kubebuilder:validation:XValidation:rule="self.matches('^-?[0-9]+(\\\\.[0-9]+)?$')",message="successCondition.max must be a decimal number such as 0.5"
	// +kubebuilder:validation:MaxLength=32
	// +optional
	Max *string `json:"max,omitempty"`
}

// RolloutPhase is where a rollout is.
type RolloutPhase string

const (
	// RolloutPhaseIdle means no new version is being delivered.
	RolloutPhaseIdle RolloutPhase = "Idle"
	// RolloutPhaseProgressing means the canary steps are running.
	RolloutPhaseProgressing RolloutPhase = "Progressing"
	// RolloutPhasePaused means a pause step, a pause request or an
	// inconclusive analysis holds the rollout.
	RolloutPhasePaused RolloutPhase = "Paused"
	// RolloutPhasePromoting means the stable Deployment is rolling out the
	// new version; traffic moves back to stable once it has.
	RolloutPhasePromoting RolloutPhase = "Promoting"
	// RolloutPhaseSucceeded means the last version was promoted.
	RolloutPhaseSucceeded RolloutPhase = "Succeeded"
	// RolloutPhaseRolledBack means the analysis failed and the canary was removed.
	RolloutPhaseRolledBack RolloutPhase = "RolledBack"
	// RolloutPhaseAborted means a human aborted the rollout.
	RolloutPhaseAborted RolloutPhase = "Aborted"
)

// RolloutStatus is the whole state of the current rollout. The operator keeps
// no rollout state in memory: a restarted operator resumes from here.
type RolloutStatus struct {
	// phase is where the rollout is: Idle, Progressing, Paused, Promoting,
	// Succeeded, RolledBack or Aborted.
	// +optional
	Phase RolloutPhase `json:"phase,omitempty"`

	// stableRevision is the revision of the pod template that the stable track runs.
	// +optional
	StableRevision string `json:"stableRevision,omitempty"`

	// canaryRevision is the revision being delivered, when there is one.
	// +optional
	CanaryRevision string `json:"canaryRevision,omitempty"`

	// currentStep is the index of the step being run; equal to the number of
	// steps once they are all done.
	// +optional
	CurrentStep *int32 `json:"currentStep,omitempty"`

	// canaryWeight is the percentage of the route's traffic sent to the canary.
	// +optional
	CanaryWeight int32 `json:"canaryWeight"`

	// stepStartedAt is when the current step started (for pauses and analysis).
	// +optional
	StepStartedAt *metav1.Time `json:"stepStartedAt,omitempty"`

	// analysis is the state of the current analysis step.
	// +optional
	Analysis *AnalysisStatus `json:"analysis,omitempty"`

	// backgroundAnalysis is the tally of the background analysis
	// (spec.rollout.canary.backgroundAnalysis) of the current attempt.
	// +optional
	BackgroundAnalysis *AnalysisStatus `json:"backgroundAnalysis,omitempty"`

	// trafficRouting says how traffic is split: "GatewayAPI" through the
	// HTTPRoute's weights, or "ReplicaRatio" when there is no route and only
	// the replica counts split the Service's traffic.
	// +optional
	TrafficRouting string `json:"trafficRouting,omitempty"`

	// message says what the rollout is doing or why it stopped.
	// +optional
	Message string `json:"message,omitempty"`

	// webhooks are the state of this attempt's webhooks: which are to be
	// called, which passed, failed or wait for another call.
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=16
	// +optional
	Webhooks []WebhookStatus `json:"webhooks,omitempty"`

	// handledPromote is the value of the promote annotation last acted on.
	// +optional
	HandledPromote string `json:"handledPromote,omitempty"`
	// handledPromoteFull is the value of the promote-full annotation last acted on.
	// +optional
	HandledPromoteFull string `json:"handledPromoteFull,omitempty"`
	// handledAbort is the value of the abort annotation last acted on.
	// +optional
	HandledAbort string `json:"handledAbort,omitempty"`
	// handledRetry is the value of the retry annotation last acted on.
	// +optional
	HandledRetry string `json:"handledRetry,omitempty"`

	// release is this rollout's part in the release its Microservice's
	// apps.msvc.dev/release label names, when it has one.
	// +optional
	Release *ReleaseMemberStatus `json:"release,omitempty"`
}

// ReleaseMemberState is where one member of a release is.
// +kubebuilder:validation:Enum=Waiting;Progressing;Passed;Promoting;Promoted;RolledBack
type ReleaseMemberState string

const (
	// ReleaseWaiting: the new version waits for the release's changed
	// dependencies to pass their canary steps.
	ReleaseWaiting ReleaseMemberState = "Waiting"
	// ReleaseProgressing: the canary runs its steps.
	ReleaseProgressing ReleaseMemberState = "Progressing"
	// ReleasePassed: the canary passed every step and is held, at its last
	// weight, until the release's changed consumers have passed theirs and
	// its changed dependencies are promoted.
	ReleasePassed ReleaseMemberState = "Passed"
	// ReleasePromoting: the canary is being promoted to stable.
	ReleasePromoting ReleaseMemberState = "Promoting"
	// ReleasePromoted: the new version is stable.
	ReleasePromoted ReleaseMemberState = "Promoted"
	// ReleaseRolledBack: the member failed, was aborted, or went back with
	// the release because another member did.
	ReleaseRolledBack ReleaseMemberState = "RolledBack"
)

// ReleaseMemberStatus is one Microservice's part in a release.
type ReleaseMemberStatus struct {
	// name is the release, the value of the apps.msvc.dev/release label.
	// +required
	Name string `json:"name"`
	// state is Waiting, Progressing, Passed, Promoting, Promoted or RolledBack.
	// +required
	State ReleaseMemberState `json:"state"`
	// failedMember is the member (namespace/name) whose failure rolled the
	// release back: this one, or the first to fail.
	// +optional
	FailedMember string `json:"failedMember,omitempty"`
	// message says what the member waits for, or why it went back.
	// +optional
	Message string `json:"message,omitempty"`
}

// ReleaseLabel names the release a Microservice's change belongs to. The
// changed Microservices of a namespace that carry the same value roll out
// together: in
// dependency order, a consumer's canary calling its dependencies' canaries,
// promoted dependencies first, and rolled back as a whole when one fails.
const ReleaseLabel = "apps.msvc.dev/release"

// AnalysisStatus counts the measurements of the current (or last) analysis step.
type AnalysisStatus struct {
	// step is the index of the analysis step these measurements belong to
	// (for the background analysis, the step during which it started).
	// +required
	Step int32 `json:"step"`
	// startedAt is when these measurements began: for the background
	// analysis, when the canary first had traffic at or after its
	// startingStep. The first measurement is due one interval after it.
	// +optional
	StartedAt *metav1.Time `json:"startedAt,omitempty"`
	// measurements is the number of measurements taken so far in this step.
	// +required
	Measurements int32 `json:"measurements"`
	// failures is the number of them that failed.
	// +required
	Failures int32 `json:"failures"`
	// inconclusives is the number of them that were inconclusive.
	// +required
	Inconclusives int32 `json:"inconclusives"`
	// lastMeasuredAt is when the last measurement was taken.
	// +optional
	LastMeasuredAt *metav1.Time `json:"lastMeasuredAt,omitempty"`
	// metrics are the values of the last measurement.
	// +listType=map
	// +listMapKey=name
	// +optional
	Metrics []MetricResult `json:"metrics,omitempty"`
}

// WebhookPhase is where a webhook of the current attempt is.
type WebhookPhase string

const (
	// WebhookPending means the webhook is to be called (again, after a
	// failure with retries left, once interval has passed).
	WebhookPending WebhookPhase = "Pending"
	// WebhookWaiting means a gate or rollback hook answered no; it is
	// asked again once interval has passed.
	WebhookWaiting WebhookPhase = "Waiting"
	// WebhookSucceeded means the receiver answered 2xx.
	WebhookSucceeded WebhookPhase = "Succeeded"
	// WebhookFailed means a check failed more often than its retries allow.
	WebhookFailed WebhookPhase = "Failed"
)

// WebhookStatus is the state of one webhook in the current attempt.
type WebhookStatus struct {
	// name is the webhook's name in spec.rollout.canary.webhooks.
	// +required
	Name string `json:"name"`
	// type is the webhook's type.
	// +required
	Type WebhookType `json:"type"`
	// step is the step a rollout or confirm-traffic-increase webhook was
	// called for.
	// +optional
	Step *int32 `json:"step,omitempty"`
	// phase is Pending, Waiting, Succeeded or Failed.
	// +required
	Phase WebhookPhase `json:"phase"`
	// attempts counts the calls made for this step.
	// +optional
	Attempts int32 `json:"attempts"`
	// lastCalledAt is when the last call answered.
	// +optional
	LastCalledAt *metav1.Time `json:"lastCalledAt,omitempty"`
	// message is the last answer: the HTTP status and the start of the
	// body, or why the call failed.
	// +optional
	Message string `json:"message,omitempty"`
}

// MetricResult is one metric's value in a measurement.
type MetricResult struct {
	// name is the name of the metric.
	// +required
	Name string `json:"name"`
	// value is the value as measured, or "" when there was none.
	// +optional
	Value string `json:"value,omitempty"`
	// phase is Successful, Failed or Inconclusive.
	// +required
	Phase string `json:"phase"`
	// message explains the phase.
	// +optional
	Message string `json:"message,omitempty"`
}

// Annotations that control a rollout. Set them with kubectl annotate
// --overwrite to a new value each time (a timestamp is convenient); the
// operator acts once per value and records it in status.rollout, so it never
// writes the Microservice itself and a GitOps tool sees no drift.
const (
	// PromoteAnnotation ends the current pause or manual gate and goes on with the next step.
	PromoteAnnotation = "rollout.apps.msvc.dev/promote"
	// PromoteFullAnnotation skips every remaining step and promotes the canary.
	PromoteFullAnnotation = "rollout.apps.msvc.dev/promote-full"
	// AbortAnnotation moves all traffic back to stable and removes the canary.
	AbortAnnotation = "rollout.apps.msvc.dev/abort"
	// RetryAnnotation starts an aborted or rolled-back rollout again from its first step.
	RetryAnnotation = "rollout.apps.msvc.dev/retry"
	// PausedAnnotation holds the rollout where it is while its value is "true".
	PausedAnnotation = "rollout.apps.msvc.dev/paused"
)
