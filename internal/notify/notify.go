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

// Package notify sends rollout alerts to chat tools and webhooks: Slack,
// Microsoft Teams, Discord, and a generic JSON webhook. The receivers are
// configured by the operator's administrator in a file (their URLs are
// secrets, mounted into the manager's pod); a Microservice names the ones it
// wants. Alerts are sent off the reconcile workers, each within a timeout,
// so a receiver that hangs never delays a reconcile.
package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"sigs.k8s.io/yaml"
)

// Kinds of receivers.
const (
	Slack   = "slack"
	MSTeams = "msteams"
	Discord = "discord"
	Generic = "generic"
)

// Provider is one receiver of the providers file.
type Provider struct {
	// Name is what Microservices call it in spec.rollout.canary.alerts.
	Name string `json:"name"`
	// Type is slack, msteams, discord or generic.
	Type string `json:"type"`
	// URL is the receiver's address. URLFile, a file holding it (mounted
	// from a Secret), is read instead when set; relative to the providers
	// file.
	URL     string `json:"url,omitempty"`
	URLFile string `json:"urlFile,omitempty"`
}

// Config is the providers file (--alert-providers-file).
type Config struct {
	Providers []Provider `json:"providers"`
}

// LoadConfig reads and checks the providers file at path.
func LoadConfig(path string) (map[string]Provider, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the alert providers file: %w", err)
	}
	var cfg Config
	if err := yaml.UnmarshalStrict(data, &cfg); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	out := map[string]Provider{}
	for i, p := range cfg.Providers {
		where := fmt.Sprintf("%s: providers[%d]", path, i)
		switch {
		case p.Name == "":
			return nil, fmt.Errorf("%s has no name", where)
		case out[p.Name].Name != "":
			return nil, fmt.Errorf("%s: the name %q is used twice", where, p.Name)
		case p.Type != Slack && p.Type != MSTeams && p.Type != Discord && p.Type != Generic:
			return nil, fmt.Errorf("%s (%s): type %q is none of slack, msteams, discord, generic", where, p.Name, p.Type)
		case (p.URL == "") == (p.URLFile == ""):
			return nil, fmt.Errorf("%s (%s) needs url or urlFile, not both", where, p.Name)
		}
		if p.URLFile != "" {
			file := p.URLFile
			if !filepath.IsAbs(file) {
				file = filepath.Join(filepath.Dir(path), file)
			}
			u, err := os.ReadFile(file)
			if err != nil {
				return nil, fmt.Errorf("%s (%s): %w", where, p.Name, err)
			}
			p.URL = strings.TrimSpace(string(u))
		}
		if !strings.HasPrefix(p.URL, "https://") && !strings.HasPrefix(p.URL, "http://") {
			return nil, fmt.Errorf("%s (%s): the url must be http or https", where, p.Name)
		}
		out[p.Name] = p
	}
	return out, nil
}

// Alert is one rollout transition to tell a receiver about.
type Alert struct {
	Namespace, Name string
	// Reason is the event's reason (RolloutStarted, RolloutRolledBack...).
	Reason  string
	Message string
	// Warning is true for the transitions that need a human.
	Warning  bool
	Revision string
	Phase    string
	Time     time.Time
}

// Text is the alert as one line of text.
func (a Alert) Text() string {
	return fmt.Sprintf("%s/%s %s: %s", a.Namespace, a.Name, a.Reason, a.Message)
}

