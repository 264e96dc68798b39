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

// Command kubectl-msvc is the kubectl plugin of the msvc-operator:
//
//	kubectl msvc get NAME [--watch]
//	kubectl msvc plan -f FILE [--offline]
//	kubectl msvc set image NAME IMAGE
//	kubectl msvc undo NAME
//	kubectl msvc promote NAME [--full]
//	kubectl msvc abort|retry|pause|resume NAME
//	kubectl msvc graph [--output dot]
//	kubectl msvc version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"time"

	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mscontroller "github.com/msvc-dev/msvc-operator/internal/controller"
	"github.com/msvc-dev/msvc-operator/internal/kubectlmsvc"
)

// version is set with -ldflags "-X main.version=...".
var version = "dev"

const usage = `Usage: kubectl msvc COMMAND [NAME] [flags]

Commands:
  get NAME [--watch]     the Microservice as a tree: tracks, weights, step, analysis, dependencies
                         (--watch: redrawn on every change the API server reports)
  plan -f FILE           what the operator would write for the Microservices in FILE (- for stdin),
                         and the steps, weights and pods of the rollout it would start, without
                         applying anything (--offline: without reading the cluster)
  set image NAME IMAGE   set spec.image, which starts a rollout (keep a Git-synced image in Git)
  undo NAME              set spec.image back to the previous version's (the stable track's during a
                         canary, else the one the last promotion replaced); other spec changes stay
  promote NAME [--full]  end the current pause (--full: skip the remaining steps)
  abort NAME             move all traffic back to stable and remove the canary
  retry NAME             start an aborted or rolled-back rollout again
  pause NAME             hold the rollout where it is
  resume NAME            let a paused rollout go on
  graph [--output dot]   the namespace's dependency graph, as text or Graphviz DOT
  release get NAME [--watch]
                         the Microservices labelled apps.msvc.dev/release=NAME, dependencies first:
                         each one's state in the release, step, weight, analysis and what it calls
  version                the plugin's version

Flags:
  -n, --namespace NS     namespace (default: the kubeconfig context's)
  --kubeconfig PATH      kubeconfig (default: $KUBECONFIG or ~/.kube/config)
`

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Print(usage)
		return nil
	}
	command, rest := args[0], args[1:]
	if command == "version" {
		fmt.Println("kubectl-msvc", version)
		return nil
	}

	fs := flag.NewFlagSet(command, flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprint(os.Stderr, usage) }
	var namespace, kubeconfig, output, file string
	var watch, full, offline bool
	fs.StringVar(&namespace, "namespace", "", "")
	fs.StringVar(&namespace, "n", "", "")
	fs.StringVar(&kubeconfig, "kubeconfig", "", "")
	fs.StringVar(&output, "output", "text", "")
	fs.StringVar(&output, "o", "text", "")
	fs.BoolVar(&watch, "watch", false, "")
	fs.BoolVar(&watch, "w", false, "")
	fs.BoolVar(&full, "full", false, "")
	fs.BoolVar(&offline, "offline", false, "")
	fs.StringVar(&file, "filename", "", "")
	fs.StringVar(&file, "f", "", "")
	// Flags may come before or after the name.
	var positional []string
	for len(rest) > 0 {
		if err := fs.Parse(rest); err != nil {
			return err
		}
		rest = fs.Args()
		if len(rest) > 0 {
			positional = append(positional, rest[0])
			rest = rest[1:]
		}
	}

	if command == "plan" && offline {
		if namespace == "" {
			namespace = "default"
		}
		return plan(context.Background(), nil, namespace, file, true)
	}

	loading := clientcmd.NewDefaultClientConfigLoadingRules()
	loading.ExplicitPath = kubeconfig
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(loading, &clientcmd.ConfigOverrides{})
	if namespace == "" {
		ns, _, err := cc.Namespace()
		if err != nil {
			return err
		}
		namespace = ns
	}
	cfg, err := cc.ClientConfig()
	if err != nil {
		return err
	}
	scheme, err := mscontroller.NewScheme()
	if err != nil {
		return err
	}
	c, err := client.NewWithWatch(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	p := kubectlmsvc.Printer{Out: os.Stdout, Color: isTerminal(os.Stdout)}

	name := func() (string, error) {
		if len(positional) != 1 {
			return "", fmt.Errorf("%s needs the name of one Microservice", command)
		}
		return positional[0], nil
	}
	switch command {
	case "get":
		n, err := name()
		if err != nil {
			return err
		}
		if watch {
			return kubectlmsvc.WatchChanges(ctx, c, namespace, n, p)
		}
		return kubectlmsvc.Get(ctx, c, namespace, n, p)
	case "promote", "abort", "retry", "pause", "resume":
		n, err := name()
		if err != nil {
			return err
		}
		action := command
		if command == "promote" && full {
			action = "promote-full"
		}
		if err := kubectlmsvc.Control(ctx, c, namespace, n, action, time.Now()); err != nil {
			return err
		}
		fmt.Printf("microservice/%s: %s requested\n", n, action)
		return nil
	case "plan":
		return plan(ctx, c, namespace, file, offline)
	case "set":
		if len(positional) != 3 || positional[0] != "image" {
			return errors.New("usage: kubectl msvc set image NAME IMAGE")
		}
		if err := kubectlmsvc.SetImage(ctx, c, namespace, positional[1], positional[2]); err != nil {
			return err
		}
		fmt.Printf("microservice/%s: image set to %s\n", positional[1], positional[2])
		return nil
	case "undo":
		n, err := name()
		if err != nil {
			return err
		}
		previous, err := kubectlmsvc.Undo(ctx, c, namespace, n)
		if err != nil {
			return err
		}
		fmt.Printf("microservice/%s: image set back to %s\n", n, previous)
		return nil
	case "graph":
		return kubectlmsvc.Graph(ctx, c, namespace, output == "dot", os.Stdout)
	case "release":
		if len(positional) != 2 || positional[0] != "get" {
			return errors.New("usage: kubectl msvc release get NAME [--watch]")
		}
		if watch {
			return kubectlmsvc.WatchRelease(ctx, c, namespace, positional[1], p)
		}
		return kubectlmsvc.ReleaseGet(ctx, c, namespace, positional[1], p)
	}
	return fmt.Errorf("unknown command %q (see kubectl msvc --help)", command)
}

// plan prints kubectlmsvc.Plan for each Microservice of file, compared with
// the cluster unless offline.
func plan(ctx context.Context, c client.Client, namespace, file string, offline bool) error {
	if file == "" {
		return errors.New("plan needs -f FILE (or -f - for stdin)")
	}
	in := os.Stdin
	if file != "-" {
		f, err := os.Open(file)
		if err != nil {
			return err
		}
		defer func() { _ = f.Close() }() // opened for reading: closing loses nothing
		in = f
	}
	list, err := kubectlmsvc.ReadMicroservices(in, namespace)
	if err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	if len(list) == 0 {
		return fmt.Errorf("%s holds no %s Microservice", file, "apps.msvc.dev/v1alpha1")
	}
	for i, ms := range list {
		if i > 0 {
			fmt.Println()
		}
		var live *kubectlmsvc.Live
		if !offline {
			if live, err = kubectlmsvc.LiveOf(ctx, c, ms); err != nil {
				return fmt.Errorf("%w (use --offline to plan without the cluster)", err)
			}
		}
		if err := kubectlmsvc.Plan(ms, live, os.Stdout); err != nil {
			return err
		}
	}
	return nil
}

func isTerminal(f *os.File) bool {
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0 && os.Getenv("NO_COLOR") == ""
}
