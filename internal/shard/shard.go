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

// Package shard splits the Microservices between several manager replicas.
//
// Each Microservice belongs to one of Shards shards: the one its
// ShardLabel names, or else a stable hash of its namespace. Each shard has a
// Lease; a replica reconciles the Microservices of the shards whose Lease it
// holds, and no other. Replicas announce themselves with a member Lease of
// their own, and each holds at most its fair part of the shards (the number
// of shards over the number of live members, rounded up): a new replica
// takes shards that others give up, and the shards of a replica that stops
// renewing are taken over once their Lease has not changed for
// LeaseDuration.
//
// A replica stops reconciling a shard when it has not renewed the shard's
// Lease for RenewDeadline, which is shorter than LeaseDuration; another
// replica takes it only after seeing the Lease unchanged for LeaseDuration on
// its own clock (as client-go's leader election does), so two replicas never
// reconcile one Microservice at once unless a reconcile outlasts the
// difference. A replica that gives a shard up, or stops, first waits for its
// reconciles of the shard to end, then releases the Lease.
package shard

import (
	"context"
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
)

// Label is the label that puts a Microservice in a shard of its own choice,
// 0 to Shards-1; without it (or with any other value) its namespace's hash
// decides.
const Label = "apps.msvc.dev/shard"

const (
	// groupLabel marks the Leases of one group of replicas.
	groupLabel = "apps.msvc.dev/shard-group"
	// kindLabel tells shard Leases from member Leases.
	kindLabel = "apps.msvc.dev/shard-lease"
)

// Defaults of Options, the values of client-go's leader election.
const (
	DefaultLeaseDuration = 15 * time.Second
	DefaultRenewDeadline = 10 * time.Second
	DefaultRetryPeriod   = 2 * time.Second
)

// Of is the shard of a Microservice in namespace with labels, of shards.
func Of(namespace string, labels map[string]string, shards int) int {
	if shards <= 1 {
		return 0
	}
	if v, ok := labels[Label]; ok {
		if n, err := strconv.Atoi(v); err == nil && n >= 0 && n < shards {
			return n
		}
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(namespace))
	return int(h.Sum32() % uint32(shards))
}

// Options configure a Coordinator.
type Options struct {
	// Client reads and writes Leases; it should not be a caching client
	// (a replica must see the Leases as they are, not watch all of them).
	Client client.Client
	// Namespace holds the Leases; Name prefixes their names (the group).
	Namespace, Name string
	// Shards is the number of shards, 2 or more.
	Shards int
	// Identity names this replica; unique among the replicas.
	Identity string
	// LeaseDuration, RenewDeadline and RetryPeriod: the Defaults when zero.
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
	// Acquired is called with each shard this replica takes, so that its
	// Microservices are reconciled at once; ctx ends when the Coordinator
	// stops. It must not block.
	Acquired func(ctx context.Context, shard int)
	// Clock is time.Now when nil.
	Clock func() time.Time
}

// Coordinator holds this replica's shards. It is a manager Runnable that
// runs on every replica (it needs no leader election).
type Coordinator struct {
	o Options

	mu sync.Mutex
	// owned are the shards this replica reconciles, with when each was last
	// renewed and how many reconciles of it run.
	owned map[int]*ownedShard
	// seen is, by Lease name, its last resourceVersion and when this
	// replica first saw it: a Lease unchanged for its duration is expired.
	seen map[string]observation
	// cond is signalled whenever a reconcile ends, for drain.
	cond *sync.Cond
}

type ownedShard struct {
	renewed  time.Time
	inFlight int
	// leaving is set when the shard is being given up: no new reconcile.
	leaving bool
}

type observation struct {
	resourceVersion string
	at              time.Time
}

