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
	"crypto/tls"

	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/msvc-dev/msvc-operator/internal/metricsauth"
)

// MetricsOptions configures the manager's metrics endpoint on bindAddr ("0"
// disables it). When secure, it serves HTTPS and answers only clients that the
// API server authenticates (a TokenReview) and authorises to GET /metrics (a
// SubjectAccessReview): the manager needs config/rbac/metrics_auth_role.yaml
// for that, and a scraper config/rbac/metrics_reader_role.yaml. HTTP/2 is off
// unless http2 is set, against the HTTP/2 rapid reset and stream cancellation
// CVEs.
func MetricsOptions(bindAddr string, secure, http2 bool) metricsserver.Options {
	var tlsOpts []func(*tls.Config)
	if !http2 {
		tlsOpts = append(tlsOpts, func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} })
	}
	opts := metricsserver.Options{BindAddress: bindAddr, SecureServing: secure, TLSOpts: tlsOpts}
	if secure {
		opts.FilterProvider = metricsauth.Provider
	}
	return opts
}
