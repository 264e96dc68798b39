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
	"errors"
	"io"
	"log"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"
)

// fakeProcess exits when the test says, or at once on SIGKILL.
type fakeProcess struct {
	spec podProcess

	mu      sync.Mutex
	signals []syscall.Signal
	done    chan struct{}
	err     error
}

func (p *fakeProcess) Signal(sig syscall.Signal) error {
	p.mu.Lock()
	p.signals = append(p.signals, sig)
	p.mu.Unlock()
	if sig == syscall.SIGKILL {
		p.exit(errors.New("signal: killed"))
	}
	return nil
}

func (p *fakeProcess) Done() <-chan struct{} { return p.done }
func (p *fakeProcess) Err() error            { return p.err }

func (p *fakeProcess) exit(err error) {
	select {
	case <-p.done:
	default:
		p.err = err
		close(p.done)
	}
}

func (p *fakeProcess) got() []syscall.Signal {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.signals)
}

// fakeLauncher records every start; failing makes them fail.
type fakeLauncher struct {
	started []*fakeProcess
	failing bool
}

func (l *fakeLauncher) launch(p podProcess) (process, error) {
	if l.failing {
		return nil, errors.New("exec: no such file")
	}
	proc := &fakeProcess{spec: p, done: make(chan struct{})}
	l.started = append(l.started, proc)
	return proc, nil
}

func newTestSupervisor() (*supervisor, *fakeLauncher) {
	l := &fakeLauncher{}
	return newSupervisor(l.launch, log.New(io.Discard, "", 0)), l
}

func want(name, ip string) podProcess {
	return podProcess{Namespace: "shop", Name: name, UID: types.UID("uid-" + name), IP: ip,
		Listen: []string{ip + ":8080"}, Version: "v1"}
}

func set(ps ...podProcess) map[types.UID]podProcess {
	m := map[types.UID]podProcess{}
	for _, p := range ps {
		m[p.UID] = p
	}
	return m
}

func TestSupervisorStartsEachDesiredProcessOnce(t *testing.T) {
	s, l := newTestSupervisor()
	now := time.Now()
	desired := set(want("a", "10.0.0.1"), want("b", "10.0.0.2"))
	s.reconcile(desired, now)
	s.reconcile(desired, now.Add(time.Second))
	if len(l.started) != 2 {
		t.Fatalf("%d starts, want 2: a second reconcile of the same set starts nothing", len(l.started))
	}
	if got := s.serving(); !slices.Equal(got, []string{"shop/a", "shop/b"}) {
		t.Errorf("serving %v", got)
	}
}

func TestSupervisorDrainsTheProcessOfAGonePod(t *testing.T) {
	s, l := newTestSupervisor()
	now := time.Now()
	s.reconcile(set(want("a", "10.0.0.1")), now)
	s.reconcile(set(), now)
	a := l.started[0]
	if got := a.got(); !slices.Equal(got, []syscall.Signal{syscall.SIGTERM}) {
		t.Fatalf("signals to the gone pod's process: %v, want SIGTERM only", got)
	}
	if len(s.serving()) != 0 || len(s.draining) != 1 {
		t.Fatalf("serving %v, draining %d; want none serving, one draining", s.serving(), len(s.draining))
	}
	// It drains, exits, and is forgotten, not restarted.
	a.exit(nil)
	s.reconcile(set(), now.Add(time.Second))
	if len(s.draining) != 0 || len(l.started) != 1 {
		t.Errorf("after the drain: %d draining, %d starts; want 0 and 1", len(s.draining), len(l.started))
	}
}

func TestSupervisorKillsADrainingProcessWhoseIPANewPodHas(t *testing.T) {
	s, l := newTestSupervisor()
	now := time.Now()
	s.reconcile(set(want("old", "10.0.0.1"), want("other", "10.0.0.9")), now)
	old, other := l.started[0], l.started[1]
	s.reconcile(set(want("other", "10.0.0.9")), now)
	// A new pod with the old one's IP, while the old process drains.
	s.reconcile(set(want("new", "10.0.0.1"), want("other", "10.0.0.9")), now)
	if got := old.got(); !slices.Equal(got, []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL}) {
		t.Errorf("signals to the old process: %v, want SIGTERM then SIGKILL", got)
	}
	if len(l.started) != 3 || l.started[2].spec.Name != "new" {
		t.Fatalf("starts: %d, want the new pod's third", len(l.started))
	}
	if got := other.got(); len(got) != 0 {
		t.Errorf("signals to another pod's process: %v, want none", got)
	}
	if len(s.draining) != 0 {
		t.Errorf("%d draining after the kill, want 0", len(s.draining))
	}
}

