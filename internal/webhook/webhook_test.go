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

package webhook

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestCallKeepsTheStatusLineAndTheStartOfTheBody(t *testing.T) {
	hang := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/long":
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = w.Write([]byte("load test failed:\n" + strings.Repeat("x", 500)))
		case "/hang":
			<-hang
		default:
			_, _ = w.Write([]byte("  Approved \n"))
		}
	}))
	defer srv.Close()
	defer close(hang)
	p := Payload{Name: "checkout", Namespace: "shop", Phase: "Progressing", Checksum: "rev2", Type: "rollout"}

	ok, msg := Call(context.Background(), srv.Client(), srv.URL+"/", p, time.Second)
	if !ok || msg != "HTTP 200 OK: Approved" {
		t.Errorf("2xx = %v, %q; want true, %q", ok, msg, "HTTP 200 OK: Approved")
	}
	ok, msg = Call(context.Background(), srv.Client(), srv.URL+"/long", p, time.Second)
	want := "HTTP 500 Internal Server Error: load test failed: " + strings.Repeat("x", maxBody-len("load test failed:\n")) + "..."
	if ok || msg != want {
		t.Errorf("500 = %v, %q; want false, %q", ok, msg, want)
	}
	ok, msg = Call(context.Background(), srv.Client(), srv.URL+"/hang", p, 200*time.Millisecond)
	if ok || msg != "no answer within 200ms (timeout)" {
		t.Errorf("hung = %v, %q", ok, msg)
	}
	// A URL may carry a token: no message repeats it.
	url := "http://127.0.0.1:1/hook?token=s3cret"
	ok, msg = Call(context.Background(), srv.Client(), url, p, time.Second)
	if ok || strings.Contains(msg, "s3cret") || !strings.Contains(msg, "<url>") {
		t.Errorf("refused connection = %v, %q; want the URL redacted", ok, msg)
	}
}
