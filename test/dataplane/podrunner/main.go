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

// Command podrunner gives the local cluster's kwok pods a data plane: for
// every pod of a kwok node (annotated kwok.x-k8s.io/node: fake) that has an
// IP and is not terminating, it runs one test/dataplane/testapp process
// serving on the pod's IP and TCP container ports, with the version of the
// pod's app image. When the pod terminates or goes away, the process gets
// SIGTERM and drains as a real container would, and, as a kubelet would, the
// pod stays in the API with its IP until the process has exited (the
// finalizer podrunner.msvc.dev/process). It is test infrastructure:
// it runs inside the local cluster's network namespace, where every pod IP
// is a local address, or on loopback in tests.
package main

import (
	"context"
	"flag"
	"log"
	"os"
	"os/signal"
	"syscall"

	"k8s.io/client-go/tools/clientcmd"
)

func main() {
	kubeconfig := flag.String("kubeconfig", os.Getenv("KUBECONFIG"), "kubeconfig of the cluster (default $KUBECONFIG)")
	testapp := flag.String("testapp", "testapp", "path of the testapp binary")
	logDir := flag.String("log-dir", "pods", "folder of the processes' logs, one <namespace>_<pod>.log each")
	flag.Parse()
	log.SetFlags(log.LstdFlags | log.Lmicroseconds)

	cfg, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
	if err != nil {
		log.Fatalf("podrunner: %v", err)
	}
	cfg.UserAgent = "msvc-podrunner"
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	r := &Runner{Config: cfg, Testapp: *testapp, LogDir: *logDir}
	if err := r.Run(ctx); err != nil {
		stop()
		log.Fatalf("podrunner: %v", err)
	}
}
