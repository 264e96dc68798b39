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
	"fmt"
	"os"
	"path/filepath"
	"sync"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/controller-runtime/pkg/client"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
	"github.com/msvc-dev/msvc-operator/internal/argocd"
)

// kstatusOf is the kstatus status (what Flux, kpt and cli-utils read) that
// each Argo CD health of config/argocd/health.lua means.
var kstatusOf = map[string]status.Status{
	"Healthy":     status.CurrentStatus,
	"Progressing": status.InProgressStatus,
	"Suspended":   status.InProgressStatus,
	"Degraded":    status.FailedStatus,
}

// healthJudge watches every Microservice of an API server and checks each
// version the operator has written a status for: kstatus and the Argo CD
// health check must say the same thing of it, so that Flux and Argo CD read
// the health of a Microservice the same way.
type healthJudge struct {
	mu         sync.Mutex
	checked    int
	violations []string
	stop       chan struct{}
	done       chan struct{}
}

func judgeHealth(cfg *rest.Config) *healthJudge {
	script, err := os.ReadFile(filepath.Join("..", "..", "config", "argocd", "health.lua"))
	Expect(err).NotTo(HaveOccurred())
	wc, err := client.NewWithWatch(cfg, client.Options{Scheme: scheme})
	Expect(err).NotTo(HaveOccurred())
	j := &healthJudge{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer GinkgoRecover()
		defer close(j.done)
		for {
			// A watch the API server ends is started again; versions seen
			// twice are checked twice.
			w, err := wc.Watch(ctx, &msv1.MicroserviceList{})
			if err != nil {
				return
			}
			for open := true; open; {
				select {
				case <-j.stop:
					w.Stop()
					return
				case ev, ok := <-w.ResultChan():
					open = ok
					if ms, isMS := ev.Object.(*msv1.Microservice); ok && isMS && ev.Type != watch.Deleted {
						j.check(string(script), ms)
					}
				}
			}
		}
	}()
	return j
}

func (j *healthJudge) check(script string, ms *msv1.Microservice) {
	// Before the operator's first status write kstatus calls any custom
	// resource Current: there is nothing of ours to judge yet.
	if ms.Status.ObservedGeneration == 0 || !ms.DeletionTimestamp.IsZero() {
		return
	}
	obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(ms)
	Expect(err).NotTo(HaveOccurred())
	res, err := status.Compute(&unstructured.Unstructured{Object: obj})
	Expect(err).NotTo(HaveOccurred())
	h, err := argocd.Evaluate(script, ms)
	Expect(err).NotTo(HaveOccurred())
	j.mu.Lock()
	defer j.mu.Unlock()
	j.checked++
	if want, known := kstatusOf[h.Status]; !known || res.Status != want {
		j.violations = append(j.violations, fmt.Sprintf("%s/%s at resourceVersion %s: kstatus %s (%s), Argo CD %s (%s)",
			ms.Namespace, ms.Name, ms.ResourceVersion, res.Status, res.Message, h.Status, h.Message))
	}
}

// Check stops the judge and fails on any version both did not agree on.
func (j *healthJudge) Check() {
	close(j.stop)
	<-j.done
	j.mu.Lock()
	defer j.mu.Unlock()
	GinkgoWriter.Printf("Microservice versions judged by kstatus and Argo CD health: %d\n", j.checked)
	AddReportEntry("kstatus and Argo CD health", fmt.Sprintf("%d versions judged, %d disagreements", j.checked, len(j.violations)))
	suite, _ := GinkgoConfiguration()
	if len(suite.FocusStrings) == 0 && len(suite.FocusFiles) == 0 {
		Expect(j.checked).To(BeNumerically(">", 100), "the judge saw the suite's Microservices")
	}
	Expect(j.violations).To(BeEmpty())
}
