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

package analysis

import (
	"context"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
)

// authSeen is a Prometheus stand-in that answers 1 to every query and
// records the Authorization header of each.
type authSeen struct {
	mu   sync.Mutex
	auth []string
}

func (a *authSeen) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	a.auth = append(a.auth, r.Header.Get("Authorization"))
	a.mu.Unlock()
	_, _ = w.Write([]byte(`{"status":"success","data":{"resultType":"scalar","result":[0,"1"]}}`))
}

func (a *authSeen) last() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.auth[len(a.auth)-1]
}

func TestDefaultPrometheusCredentialsGoToItAlone(t *testing.T) {
	defaultSeen, otherSeen := &authSeen{}, &authSeen{}
	def := httptest.NewTLSServer(defaultSeen)
	defer def.Close()
	other := httptest.NewServer(otherSeen)
	defer other.Close()

	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: def.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	token := filepath.Join(dir, "token")
	if err := os.WriteFile(token, []byte("first\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := NewFactory(NewHTTPClient(), def.URL, Credentials{BearerTokenFile: token, CAFile: ca})
	if err != nil {
		t.Fatal(err)
	}
	query := func(a *msv1.Analysis) {
		t.Helper()
		b, err := f.For(a, QueryVars{})
		if err != nil {
			t.Fatal(err)
		}
		if v, err := b.Query(context.Background(), "1"); err != nil || v.Number != 1 {
			t.Fatalf("query: %v, %v", v, err)
		}
	}

	query(&msv1.Analysis{})
	if got := defaultSeen.last(); got != "Bearer first" {
		t.Errorf("the default Prometheus got Authorization %q, want the token of the file (over TLS with the CA file)", got)
	}
	if err := os.WriteFile(token, []byte("rotated"), 0o600); err != nil {
		t.Fatal(err)
	}
	query(&msv1.Analysis{})
	if got := defaultSeen.last(); got != "Bearer rotated" {
		t.Errorf("after a rotation the default Prometheus got %q", got)
	}
	for _, a := range []*msv1.Analysis{
		{Prometheus: &msv1.PrometheusProvider{Address: other.URL}},
		{Provider: &msv1.MetricProvider{Prometheus: &msv1.PrometheusProvider{Address: other.URL}}},
	} {
		query(a)
		if got := otherSeen.last(); got != "" {
			t.Errorf("an address from the spec got the operator's credentials: %q", got)
		}
	}

	if _, err := NewFactory(NewHTTPClient(), def.URL, Credentials{CAFile: token}); err == nil || !strings.Contains(err.Error(), "no PEM certificate") {
		t.Errorf("a CA file without certificates: %v", err)
	}
	if _, err := (&Factory{Client: NewHTTPClient()}).For(&msv1.Analysis{}, QueryVars{}); err == nil || !strings.Contains(err.Error(), "--default-prometheus-address") {
		t.Errorf("no backend at all: %v", err)
	}
}

func TestWebBackend(t *testing.T) {
	var gotURL string
	answer := `{"data":{"value":0.97}}`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotURL = r.URL.RequestURI()
		_, _ = w.Write([]byte(answer))
	}))
	defer srv.Close()
	vars := QueryVars{Name: "check out", Namespace: "shop&co", Track: "canary", Revision: "abc", Interval: "60s"}
	b, err := NewWeb(srv.URL+"/v?q={{ .Query }}&ns={{ .Namespace }}&w={{ .Interval }}", "{.data.value}", nil, vars, nil)
	if err != nil {
		t.Fatal(err)
	}
	q, err := b.Render(`rate{app="{{ .Name }}"}`, vars)
	if err != nil {
		t.Fatal(err)
	}
	if q != `rate{app="check out"}` {
		t.Errorf("rendered %q: a web query takes the values as they are", q)
	}
	v, err := b.Query(context.Background(), q)
	if err != nil || v.Number != 0.97 || v.NoData {
		t.Fatalf("got %+v, %v", v, err)
	}
	if want := "/v?q=rate%7Bapp%3D%22check+out%22%7D&ns=shop%26co&w=60s"; gotURL != want {
		t.Errorf("requested %s, want %s", gotURL, want)
	}
	for _, tc := range []struct {
		answer, path string
		want         Value
		err          string
	}{
		{`{"data":{"value":"12.5"}}`, "{.data.value}", Value{Number: 12.5}, ""},
		{`{"data":{"value":null}}`, "{.data.value}", Value{NoData: true}, ""},
		{`{"data":{}}`, "{.data.value}", Value{NoData: true}, ""},
		{`{"data":{"value":"n/a"}}`, "{.data.value}", Value{}, "not a number"},
		{`{"data":[{"v":1},{"v":2}]}`, "{.data[*].v}", Value{}, "found 2 values"},
		{`<html>`, "{.data.value}", Value{}, "not JSON"},
	} {
		answer = tc.answer
		b, err := NewWeb(srv.URL+"/v?q={{ .Query }}", tc.path, nil, vars, nil)
		if err != nil {
			t.Fatal(err)
		}
		v, err := b.Query(context.Background(), "x")
		switch {
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%s: got %+v, %v; want an error with %q", tc.answer, v, err, tc.err)
		case tc.err == "" && (err != nil || v != tc.want):
			t.Errorf("%s: got %+v, %v; want %+v", tc.answer, v, err, tc.want)
		}
	}
	if _, err := NewWeb(srv.URL, "{.data[", nil, vars, nil); err == nil {
		t.Error("a broken jsonPath is refused")
	}
}
