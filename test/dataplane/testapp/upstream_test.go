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

package main

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestServiceTableLooksNamesUpAsWrittenThenInTheCallersNamespace(t *testing.T) {
	table := serviceTable{
		"ledger.shop.svc.cluster.local:80": {"10.0.0.7:8080"},
		"ledger.shop:80":                   {"10.0.0.7:8080"},
		"tax.other:80":                     {"10.0.0.9:8080"},
	}
	for _, tt := range []struct{ addr, namespace, want string }{
		{"ledger.shop.svc.cluster.local:80", "", "10.0.0.7:8080"},
		{"ledger:80", "shop", "10.0.0.7:8080"},
		{"ledger:80", "other", ""},
		{"tax:80", "shop", ""},
		{"ledger.shop:81", "shop", ""},
	} {
		if got := strings.Join(table.endpoints(tt.addr, tt.namespace), ","); got != tt.want {
			t.Errorf("endpoints(%q, %q) = %q, want %q", tt.addr, tt.namespace, got, tt.want)
		}
	}
}

func TestChainOf(t *testing.T) {
	for _, tt := range []struct {
		upstream []string
		want     string
	}{
		{nil, "v2"},
		{[]string{"co-2>lg-2"}, "v2>co-2>lg-2"},
		{[]string{"a1", "b1"}, "v2>(a1,b1)"},
	} {
		if got := chainOf("v2", tt.upstream); got != tt.want {
			t.Errorf("chainOf(v2, %v) = %q, want %q", tt.upstream, got, tt.want)
		}
	}
}

func TestConfigNeedsTheAddressOfEveryDependencyItCalls(t *testing.T) {
	env := map[string]string{"TESTAPP_LISTEN": "127.0.0.1:1", "TESTAPP_CALL": "LEDGER_URL,TAX_URL", "LEDGER_URL": "http://ledger.shop:80"}
	_, err := parseConfig(nil, "", func(k string) string { return env[k] })
	if err == nil || !strings.Contains(err.Error(), "TAX_URL") {
		t.Fatalf("parseConfig = %v, want an error naming TAX_URL", err)
	}
	env["TAX_URL"] = "tax.shop:80"
	c, err := parseConfig(nil, "", func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(c.calls, " "); got != "http://ledger.shop:80 http://tax.shop:80" {
		t.Errorf("calls = %q", got)
	}
}

// Three testapps, each calling the next by its Service name through a
// service table, as the pod runner writes it; then the last one's Service
// loses its endpoints.
func TestTestappCallsItsDependencyThroughTheServiceTable(t *testing.T) {
	bin := buildTestapp(t)
	tablePath := filepath.Join(t.TempDir(), "services.json")
	writeTable := func(table serviceTable) {
		data, err := json.Marshal(table)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(tablePath, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writeTable(serviceTable{})
	common := []string{"TESTAPP_SERVICES=" + tablePath, "TESTAPP_NAMESPACE=shop"}
	ledger := startTestapp(t, bin, 1, append(common, "TESTAPP_VERSION=lg-2")...)
	checkout := startTestapp(t, bin, 1, append(common, "TESTAPP_VERSION=co-2", "TESTAPP_CALL=LEDGER_URL",
		"LEDGER_URL=http://ledger-canary.shop.svc.cluster.local:80")...)
	storefront := startTestapp(t, bin, 1, append(common, "TESTAPP_VERSION=sf-2", "TESTAPP_CALL=CHECKOUT_URL",
		"CHECKOUT_URL=http://checkout:80")...)
	writeTable(serviceTable{
		"ledger-canary.shop.svc.cluster.local:80": {ledger.addrs[0]},
		"checkout.shop:80":                        {checkout.addrs[0]},
	})

	resp, err := client.Get("http://" + storefront.addrs[0] + "/cart")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Chain") != "sf-2>co-2>lg-2" || resp.Header.Get("X-Version") != "sf-2" {
		t.Errorf("GET /cart = %d, X-Chain %q, X-Version %q; want 200, sf-2>co-2>lg-2, sf-2", resp.StatusCode, resp.Header.Get("X-Chain"), resp.Header.Get("X-Version"))
	}

	writeTable(serviceTable{"checkout.shop:80": {checkout.addrs[0]}})
	if code, version, body := get(t, "http://"+storefront.addrs[0]+"/cart"); code != http.StatusBadGateway || version != "sf-2" || !strings.Contains(body, "checkout:80 answered 502") {
		t.Errorf("GET storefront /cart without ledger's endpoints = %d, %q, %q; want 502 saying checkout failed", code, version, body)
	}
	if code, _, body := get(t, "http://"+checkout.addrs[0]+"/cart"); code != http.StatusBadGateway || !strings.Contains(body, "no ready endpoint of ledger-canary.shop.svc.cluster.local:80") {
		t.Errorf("GET checkout /cart without ledger's endpoints = %d, %q; want 502 saying which address has no endpoint", code, body)
	}
}