// New returns a Coordinator; see Options.
func New(o Options) (*Coordinator, error) {
	if o.Shards < 2 {
		return nil, fmt.Errorf("sharding needs 2 shards or more, not %d", o.Shards)
	}
	if o.Client == nil || o.Namespace == "" || o.Name == "" || o.Identity == "" {
		return nil, fmt.Errorf("sharding needs a client, a namespace, a name and an identity")
	}
	if o.LeaseDuration == 0 {
		o.LeaseDuration = DefaultLeaseDuration
	}
	if o.RenewDeadline == 0 {
		o.RenewDeadline = DefaultRenewDeadline
	}
	if o.RetryPeriod == 0 {
		o.RetryPeriod = DefaultRetryPeriod
	}
	if o.LeaseDuration < time.Second {
		return nil, fmt.Errorf("the lease duration (%v) must be 1s or more: a Lease counts whole seconds", o.LeaseDuration)
	}
	if o.RenewDeadline >= o.LeaseDuration {
		return nil, fmt.Errorf("the renew deadline (%v) must be shorter than the lease duration (%v)", o.RenewDeadline, o.LeaseDuration)
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	c := &Coordinator{o: o, owned: map[int]*ownedShard{}, seen: map[string]observation{}}
	c.cond = sync.NewCond(&c.mu)
	return c, nil
}

// Shards is the number of shards.
func (c *Coordinator) Shards() int { return c.o.Shards }

// Claim reports whether this replica reconciles the Microservice in
// namespace with labels now. When it does, the caller must call release
// once its reconcile ends: a shard is not given up while one runs.
func (c *Coordinator) Claim(namespace string, labels map[string]string) (release func(), ok bool) {
	s := Of(namespace, labels, c.o.Shards)
	c.mu.Lock()
	defer c.mu.Unlock()
	o := c.owned[s]
	if o == nil || !c.serving(o, c.o.Clock()) {
		return nil, false
	}
	o.inFlight++
	return func() {
		c.mu.Lock()
		o.inFlight--
		c.mu.Unlock()
		c.cond.Broadcast()
	}, true
}

// serving says whether this replica reconciles the shard o now: it is not
// being given up, and was renewed within the renew deadline.
func (c *Coordinator) serving(o *ownedShard, now time.Time) bool {
	return !o.leaving && now.Sub(o.renewed) < c.o.RenewDeadline
}

// Owned is the sorted list of the shards this replica reconciles now.
func (c *Coordinator) Owned() []int {
	now := c.o.Clock()
	return c.shardsWhere(func(o *ownedShard) bool { return c.serving(o, now) })
}

// ownedShards is the sorted list of the shards this replica holds and is
// not giving up, renewed in time or not.
func (c *Coordinator) ownedShards() []int {
	return c.shardsWhere(func(o *ownedShard) bool { return !o.leaving })
}

func (c *Coordinator) shardsWhere(keep func(*ownedShard) bool) []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []int
	for s, o := range c.owned {
		if keep(o) {
			out = append(out, s)
		}
	}
	slices.Sort(out)
	return out
}

// Collectors are the Coordinator's metrics: msvc_operator_shards, the
// number of shards, and msvc_operator_shards_owned, how many this replica
// reconciles. Their sum over the replicas falling short of the first means
// that some Microservices have no manager.
func (c *Coordinator) Collectors() []prometheus.Collector {
	return []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "msvc_operator_shards", Help: "Shards the Microservices are split into (--shards)."},
			func() float64 { return float64(c.o.Shards) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "msvc_operator_shards_owned", Help: "Shards this manager replica holds and reconciles."},
			func() float64 { return float64(len(c.Owned())) }),
	}
}

// NeedLeaderElection implements manager.LeaderElectionRunnable: every
// replica runs its Coordinator.
func (c *Coordinator) NeedLeaderElection() bool { return false }

// Start implements manager.Runnable: it takes, renews and gives up shards
// every RetryPeriod until ctx ends, then releases them all.
func (c *Coordinator) Start(ctx context.Context) error {
	log := logf.FromContext(ctx).WithName("shards").WithValues("identity", c.o.Identity)
	t := time.NewTicker(c.o.RetryPeriod)
	defer t.Stop()
	for {
		if err := c.tick(ctx, log); err != nil && ctx.Err() == nil {
			log.Error(err, "Coordinating shards")
		}
		select {
		case <-ctx.Done():
			c.stop(log)
			return nil
		case <-t.C:
		}
	}
}

func (c *Coordinator) shardLease(s int) string { return fmt.Sprintf("%s-shard-%d", c.o.Name, s) }
func (c *Coordinator) memberLease() string     { return c.o.Name + "-member-" + c.o.Identity }

