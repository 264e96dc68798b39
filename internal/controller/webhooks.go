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

package controller

import (
	"context"
	"encoding/json"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
	"github.com/msvc-dev/msvc-operator/internal/rollout"
	"github.com/msvc-dev/msvc-operator/internal/webhook"
)

// maxWebhookCalls bounds the webhook calls that run at once, over every
// Microservice; the others wait for a slot, and their timeout starts once
// they have one.
const maxWebhookCalls = 32

// webhookKey names one call of a webhook: of which Microservice (its UID),
// for which revision, which entry of the status (step and attempt), and
// which webhook spec (a changed URL or metadata calls again). An answer is
// only ever given for the key it was called for.
type webhookKey struct {
	UID      types.UID
	Revision string
	Name     string
	Step     int32
	Attempts int32
	Spec     string
}

// webhookRunner runs the webhook calls, one per Microservice and webhook.
type webhookRunner = callRunner[webhookKey, *rollout.WebhookAnswer]

// callWebhooks asks the webhook runner for every call the rollout status
// of ms is due for, and records in o the answers of those that have
// answered and the names of those still running. Calls nothing waits for
// any more are cancelled.
func (r *MicroserviceReconciler) callWebhooks(ms *msv1.Microservice, c *msv1.Canary, o *rollout.Observation) {
	st := ms.Status.Rollout
	if st == nil {
		r.webhooks.forget(client.ObjectKeyFromObject(ms))
		return
	}
	// The checksum is the revision delivered: the canary's, or once it is
	// promoted the stable one.
	revision := st.CanaryRevision
	if revision == "" {
		revision = st.StableRevision
	}
	var slots []string
	for _, e := range rollout.WebhooksDue(c, st, o.Now) {
		w, _ := rollout.Webhook(c, e.Name)
		spec, _ := json.Marshal(w)
		key := webhookKey{UID: ms.UID, Revision: revision, Name: e.Name, Step: ptr.Deref(e.Step, -1), Attempts: e.Attempts, Spec: string(spec)}
		payload := webhook.Payload{
			Name: ms.Name, Namespace: ms.Namespace, Phase: webhook.FlaggerPhase(w.Type, st.Phase),
			Checksum: revision, Type: string(w.Type), Metadata: w.Metadata,
		}
		slots = append(slots, e.Name)
		entry := e
		answer, running := r.webhooks.get(ms, e.Name, key, func(ctx context.Context) *rollout.WebhookAnswer {
			ok, msg := webhook.Call(ctx, r.webhooks.client, w.URL, payload, rollout.WebhookTimeout(w))
			return &rollout.WebhookAnswer{Name: entry.Name, Step: entry.Step, Attempts: entry.Attempts, OK: ok, Message: msg}
		})
		switch {
		case running:
			o.WebhookCalls = append(o.WebhookCalls, e.Name)
		case answer != nil:
			o.Webhooks = append(o.Webhooks, *answer)
		}
	}
	r.webhooks.keep(client.ObjectKeyFromObject(ms), slots)
}
