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

package metricsauth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/go-logr/logr"
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
)

// fakeReviewer is a unit test's API server: tokens maps a token to its
// user, allowed names the users who may get /metrics.
type fakeReviewer struct {
	tokens       map[string]string
	allowed      map[string]bool
	failTokens   bool
	failAccess   bool
	tokenReviews int
	accessReview int
	lastSpec     authorizationv1.SubjectAccessReviewSpec
}

func (f *fakeReviewer) ReviewToken(_ context.Context, token string) (authenticationv1.TokenReviewStatus, error) {
	f.tokenReviews++
	if f.failTokens {
		return authenticationv1.TokenReviewStatus{}, errors.New("connection refused")
	}
	user, ok := f.tokens[token]
	if !ok {
		return authenticationv1.TokenReviewStatus{Error: "invalid bearer token"}, nil
	}
	return authenticationv1.TokenReviewStatus{Authenticated: true, User: authenticationv1.UserInfo{
		Username: user, UID: "uid-" + user, Groups: []string{"system:serviceaccounts", "system:authenticated"},
		Extra: map[string]authenticationv1.ExtraValue{"authentication.kubernetes.io/pod-name": {"p"}},
	}}, nil
}

func (f *fakeReviewer) ReviewAccess(_ context.Context, spec authorizationv1.SubjectAccessReviewSpec) (authorizationv1.SubjectAccessReviewStatus, error) {
	f.accessReview++
	f.lastSpec = spec
	if f.failAccess {
		return authorizationv1.SubjectAccessReviewStatus{}, errors.New("connection refused")
	}
	ok := f.allowed[spec.User] && spec.NonResourceAttributes != nil && spec.NonResourceAttributes.Path == "/metrics" && spec.NonResourceAttributes.Verb == "get"
	return authorizationv1.SubjectAccessReviewStatus{Allowed: ok}, nil
}

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func serve(t *testing.T, a *Authorizer, header string) (int, string) {
	t.Helper()
	h, err := a.Filter(logr.Discard(), http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("metrics")) }))
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	if header != "" {
		req.Header.Set("Authorization", header)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code, rec.Body.String()
}

func TestFilterAnswers(t *testing.T) {
	f := &fakeReviewer{tokens: map[string]string{"good": "scraper", "other": "stranger"}, allowed: map[string]bool{"scraper": true}}
	c := &clock{t: time.Unix(1_000_000, 0)}
	a := New(f, c.now)
	for _, tc := range []struct {
		header string
		code   int
	}{
		{"", http.StatusUnauthorized},
		{"Basic dXNlcjpwYXNz", http.StatusUnauthorized},
		{"Bearer ", http.StatusUnauthorized},
		{"Bearer unknown", http.StatusUnauthorized},
		{"Bearer other", http.StatusForbidden},
		{"Bearer good", http.StatusOK},
		{"bearer good", http.StatusOK},
	} {
		code, body := serve(t, a, tc.header)
		if code != tc.code {
			t.Errorf("%q: %d (%s), want %d", tc.header, code, body, tc.code)
		}
		if (code == http.StatusOK) != (body == "metrics") {
			t.Errorf("%q: answered %d with body %q", tc.header, code, body)
		}
	}
	// The access review asks the question the token's user is, whole.
	s := f.lastSpec
	if s.User != "scraper" || s.UID != "uid-scraper" || len(s.Groups) != 2 || len(s.Extra["authentication.kubernetes.io/pod-name"]) != 1 {
		t.Errorf("access review of %+v", s)
	}
}

func TestFilterRemembersForTheirTTLs(t *testing.T) {
	f := &fakeReviewer{tokens: map[string]string{"good": "scraper", "other": "stranger"}, allowed: map[string]bool{"scraper": true}}
	c := &clock{t: time.Unix(1_000_000, 0)}
	a := New(f, c.now)
	for range 5 {
		if code, _ := serve(t, a, "Bearer good"); code != http.StatusOK {
			t.Fatalf("scrape: %d", code)
		}
	}
	if f.tokenReviews != 1 || f.accessReview != 1 {
		t.Fatalf("5 scrapes within a second made %d token and %d access reviews, want 1 and 1", f.tokenReviews, f.accessReview)
	}
	c.t = c.t.Add(TokenTTL + time.Second)
	serve(t, a, "Bearer good")
	if f.tokenReviews != 2 || f.accessReview != 1 {
		t.Fatalf("after the token's TTL: %d token and %d access reviews, want 2 and 1", f.tokenReviews, f.accessReview)
	}
	c.t = c.t.Add(AllowedTTL)
	serve(t, a, "Bearer good")
	if f.accessReview != 2 {
		t.Fatalf("after the allowed TTL: %d access reviews, want 2", f.accessReview)
	}

	// A refusal is remembered for DeniedTTL only: a new binding counts
	// within it.
	if code, _ := serve(t, a, "Bearer other"); code != http.StatusForbidden {
		t.Fatalf("stranger: %d", code)
	}
	f.allowed["stranger"] = true
	if code, _ := serve(t, a, "Bearer other"); code != http.StatusForbidden {
		t.Fatalf("stranger within the denied TTL: %d, want the remembered 403", code)
	}
	c.t = c.t.Add(DeniedTTL + time.Second)
	if code, _ := serve(t, a, "Bearer other"); code != http.StatusOK {
		t.Fatalf("stranger after the denied TTL and a new binding: %d, want 200", code)
	}
}

func TestFilterFailsClosedWhenAReviewFails(t *testing.T) {
	f := &fakeReviewer{tokens: map[string]string{"good": "scraper"}, allowed: map[string]bool{"scraper": true}, failTokens: true}
	c := &clock{t: time.Unix(1_000_000, 0)}
	a := New(f, c.now)
	if code, body := serve(t, a, "Bearer good"); code != http.StatusInternalServerError || body == "metrics" {
		t.Fatalf("token review failing: %d %q", code, body)
	}
	f.failTokens, f.failAccess = false, true
	if code, body := serve(t, a, "Bearer good"); code != http.StatusInternalServerError || body == "metrics" {
		t.Fatalf("access review failing: %d %q", code, body)
	}
	// A failure is not remembered: the next scrape asks again and passes.
	f.failAccess = false
	if code, _ := serve(t, a, "Bearer good"); code != http.StatusOK {
		t.Fatalf("after the API server is back: %d", code)
	}
}

func TestCachesAreBounded(t *testing.T) {
	f := &fakeReviewer{tokens: map[string]string{}, allowed: map[string]bool{}}
	for i := range 3 * maxRemembered {
		f.tokens[fmt.Sprint("t", i)] = fmt.Sprint("u", i)
	}
	c := &clock{t: time.Unix(1_000_000, 0)}
	a := New(f, c.now)
	for i := range 3 * maxRemembered {
		serve(t, a, fmt.Sprint("Bearer t", i))
	}
	if len(a.tokens.m) > maxRemembered || len(a.access.m) > maxRemembered {
		t.Fatalf("caches hold %d tokens and %d answers, over %d", len(a.tokens.m), len(a.access.m), maxRemembered)
	}
}
