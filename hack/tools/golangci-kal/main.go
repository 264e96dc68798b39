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

// Command golangci-kal is golangci-lint with kube-api-linter compiled in as
// the module plugin "kubeapilinter". It is what `golangci-lint custom` would
// generate, built with `go build` from pinned modules instead of a git clone,
// so the Makefile can build it with nothing but the Go module proxy.
package main

import (
	"fmt"
	"os"
	"runtime/debug"
	"strings"

	"github.com/golangci/golangci-lint/v2/pkg/commands"
	"github.com/golangci/golangci-lint/v2/pkg/exitcodes"

	// Registers the "kubeapilinter" module plugin with every analyzer of
	// kube-api-linter; .golangci.yml chooses which of them run.
	_ "sigs.k8s.io/kube-api-linter"
)

const (
	golangciModule      = "github.com/golangci/golangci-lint/v2"
	kubeAPILinterModule = "sigs.k8s.io/kube-api-linter"
)

func main() {
	if err := commands.Execute(buildInfo()); err != nil {
		fmt.Fprintf(os.Stderr, "golangci-lint: %v\n", err)
		os.Exit(exitcodes.Failure)
	}
}

// buildInfo reports the versions of golangci-lint and kube-api-linter this
// binary was built from, as go.mod pins them: the main module here is this
// wrapper, whose own version says nothing.
func buildInfo() commands.BuildInfo {
	info := commands.BuildInfo{Version: "unknown", Commit: "?", Date: "(unknown)", GoVersion: "unknown"}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return info
	}
	info.GoVersion = bi.GoVersion
	for _, dep := range bi.Deps {
		switch dep.Path {
		case golangciModule:
			info.Version = strings.TrimPrefix(dep.Version, "v")
		case kubeAPILinterModule:
			info.Commit = "kube-api-linter " + dep.Version
		}
	}
	return info
}
