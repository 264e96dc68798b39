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
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/prometheus/client_golang/prometheus"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/msvc-dev/msvc-operator/internal/shard"
)

// promtool is the promtool next to the Prometheus of the analysis tests
// (Debian's prometheus package ships both), or the one on PATH.
func promtool() string {
	if p := os.Getenv("PROMETHEUS_BIN"); p != "" {
		if t := filepath.Join(filepath.Dir(p), "promtool"); fileExists(t) {
			return t
		}
	}
	p, err := exec.LookPath("promtool")
	Expect(err).NotTo(HaveOccurred(), "promtool is needed to check config/prometheus: run hack/ensure-prometheus.sh (make test does)")
	return p
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// operatorMetricNames are the metric names in PromQL expressions that the
// operator itself serves (msvc_*, controller_runtime_*, workqueue_*), with
// a histogram's _bucket, _sum and _count suffix taken off.
func operatorMetricNames(exprs []string) []string {
	re := regexp.MustCompile(`\b(msvc|controller_runtime|workqueue)_[a-z_]+`)
	seen := map[string]bool{}
	for _, e := range exprs {
		for _, m := range re.FindAllString(e, -1) {
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				m = strings.TrimSuffix(m, suffix)
			}
			seen[m] = true
		}
	}
	names := make([]string, 0, len(seen))
	for n := range seen {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

var _ = Describe("The alert rules and the Grafana dashboard", func() {
	It("use only metrics the running operator serves, and pass promtool's checks and rule tests", func() {
		config := filepath.Join("..", "..", "config")
		rules := filepath.Join(config, "prometheus", "msvc-operator-rules.yaml")
		tool := promtool()

		By("checking the rules and running their unit tests with promtool")
		out, err := exec.Command(tool, "check", "rules", rules).CombinedOutput()
		Expect(err).NotTo(HaveOccurred(), string(out))
		out, err = exec.Command(tool, "test", "rules", filepath.Join(config, "prometheus", "msvc-operator-rules_test.yaml")).CombinedOutput()
		Expect(err).NotTo(HaveOccurred(), string(out))
		Expect(string(out)).To(ContainSubstring("SUCCESS"))

		By("parsing every query of the dashboard with promtool")
		data, err := os.ReadFile(filepath.Join(config, "grafana", "msvc-operator-dashboard.json"))
		Expect(err).NotTo(HaveOccurred())
		var dashboard struct {
			Panels []struct {
				Title   string `json:"title"`
				Targets []struct {
					Expr string `json:"expr"`
				} `json:"targets"`
			} `json:"panels"`
		}
		Expect(json.Unmarshal(data, &dashboard)).To(Succeed())
		var exprs []string
		recording := "groups:\n- name: dashboard\n  rules:\n"
		for i, p := range dashboard.Panels {
			Expect(p.Targets).NotTo(BeEmpty(), "panel %q has a query", p.Title)
			for j, t := range p.Targets {
				exprs = append(exprs, t.Expr)
				q, _ := json.Marshal(t.Expr)
				recording += fmt.Sprintf("  - record: dashboard:panel%d_%d\n    expr: %s\n", i, j, q)
			}
		}
		tmp := filepath.Join(GinkgoT().TempDir(), "dashboard-rules.yaml")
		Expect(os.WriteFile(tmp, []byte(recording), 0o600)).To(Succeed())
		out, err = exec.Command(tool, "check", "rules", tmp).CombinedOutput()
		Expect(err).NotTo(HaveOccurred(), string(out))

		By("running a canary, so that every rollout metric has a series")
		ms := withCanary(withRoute(checkout(newNamespace())), weightStep(20), manualGate())
		startCanaryWithReadyPods(ms)
		Eventually(rolloutStatus(ms), timeout, interval).Should(HaveField("CanaryWeight", int32(20)))

		By("finding each metric the rules and the dashboard name in the operator's registry")
		ruleText, err := os.ReadFile(rules)
		Expect(err).NotTo(HaveOccurred())
		names := operatorMetricNames(append(exprs, string(ruleText)))
		Expect(names).To(ContainElements("msvc_rollouts_total", "msvc_canary_weight_percent", "controller_runtime_reconcile_total"))
		// With --shards, cmd/main.go registers the shard Coordinator's
		// collectors too.
		sharded, err := shard.New(shard.Options{Client: k8sClient, Namespace: "default", Name: "msvc-metrics", Shards: 2, Identity: "metrics-test"})
		Expect(err).NotTo(HaveOccurred())
		shardMetrics := prometheus.NewRegistry()
		shardMetrics.MustRegister(sharded.Collectors()...)
		served := func() []string {
			var have []string
			for _, g := range []prometheus.Gatherer{ctrlmetrics.Registry, shardMetrics} {
				families, err := g.Gather()
				Expect(err).NotTo(HaveOccurred())
				for _, f := range families {
					have = append(have, f.GetName())
				}
			}
			return have
		}
		Eventually(served, 10*time.Second, interval).Should(ContainElements(names))
		GinkgoWriter.Printf("Operator metrics named by the rules and the dashboard, all served: %v\n", names)
	})
})
