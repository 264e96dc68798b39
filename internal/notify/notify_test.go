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

package notify

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
)

func TestLoadConfig(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("slack-url", "https://hooks.slack.example/T000/B000/XXX\n")
	good := write("good.yaml", `providers:
- {name: shop-slack, type: slack, urlFile: slack-url}
- {name: audit, type: generic, url: "http://audit.example/hook"}
`)
	got, err := LoadConfig(good)
	if err != nil {
		t.Fatal(err)
	}
	if got["shop-slack"].URL != "https://hooks.slack.example/T000/B000/XXX" || got["audit"].Type != Generic {
		t.Errorf("loaded %+v", got)
	}
	for body, want := range map[string]string{
		`providers: [{name: a, type: pager, url: "https://x"}]`:                                             `type "pager" is none of`,
		`providers: [{name: a, type: slack}]`:                                                               "needs url or urlFile",
		`providers: [{name: a, type: slack, url: "ftp://x"}]`:                                               "must be http or https",
		`providers: [{name: a, type: slack, url: "https://x"}, {name: a, type: discord, url: "https://y"}]`: `"a" is used twice`,
		`providers: [{name: a, type: slack, urlFile: missing}]`:                                             "no such file",
		`providers: [{name: a, type: slack, url: "https://x", channel: ops}]`:                               `unknown field "channel"`,
	} {
		if _, err := LoadConfig(write("bad.yaml", body)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v, want an error with %q", body, err, want)
		}
	}
}

// receiver records the bodies it gets; fail makes it answer 500 that many times first.
type receiver struct {
	mu     sync.Mutex
	bodies []map[string]any
	fail   int
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail > 0 {
		r.fail--
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	data, _ := io.ReadAll(req.Body)
	var body map[string]any
	_ = json.Unmarshal(data, &body)
	r.bodies = append(r.bodies, body)
}

func (r *receiver) got() []map[string]any {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]map[string]any(nil), r.bodies...)
}

func TestSenderFormatsRetriesAndNeverBlocks(t *testing.T) {
	slack, teams, discord, generic := &receiver{fail: 1}, &receiver{}, &receiver{}, &receiver{}
	hang := make(chan struct{})
	hanging := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { <-hang }))
	defer hanging.Close()
	defer close(hang) // before Close, which waits for the hanging handler
	providers := map[string]Provider{"hang": {Name: "hang", Type: Generic, URL: hanging.URL}}
	for name, r := range map[string]*receiver{Slack: slack, MSTeams: teams, Discord: discord, Generic: generic} {
		srv := httptest.NewServer(r)
		defer srv.Close()
		providers[name] = Provider{Name: name, Type: name, URL: srv.URL}
	}
	s := &Sender{Providers: providers, Client: &http.Client{}, Timeout: 200 * time.Millisecond, Attempts: 2, Log: logr.Discard()}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = s.Start(ctx) }()

	a := Alert{Namespace: "shop", Name: "checkout", Reason: "RolloutRolledBack", Message: "success-rate=0.9 is below 0.99", Warning: true, Revision: "abc", Phase: "RolledBack", Time: time.Unix(0, 0)}
	began := time.Now()
	for _, p := range []string{"hang", Slack, MSTeams, Discord, Generic} {
		if err := s.Send(p, a); err != nil {
			t.Fatal(err)
		}
	}
	if d := time.Since(began); d > 50*time.Millisecond {
		t.Errorf("Send waited %v for the receivers", d)
	}
	if err := s.Send("pagerduty", a); err == nil || !strings.Contains(err.Error(), "no such alert provider") {
		t.Errorf("an unknown provider: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		sent, failed, _ := s.Counts()
		if sent == 4 && failed == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("sent %d, failed %d; want 4 sent (slack after a retry) and the hanging one failed", sent, failed)
		}
		time.Sleep(20 * time.Millisecond)
	}
	text := "shop/checkout RolloutRolledBack: success-rate=0.9 is below 0.99"
	if b := slack.got(); len(b) != 1 || b[0]["text"] != text {
		t.Errorf("slack got %v", b)
	}
	if b := discord.got(); len(b) != 1 || b[0]["content"] != text {
		t.Errorf("discord got %v", b)
	}
	if b := teams.got(); len(b) != 1 || b[0]["type"] != "message" || !strings.Contains(mustJSON(t, b[0]), "application/vnd.microsoft.card.adaptive") {
		t.Errorf("teams got %v", b)
	}
	if b := generic.got(); len(b) != 1 || b[0]["reason"] != "RolloutRolledBack" || b[0]["revision"] != "abc" || b[0]["warning"] != true {
		t.Errorf("generic got %v", b)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func TestFailedPostHidesTheURL(t *testing.T) {
	s := &Sender{}
	err := s.post(context.Background(), "http://127.0.0.1:1/secret-token", []byte("{}"), time.Second)
	if err == nil || strings.Contains(err.Error(), "secret-token") {
		t.Errorf("error %v shows the url", err)
	}
}
