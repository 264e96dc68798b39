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
	"context"
	"encoding/json"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
)

// podFinalizer keeps a pod whose process runs in the API until the process
// has exited, as a kubelet keeps a terminating pod until its containers have
// stopped. Without it kwok deletes a terminating pod at once and gives its IP
// to the next pod it starts: the old process, still draining, had to be
// killed to free the address, and the requests it was serving failed.
const podFinalizer = "podrunner.msvc.dev/process"

// finalizerChange is one pod whose finalizers must change.
type finalizerChange struct {
	pod *corev1.Pod
	// add is true to add podFinalizer, false to remove it.
	add bool
}

// finalizerChanges lists the pods to hold and to release: a pod that should
// have a process gets podFinalizer; a pod that has it, should no longer
// have a process (terminating, finished, moved off its IP) and has none
// left running or draining loses it.
func finalizerChanges(pods []*corev1.Pod, desired map[types.UID]podProcess, hasProcess func(types.UID) bool) []finalizerChange {
	var changes []finalizerChange
	for _, pod := range pods {
		held := slices.Contains(pod.Finalizers, podFinalizer)
		_, wanted := desired[pod.UID]
		switch {
		case wanted && !held:
			changes = append(changes, finalizerChange{pod: pod, add: true})
		case held && !wanted && !hasProcess(pod.UID):
			changes = append(changes, finalizerChange{pod: pod, add: false})
		}
	}
	return changes
}

// patch is the strategic merge patch that makes the change. Finalizers
// merge as a set there, so it adds or removes podFinalizer alone: it needs
// no resourceVersion, so kwok's status writes, which follow a pod's start
// closely, cannot make it conflict and leave the pod unheld for a retry.
func (c finalizerChange) patch() ([]byte, error) {
	list := "finalizers"
	if !c.add {
		list = "$deleteFromPrimitiveList/finalizers"
	}
	return json.Marshal(map[string]any{"metadata": map[string]any{list: []string{podFinalizer}}})
}

// applyFinalizerChanges makes the changes and returns how many it could
// not make, for the next reconcile to try again; a pod that is gone needs
// none.
func applyFinalizerChanges(ctx context.Context, clients kubernetes.Interface, changes []finalizerChange) (failed int, err error) {
	for _, c := range changes {
		data, perr := c.patch()
		if perr != nil {
			return failed + 1, perr
		}
		_, perr = clients.CoreV1().Pods(c.pod.Namespace).Patch(ctx, c.pod.Name, types.StrategicMergePatchType, data, metav1.PatchOptions{})
		switch {
		case perr == nil, apierrors.IsNotFound(perr):
		default:
			failed++
			err = fmt.Errorf("pod %s/%s: %w", c.pod.Namespace, c.pod.Name, perr)
		}
	}
	return failed, err
}