func TestSupervisorRestartsADeadProcessAfterABackoff(t *testing.T) {
	s, l := newTestSupervisor()
	now := time.Now()
	desired := set(want("a", "10.0.0.1"))
	s.reconcile(desired, now)
	l.started[0].exit(errors.New("exit status 1"))

	next := s.reconcile(desired, now.Add(time.Second))
	if next != restartBackoff || len(l.started) != 1 || len(s.serving()) != 0 {
		t.Fatalf("right after the death: next %s, %d starts, serving %v; want a wait of %s, no restart yet",
			next, len(l.started), s.serving(), restartBackoff)
	}
	s.reconcile(desired, now.Add(time.Second+restartBackoff))
	if len(l.started) != 2 {
		t.Fatalf("%d starts after the backoff, want 2", len(l.started))
	}
	// A second death in a row waits twice as long.
	l.started[1].exit(errors.New("exit status 1"))
	if next := s.reconcile(desired, now.Add(2*time.Second)); next != 2*restartBackoff {
		t.Errorf("after a second death in a row: next %s, want %s", next, 2*restartBackoff)
	}
	// A pod gone while its process waits to restart is simply forgotten.
	s.reconcile(set(), now.Add(3*time.Second))
	if len(s.live) != 0 || len(s.draining) != 0 {
		t.Errorf("live %d, draining %d; want nothing left", len(s.live), len(s.draining))
	}
}

func TestSupervisorRetriesAStartThatFailed(t *testing.T) {
	s, l := newTestSupervisor()
	now := time.Now()
	l.failing = true
	desired := set(want("a", "10.0.0.1"))
	if next := s.reconcile(desired, now); next != restartBackoff {
		t.Errorf("after a failed start: next %s, want %s", next, restartBackoff)
	}
	l.failing = false
	s.reconcile(desired, now.Add(restartBackoff))
	if len(l.started) != 1 {
		t.Errorf("%d starts after the retry, want 1", len(l.started))
	}
}

func TestSupervisorReplacesTheProcessOfAChangedPod(t *testing.T) {
	s, l := newTestSupervisor()
	now := time.Now()
	s.reconcile(set(want("a", "10.0.0.1")), now)
	changed := want("a", "10.0.0.1")
	changed.Listen = append(changed.Listen, "10.0.0.1:9090")
	s.reconcile(set(changed), now)
	if len(l.started) != 2 || !slices.Equal(l.started[0].got(), []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL}) {
		t.Errorf("starts %d, signals to the first %v; want it stopped and replaced", len(l.started), l.started[0].got())
	}
}

func TestSupervisorStopAllKillsEveryProcess(t *testing.T) {
	s, l := newTestSupervisor()
	now := time.Now()
	s.reconcile(set(want("a", "10.0.0.1"), want("b", "10.0.0.2")), now)
	s.reconcile(set(want("b", "10.0.0.2")), now)
	s.stopAll()
	for _, p := range l.started {
		if !exited(p) {
			t.Errorf("the process of %s still runs", p.spec.Name)
		}
	}
	if len(s.live) != 0 || len(s.draining) != 0 {
		t.Errorf("live %d, draining %d after stopAll", len(s.live), len(s.draining))
	}
}

func TestBackoff(t *testing.T) {
	for failures, want := range map[int]time.Duration{
		1: restartBackoff, 2: 2 * restartBackoff, 3: 4 * restartBackoff, 10: maxRestartBackoff, 100: maxRestartBackoff,
	} {
		if got := backoff(failures); got != want {
			t.Errorf("backoff(%d) = %s, want %s", failures, got, want)
		}
	}
}
