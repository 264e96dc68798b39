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
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
	"github.com/msvc-dev/msvc-operator/internal/shard"
)

// shardWrite is one successful write of a manager into a namespace.
type shardWrite struct {
	manager   int
	namespace string
	at        time.Time
}

// shardWrites records the writes of several managers, and cuts one
// manager's Lease requests off on demand (a network partition between it
// and the Leases, while its other requests pass).
type shardWrites struct {
	mu     sync.Mutex
	writes []shardWrite
}

type shardTransport struct {
	next      http.RoundTripper
	manager   int
	record    *shardWrites
	noLeases  atomic.Bool
	leaseErrs atomic.Int64
}

func (t *shardTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ns, resource := describePath(req.URL.Path)
	if resource == "leases" && t.noLeases.Load() {
		t.leaseErrs.Add(1)
		return nil, errors.New("test: partitioned from the Leases")
	}
	resp, err := t.next.RoundTrip(req)
	write := req.Method != http.MethodGet && req.Method != http.MethodHead
	if err == nil && write && resp.StatusCode < 300 && ns != "" && resource != "leases" && resource != "events" {
		t.record.mu.Lock()
		t.record.writes = append(t.record.writes, shardWrite{manager: t.manager, namespace: ns, at: time.Now()})
		t.record.mu.Unlock()
	}
	return resp, err
}

func (w *shardWrites) all() []shardWrite {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.writes)
}