// tick is one round: observe the Leases, renew this replica's, and take or
// give up shards to hold its fair part.
func (c *Coordinator) tick(ctx context.Context, log logr.Logger) error {
	leases, err := c.leases(ctx)
	if err != nil {
		c.expireUnrenewed(log)
		return err
	}
	now := c.o.Clock()
	members := 1 // this replica
	for _, l := range leases {
		c.observe(l, now)
		if l.Labels[kindLabel] != "member" || l.Name == c.memberLease() {
			continue
		}
		if !c.expired(l, now) {
			members++
			continue
		}
		// A replica that stopped without deleting its member Lease (it
		// crashed) is forgotten; the precondition spares one that renewed.
		_ = c.o.Client.Delete(ctx, l, client.Preconditions{ResourceVersion: &l.ResourceVersion})
	}
	if err := c.renewMember(ctx, leases[c.memberLease()], now); err != nil {
		log.Error(err, "Renewing the member Lease")
	}

	// Renew the shards held; one that someone else holds now is lost.
	for _, s := range c.ownedShards() {
		l := leases[c.shardLease(s)]
		if l == nil || ptr.Deref(l.Spec.HolderIdentity, "") != c.o.Identity {
			c.lose(log, s, "its Lease is gone or held by another replica")
			continue
		}
		renewed, err := c.write(ctx, l, now)
		if err != nil {
			log.Error(err, "Renewing a shard's Lease", "shard", s)
			continue
		}
		leases[l.Name] = renewed
		c.renewed(s, now)
	}
	c.expireUnrenewed(log)

	fair := (c.o.Shards + members - 1) / members
	held := c.ownedShards()
	// Give up the shards beyond the fair part, highest first, so that a
	// replica that joins gets shards.
	for len(held) > fair {
		s := held[len(held)-1]
		held = held[:len(held)-1]
		c.giveUp(ctx, log, s, leases[c.shardLease(s)])
	}
	// Take free or expired shards up to the fair part, starting at a place
	// of this replica's own so that replicas starting together spread.
	start := Of(c.o.Identity, nil, c.o.Shards)
	for i := 0; i < c.o.Shards && len(held) < fair; i++ {
		s := (start + i) % c.o.Shards
		if slices.Contains(held, s) {
			continue
		}
		if c.take(ctx, log, s, leases[c.shardLease(s)], now) {
			held = append(held, s)
		}
	}
	return nil
}

func (c *Coordinator) observe(l *coordinationv1.Lease, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if o, ok := c.seen[l.Name]; !ok || o.resourceVersion != l.ResourceVersion {
		c.seen[l.Name] = observation{resourceVersion: l.ResourceVersion, at: now}
	}
}

// expired says whether l has not changed for its duration, as this
// replica has seen it.
func (c *Coordinator) expired(l *coordinationv1.Lease, now time.Time) bool {
	c.mu.Lock()
	o, ok := c.seen[l.Name]
	c.mu.Unlock()
	d := c.o.LeaseDuration
	if l.Spec.LeaseDurationSeconds != nil {
		d = time.Duration(*l.Spec.LeaseDurationSeconds) * time.Second
	}
	return ok && now.Sub(o.at) >= d
}

func (c *Coordinator) renewMember(ctx context.Context, l *coordinationv1.Lease, now time.Time) error {
	if l == nil {
		l = c.newLease(c.memberLease(), "member")
		l.Spec.HolderIdentity = ptr.To(c.o.Identity)
		l.Spec.RenewTime = &metav1.MicroTime{Time: now}
		return client.IgnoreAlreadyExists(c.o.Client.Create(ctx, l))
	}
	_, err := c.write(ctx, l, now)
	return err
}

func (c *Coordinator) newLease(name, kind string) *coordinationv1.Lease {
	return &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: c.o.Namespace,
			Labels: map[string]string{groupLabel: c.o.Name, kindLabel: kind}},
		Spec: coordinationv1.LeaseSpec{LeaseDurationSeconds: ptr.To(int32(c.o.LeaseDuration / time.Second))},
	}
}

// write renews l for this replica; the update fails if l changed since it
// was read.
func (c *Coordinator) write(ctx context.Context, l *coordinationv1.Lease, now time.Time) (*coordinationv1.Lease, error) {
	l = l.DeepCopy()
	l.Spec.RenewTime = &metav1.MicroTime{Time: now}
	l.Spec.LeaseDurationSeconds = ptr.To(int32(c.o.LeaseDuration / time.Second))
	if err := c.o.Client.Update(ctx, l); err != nil {
		return nil, err
	}
	c.observe(l, now)
	return l, nil
}