// payload is the body the receiver's type expects.
func payload(kind string, a Alert) any {
	switch kind {
	case Slack:
		return map[string]any{"text": a.Text()}
	case Discord:
		return map[string]any{"content": a.Text()}
	case MSTeams:
		// A Teams workflow ("Post to a channel when a webhook request is
		// received") takes an Adaptive Card in a message.
		return map[string]any{"type": "message", "attachments": []any{map[string]any{
			"contentType": "application/vnd.microsoft.card.adaptive",
			"content": map[string]any{
				"$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
				"type":    "AdaptiveCard", "version": "1.4",
				"body": []any{
					map[string]any{"type": "TextBlock", "weight": "Bolder", "text": a.Namespace + "/" + a.Name + " " + a.Reason, "wrap": true},
					map[string]any{"type": "TextBlock", "text": a.Message, "wrap": true},
				},
			},
		}}}
	}
	return map[string]any{
		"namespace": a.Namespace, "microservice": a.Name, "reason": a.Reason, "message": a.Message,
		"warning": a.Warning, "revision": a.Revision, "phase": a.Phase, "time": a.Time.UTC().Format(time.RFC3339),
	}
}

// Sender posts alerts from a bounded queue, off the caller's goroutine.
type Sender struct {
	Providers map[string]Provider
	Client    *http.Client
	// Timeout bounds each attempt; Attempts is how many are made.
	Timeout  time.Duration
	Attempts int
	Log      logr.Logger

	once  sync.Once
	queue chan delivery
	// Sent, Failed and Dropped count deliveries, for tests and metrics.
	mu                    sync.Mutex
	sent, failed, dropped int
}

type delivery struct {
	provider Provider
	alert    Alert
}

// ErrUnknownProvider is returned by Send for a name the file does not have.
var ErrUnknownProvider = errors.New("no such alert provider")

func (s *Sender) init() {
	s.once.Do(func() { s.queue = make(chan delivery, 256) })
}

// Send queues a for the provider called name and returns at once. A full
// queue drops the alert (counted), never blocks.
func (s *Sender) Send(name string, a Alert) error {
	s.init()
	p, ok := s.Providers[name]
	if !ok {
		return fmt.Errorf("%w %q: the operator's --alert-providers-file defines %s", ErrUnknownProvider, name, s.names())
	}
	select {
	case s.queue <- delivery{p, a}:
	default:
		s.count(&s.dropped)
	}
	return nil
}

func (s *Sender) names() string {
	if len(s.Providers) == 0 {
		return "none"
	}
	var n []string
	for k := range s.Providers {
		n = append(n, k)
	}
	return strings.Join(n, ", ")
}

func (s *Sender) count(c *int) {
	s.mu.Lock()
	*c++
	s.mu.Unlock()
}

// Counts returns how many alerts were sent, failed every attempt, and were
// dropped on a full queue.
func (s *Sender) Counts() (sent, failed, dropped int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sent, s.failed, s.dropped
}

// Start delivers queued alerts until ctx ends (a manager Runnable).
func (s *Sender) Start(ctx context.Context) error {
	s.init()
	for {
		select {
		case <-ctx.Done():
			return nil
		case d := <-s.queue:
			if err := s.deliver(ctx, d); err != nil {
				s.count(&s.failed)
				s.Log.Error(err, "Alert not delivered", "provider", d.provider.Name, "microservice", d.alert.Namespace+"/"+d.alert.Name, "reason", d.alert.Reason)
				continue
			}
			s.count(&s.sent)
		}
	}
}

// NeedLeaderElection: only the leader records transitions, so only its
// sender has alerts to send; running on every replica costs nothing.
func (s *Sender) NeedLeaderElection() bool { return false }

func (s *Sender) deliver(ctx context.Context, d delivery) error {
	body, err := json.Marshal(payload(d.provider.Type, d.alert))
	if err != nil {
		return err
	}
	attempts, timeout := max(s.Attempts, 1), s.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	var last error
	for i := range attempts {
		if i > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Duration(i) * time.Second):
			}
		}
		if last = s.post(ctx, d.provider.URL, body, timeout); last == nil {
			return nil
		}
	}
	return last
}

func (s *Sender) post(ctx context.Context, url string, body []byte, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	client := s.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		// The URL is a secret: say which provider, not where.
		return errors.New("posting the alert failed: " + redact(err.Error(), url))
	}
	_ = resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("the receiver answered HTTP %d", resp.StatusCode)
	}
	return nil
}

func redact(s, url string) string { return strings.ReplaceAll(s, url, "<url>") }