var _ = Describe("Sharding between manager replicas", func() {
	replaceSuiteManager()

	It("splits the shards fairly, takes over a partitioned owner's shards after the lease, and never lets two managers write one Microservice in turn", func() {
		const shards, count = 6, 12
		leaseDuration, renewDeadline, period := 4*time.Second, 3*time.Second, 500*time.Millisecond
		leaseNS := newNamespace()
		grantLeaderElection(leaseNS)
		var namespaces []string
		for range count {
			namespaces = append(namespaces, newNamespace())
		}

		record := &shardWrites{}
		transports := make([]*shardTransport, 3)
		managers := make([]*runningManager, 3)
		for i := range managers {
			t := &shardTransport{manager: i, record: record}
			transports[i] = t
			managers[i] = env.runManager(managerOptions{
				namespaces: namespaces,
				wrap:       func(rt http.RoundTripper) http.RoundTripper { t.next = rt; return t },
				shards: &shard.Options{Namespace: leaseNS, Name: "msvc-test", Shards: shards, Identity: fmt.Sprintf("manager-%d", i),
					LeaseDuration: leaseDuration, RenewDeadline: renewDeadline, RetryPeriod: period},
			})
		}
		stopped := make([]bool, len(managers))
		DeferCleanup(func() {
			for i, m := range managers {
				if !stopped[i] {
					Expect(m.Stop()).To(Succeed())
				}
			}
		})
		owned := func(i int) func() []int { return func() []int { return managers[i].shards.Owned() } }
		ownerOf := func(s int) int {
			for i, m := range managers {
				if !stopped[i] && slices.Contains(m.shards.Owned(), s) {
					return i
				}
			}
			return -1
		}

		By("letting the three managers split the six shards")
		for i := range managers {
			Eventually(owned(i), 30*time.Second, period).Should(HaveLen(shards/len(managers)), "manager %d holds its fair part", i)
		}
		Expect(slices.Concat(owned(0)(), owned(1)(), owned(2)())).To(ConsistOf(0, 1, 2, 3, 4, 5))

		By("creating a Microservice in each namespace, in the shard its label names")
		services := make([]*msv1.Microservice, count)
		for i, ns := range namespaces {
			ms := checkout(ns)
			ms.Labels = map[string]string{shard.Label: strconv.Itoa(i % shards)}
			Expect(k8sClient.Create(ctx, ms)).To(Succeed())
			services[i] = ms
		}
		for _, ms := range services {
			Eventually(image(key(ms)), timeout, interval).Should(Equal("ghcr.io/acme/checkout:1.4.2"))
		}
		for i, ms := range services {
			want := ownerOf(i % shards)
			for _, w := range record.all() {
				if w.namespace == ms.Namespace {
					Expect(w.manager).To(Equal(want), "only the owner of shard %d writes %s", i%shards, ms.Namespace)
				}
			}
		}

		By("cutting manager 0 off from the Leases, as a network partition would")
		lost := owned(0)()
		partitioned := time.Now()
		transports[0].noLeases.Store(true)
		Eventually(owned(0), 2*renewDeadline, 50*time.Millisecond).Should(BeEmpty(), "it stops reconciling once it cannot renew")
		dropped := time.Since(partitioned)
		Eventually(func() []int { return slices.Concat(owned(1)(), owned(2)()) }, 3*leaseDuration, 50*time.Millisecond).Should(ConsistOf(0, 1, 2, 3, 4, 5))
		tookOver := time.Since(partitioned)
		AddReportEntry("sharding: partitioned owner stopped, shards taken over", fmt.Sprintf("stopped after %v, taken over after %v (lease %v, renew deadline %v, period %v)",
			dropped.Round(time.Millisecond), tookOver.Round(time.Millisecond), leaseDuration, renewDeadline, period))
		Expect(dropped).To(BeNumerically("<", leaseDuration), "the partitioned owner stops before anyone may take its shards")
		// The last renewal came at most a period before the partition, and
		// no one may take a shard sooner than the lease duration after it.
		Expect(tookOver).To(BeNumerically(">=", leaseDuration-period), "no shard is taken before its Lease has gone unrenewed for the lease duration")
		Expect(tookOver).To(BeNumerically("<", leaseDuration+3*period+time.Second), "taken over within the lease duration of the last renewal (and a period or two to see it)")
		Expect(owned(1)()).To(HaveLen(3))
		Expect(owned(2)()).To(HaveLen(3))

		By("changing every Microservice: the two managers left deliver them all, the partitioned one writes nothing")
		changed := time.Now()
		for _, ms := range services {
			updateSpec(ms, func(s *msv1.MicroserviceSpec) { s.Image = "ghcr.io/acme/checkout:2.0.0" })
		}
		for _, ms := range services {
			Eventually(image(key(ms)), timeout, interval).Should(Equal("ghcr.io/acme/checkout:2.0.0"))
		}
		for _, w := range record.all() {
			if w.at.After(changed) {
				Expect(w.manager).NotTo(BeZero(), "manager 0 wrote %s after it lost its shards %v", w.namespace, lost)
			}
		}

		By("stopping manager 1 cleanly: it frees its Leases, and manager 2 takes them at once")
		stopping := time.Now()
		Expect(managers[1].Stop()).To(Succeed())
		stopped[1] = true
		Eventually(owned(2), 2*leaseDuration, 50*time.Millisecond).Should(ConsistOf(0, 1, 2, 3, 4, 5))
		handedOver := time.Since(stopping)
		AddReportEntry("sharding: clean stop handed over", handedOver.Round(time.Millisecond).String())
		Expect(handedOver).To(BeNumerically("<", leaseDuration), "a clean stop does not make the others wait out the lease")

		By("healing manager 0's partition: it rejoins and gets its fair part back")
		transports[0].noLeases.Store(false)
		healed := time.Now()
		Eventually(owned(0), 3*leaseDuration, period).Should(HaveLen(3))
		Eventually(owned(2), 3*leaseDuration, period).Should(HaveLen(3))
		Expect(slices.Concat(owned(0)(), owned(2)())).To(ConsistOf(0, 1, 2, 3, 4, 5))
		for _, ms := range services {
			updateSpec(ms, func(s *msv1.MicroserviceSpec) { s.Image = "ghcr.io/acme/checkout:3.0.0" })
		}
		for _, ms := range services {
			Eventually(image(key(ms)), timeout, interval).Should(Equal("ghcr.io/acme/checkout:3.0.0"))
		}

		By("checking every write: in each namespace and phase, at most one hand-over, from the manager that lost the shard")
		writes := record.all()
		phases := []struct {
			from, to time.Time
			loser    int
		}{{partitioned, stopping, 0}, {stopping, healed, 1}, {healed, time.Now(), 2}}
		for _, ns := range namespaces {
			for _, ph := range phases {
				var writers []int
				for _, w := range writes {
					if w.namespace == ns && !w.at.Before(ph.from) && w.at.Before(ph.to) &&
						(len(writers) == 0 || writers[len(writers)-1] != w.manager) {
						writers = append(writers, w.manager)
					}
				}
				Expect(len(writers)).To(BeNumerically("<=", 2), "%s was written by %v in turn between %v and %v", ns, writers, ph.from, ph.to)
				if len(writers) == 2 {
					Expect(writers[0]).To(Equal(ph.loser), "%s: %v; only manager %d lost shards then", ns, writers, ph.loser)
				}
			}
		}
		AddReportEntry("sharding: writes checked", fmt.Sprintf("%d writes into %d namespaces by 3 managers; %d Lease requests refused during the partition",
			len(writes), count, transports[0].leaseErrs.Load()))
	})
})