// take acquires shard s if its Lease is missing, free or expired.
func (c *Coordinator) take(ctx context.Context, log logr.Logger, s int, l *coordinationv1.Lease, now time.Time) bool {
	var err error
	switch {
	case l == nil:
		l = c.newLease(c.shardLease(s), "shard")
		l.Spec.HolderIdentity = ptr.To(c.o.Identity)
		l.Spec.AcquireTime = &metav1.MicroTime{Time: now}
		l.Spec.RenewTime = &metav1.MicroTime{Time: now}
		err = c.o.Client.Create(ctx, l)
		if apierrors.IsAlreadyExists(err) {
			return false
		}
		if err == nil {
			c.observe(l, now)
		}
	case ptr.Deref(l.Spec.HolderIdentity, "") == "" || c.expired(l, now):
		l = l.DeepCopy()
		l.Spec.HolderIdentity = ptr.To(c.o.Identity)
		l.Spec.AcquireTime = &metav1.MicroTime{Time: now}
		l.Spec.LeaseTransitions = ptr.To(ptr.Deref(l.Spec.LeaseTransitions, 0) + 1)
		_, err = c.write(ctx, l, now)
		if apierrors.IsConflict(err) {
			return false // another replica was faster
		}
	default:
		return false
	}
	if err != nil {
		log.Error(err, "Taking a shard", "shard", s)
		return false
	}
	c.mu.Lock()
	c.owned[s] = &ownedShard{renewed: now}
	c.mu.Unlock()
	log.Info("Took a shard", "shard", s)
	if c.o.Acquired != nil {
		c.o.Acquired(ctx, s)
	}
	return true
}

// giveUp stops new reconciles of s, waits for those running, and frees its
// Lease so that another replica takes it at once.
func (c *Coordinator) giveUp(ctx context.Context, log logr.Logger, s int, l *coordinationv1.Lease) {
	c.drain(s)
	log.Info("Gave up a shard", "shard", s)
	if l == nil || ptr.Deref(l.Spec.HolderIdentity, "") != c.o.Identity {
		return
	}
	l = l.DeepCopy()
	l.Spec.HolderIdentity = nil
	l.Spec.AcquireTime, l.Spec.RenewTime = nil, nil
	if err := c.o.Client.Update(ctx, l); err != nil {
		// Unrenewed, it expires after LeaseDuration.
		log.Error(err, "Freeing a shard's Lease", "shard", s)
	}
}

// drain marks s as leaving, waits for its reconciles to end and forgets it.
func (c *Coordinator) drain(s int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	o := c.owned[s]
	if o == nil {
		return
	}
	o.leaving = true
	for o.inFlight > 0 {
		c.cond.Wait()
	}
	delete(c.owned, s)
}

func (c *Coordinator) lose(log logr.Logger, s int, why string) {
	c.mu.Lock()
	delete(c.owned, s)
	c.mu.Unlock()
	log.Info("Lost a shard", "shard", s, "why", why)
}

// expireUnrenewed forgets the shards not renewed within RenewDeadline:
// another replica may take them once LeaseDuration has passed.
func (c *Coordinator) expireUnrenewed(log logr.Logger) {
	now := c.o.Clock()
	for _, s := range c.shardsWhere(func(o *ownedShard) bool { return !o.leaving && !c.serving(o, now) }) {
		c.lose(log, s, "not renewed within the renew deadline")
	}
}

func (c *Coordinator) renewed(s int, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if o := c.owned[s]; o != nil {
		o.renewed = now
	}
}

// leases are the Leases of this group, by name.
func (c *Coordinator) leases(ctx context.Context) (map[string]*coordinationv1.Lease, error) {
	list := &coordinationv1.LeaseList{}
	if err := c.o.Client.List(ctx, list, client.InNamespace(c.o.Namespace), client.MatchingLabels{groupLabel: c.o.Name}); err != nil {
		return nil, fmt.Errorf("listing Leases: %w", err)
	}
	leases := make(map[string]*coordinationv1.Lease, len(list.Items))
	for i := range list.Items {
		leases[list.Items[i].Name] = &list.Items[i]
	}
	return leases, nil
}

// stop gives up every shard and deletes the member Lease, so that the
// other replicas take over at once, not after LeaseDuration.
func (c *Coordinator) stop(log logr.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), c.o.RenewDeadline)
	defer cancel()
	leases, err := c.leases(ctx)
	if err != nil {
		// The Leases expire after LeaseDuration.
		log.Error(err, "Freeing the shards at stop")
	}
	for _, s := range c.ownedShards() {
		c.giveUp(ctx, log, s, leases[c.shardLease(s)])
	}
	if l := leases[c.memberLease()]; l != nil {
		_ = client.IgnoreNotFound(c.o.Client.Delete(ctx, l))
	}
}
