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
	"log"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"k8s.io/apimachinery/pkg/types"
)

const (
	// restartBackoff is the wait before restarting a process that died,
	// doubled at each death in a row up to maxRestartBackoff.
	restartBackoff    = 250 * time.Millisecond
	maxRestartBackoff = 8 * time.Second
	// healthyRun is how long a process must have run for its next death
	// to count as the first in a row.
	healthyRun = 10 * time.Second
	// killWait bounds the wait for a process that was sent SIGKILL.
	killWait = 3 * time.Second
)

// process is one running testapp, as a process group.
type process interface {
	// Signal sends sig to the process group.
	Signal(sig syscall.Signal) error
	// Done is closed when the process has exited.
	Done() <-chan struct{}
	// Err is how the process exited, once Done is closed.
	Err() error
}

// launcher starts the process of a pod.
type launcher func(p podProcess) (process, error)

// entry is the supervisor's record of one pod's process.
type entry struct {
	want      podProcess
	proc      process // nil while waiting to restart
	startedAt time.Time
	failures  int       // deaths in a row
	retryAt   time.Time // when proc is nil: when to start again
}

// supervisor keeps the running processes equal to the desired ones. It
// holds no opinion of its own about what should run: reconcile is given the
// whole desired set each time and corrects whatever differs, so a missed
// event is made up for by the next one.
type supervisor struct {
	launch launcher
	log    *log.Logger

	mu sync.Mutex
	// live holds the processes of desired pods, by pod UID.
	live map[types.UID]*entry
	// draining holds the processes sent SIGTERM, until they exit.
	draining []*entry
}

func newSupervisor(launch launcher, logger *log.Logger) *supervisor {
	return &supervisor{launch: launch, log: logger, live: map[types.UID]*entry{}}
}

// reconcile moves the running set towards desired and returns when it
// should be called again to restart a process that died (0 for never).
// In order: it reaps the processes that exited, stops those of pods no
// longer desired, then starts the missing ones, killing first any draining
// process that holds the same IP.
func (s *supervisor) reconcile(desired map[types.UID]podProcess, now time.Time) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()

	s.draining = slices.DeleteFunc(s.draining, func(e *entry) bool {
		if exited(e.proc) {
			s.log.Printf("stopped %s (%v)", e.want.key(), exitText(e.proc.Err()))
			return true
		}
		return false
	})
	for _, e := range s.live {
		if e.proc == nil || !exited(e.proc) {
			continue
		}
		if now.Sub(e.startedAt) >= healthyRun {
			e.failures = 0
		}
		e.failures++
		e.retryAt = now.Add(backoff(e.failures))
		s.log.Printf("process of %s exited unexpectedly (%v); restarting in %s",
			e.want.key(), exitText(e.proc.Err()), backoff(e.failures))
		e.proc = nil
	}

	for uid, e := range s.live {
		if want, ok := desired[uid]; ok && want.equal(e.want) {
			continue
		}
		delete(s.live, uid)
		if e.proc == nil {
			continue
		}
		s.log.Printf("stopping %s on %s: its pod is terminating or gone", e.want.key(), e.want.IP)
		if err := e.proc.Signal(syscall.SIGTERM); err != nil {
			s.log.Printf("SIGTERM to %s: %v", e.want.key(), err)
		}
		s.draining = append(s.draining, e)
	}

	var next time.Duration
	for _, uid := range sortedUIDs(desired) {
		want := desired[uid]
		e := s.live[uid]
		if e == nil {
			e = &entry{want: want}
			s.live[uid] = e
		}
		if e.proc != nil {
			continue
		}
		if wait := e.retryAt.Sub(now); wait > 0 {
			if next == 0 || wait < next {
				next = wait
			}
			continue
		}
		s.killDraining(want.IP)
		proc, err := s.launch(want)
		if err != nil {
			e.failures++
			e.retryAt = now.Add(backoff(e.failures))
			s.log.Printf("cannot start the process of %s: %v; retrying in %s", want.key(), err, backoff(e.failures))
			if wait := backoff(e.failures); next == 0 || wait < next {
				next = wait
			}
			continue
		}
		e.proc, e.startedAt = proc, now
		s.log.Printf("serving %s on %s version %s", want.key(), strings.Join(want.Listen, ","), want.Version)
	}
	return next
}

// killDraining kills, and waits for, every draining process on ip: a new
// pod has been given the address.
func (s *supervisor) killDraining(ip string) {
	s.draining = slices.DeleteFunc(s.draining, func(e *entry) bool {
		if e.want.IP != ip {
			return false
		}
		s.log.Printf("killing %s, still draining on %s, which a new pod now has", e.want.key(), ip)
		kill(e)
		return true
	})
}

// stopAll kills every process and waits for them.
func (s *supervisor) stopAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for uid, e := range s.live {
		if e.proc != nil {
			kill(e)
		}
		delete(s.live, uid)
	}
	for _, e := range s.draining {
		kill(e)
	}
	s.draining = nil
}

// hasProcess reports whether the pod uid has a process that has not been
// seen to exit: serving, or draining after SIGTERM.
func (s *supervisor) hasProcess(uid types.UID) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.live[uid]; e != nil && e.proc != nil && !exited(e.proc) {
		return true
	}
	for _, e := range s.draining {
		if e.want.UID == uid && !exited(e.proc) {
			return true
		}
	}
	return false
}

// serving lists the pods whose process runs, as namespace/name.
func (s *supervisor) serving() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var keys []string
	for _, e := range s.live {
		if e.proc != nil && !exited(e.proc) {
			keys = append(keys, e.want.key())
		}
	}
	slices.Sort(keys)
	return keys
}

func kill(e *entry) {
	_ = e.proc.Signal(syscall.SIGKILL)
	select {
	case <-e.proc.Done():
	case <-time.After(killWait):
	}
}

func exited(p process) bool {
	select {
	case <-p.Done():
		return true
	default:
		return false
	}
}

func exitText(err error) string {
	if err == nil {
		return "exit 0"
	}
	return err.Error()
}

func backoff(failures int) time.Duration {
	d := restartBackoff
	for i := 1; i < failures && d < maxRestartBackoff; i++ {
		d *= 2
	}
	return min(d, maxRestartBackoff)
}

// sortedUIDs orders the starts, so that logs read the same run to run.
func sortedUIDs(desired map[types.UID]podProcess) []types.UID {
	uids := make([]types.UID, 0, len(desired))
	for uid := range desired {
		uids = append(uids, uid)
	}
	slices.SortFunc(uids, func(a, b types.UID) int { return strings.Compare(desired[a].key(), desired[b].key()) })
	return uids
}
