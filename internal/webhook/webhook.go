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

// Package webhook calls the rollout webhooks of a Microservice: one POST of
// Flagger's webhook payload, answered 2xx or not. Whether the answer holds,
// passes or rolls back the rollout is the planner's business.
package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
)

// Payload is the JSON body of a call: Flagger's CanaryWebhookPayload
// (name, namespace, phase, checksum, metadata), plus the webhook's type.
type Payload struct {
	Name      string            `json:"name"`
	Namespace string            `json:"namespace"`
	Phase     string            `json:"phase"`
	Checksum  string            `json:"checksum"`
	Type      string            `json:"type"`
	Metadata  map[string]string `json:"metadata,omitempty"`
}

// FlaggerPhase is the canary phase Flagger sends with a webhook of type t,
// for a rollout in phase: receivers written for Flagger may look at it.
func FlaggerPhase(t msv1.WebhookType, phase msv1.RolloutPhase) string {
	switch t {
	case msv1.WebhookConfirmRollout:
		return "Waiting"
	case msv1.WebhookConfirmPromotion:
		return "WaitingPromotion"
	case msv1.WebhookPostRollout:
		if phase == msv1.RolloutPhaseSucceeded || phase == msv1.RolloutPhaseIdle {
			return "Succeeded"
		}
		return "Failed"
	}
	return "Progressing"
}

// maxBody is how much of an answer's body the message keeps.
const maxBody = 200

// Call POSTs p as JSON to url within timeout. ok is true when the receiver
// answered 2xx; message is the HTTP status and the start of the body, or
// why there was no answer (the URL itself, which may hold a token, is left
// out).
func Call(ctx context.Context, client *http.Client, url string, p Payload, timeout time.Duration) (ok bool, message string) {
	body, err := json.Marshal(p)
	if err != nil {
		return false, err.Error()
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return false, redact(err.Error(), url)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return false, fmt.Sprintf("no answer within %s (timeout)", timeout)
		}
		return false, redact(err.Error(), url)
	}
	defer func() { _ = resp.Body.Close() }()
	head, _ := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	message = "HTTP " + resp.Status
	if text := clean(head); text != "" {
		message += ": " + text
	}
	return resp.StatusCode >= 200 && resp.StatusCode < 300, message
}

// clean is the start of a body as one line of valid text.
func clean(b []byte) string {
	cut := len(b) > maxBody
	if cut {
		b = b[:maxBody]
	}
	s := strings.ToValidUTF8(string(b), "")
	s = strings.Join(strings.Fields(s), " ")
	if cut {
		s += "..."
	}
	return s
}

func redact(s, url string) string { return strings.ReplaceAll(s, url, "<url>") }
