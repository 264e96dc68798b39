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
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
)

// createClusterRoleFromFile creates the ClusterRole of a file of config/rbac
// and deletes it when the spec ends.
func createClusterRoleFromFile(c client.Client, file string) *rbacv1.ClusterRole {
	data, err := os.ReadFile(filepath.Join("..", "..", "config", "rbac", file))
	Expect(err).NotTo(HaveOccurred())
	role := &rbacv1.ClusterRole{}
	Expect(yaml.Unmarshal(data, role)).To(Succeed())
	Expect(c.Create(ctx, role)).To(Succeed())
	DeferCleanup(func() { Expect(client.IgnoreNotFound(c.Delete(ctx, role))).To(Succeed()) })
	return role
}

// bindClusterRole binds a ClusterRole to a subject and unbinds it when the spec ends.
func bindClusterRole(c client.Client, role string, subject rbacv1.Subject) {
	b := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{GenerateName: role + "-"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role},
		Subjects:   []rbacv1.Subject{subject},
	}
	Expect(c.Create(ctx, b)).To(Succeed())
	DeferCleanup(func() { Expect(client.IgnoreNotFound(c.Delete(ctx, b))).To(Succeed()) })
}

// freeAddress is a local address nothing listens on.
func freeAddress() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	Expect(err).NotTo(HaveOccurred())
	addr := l.Addr().String()
	Expect(l.Close()).To(Succeed())
	return addr
}

var _ = Describe("The metrics endpoint", func() {
	It("answers only clients the API server authenticates and authorises to read /metrics", func() {
		admin, err := client.New(env.cfg, client.Options{Scheme: scheme})
		Expect(err).NotTo(HaveOccurred())
		clientset, err := kubernetes.NewForConfig(env.cfg)
		Expect(err).NotTo(HaveOccurred())
		ns := newNamespace()

		By("running a manager with the metrics options of cmd/main.go, as a user holding only the metrics-auth role")
		authRole := createClusterRoleFromFile(admin, "metrics_auth_role.yaml")
		const managerUser = "msvc-operator-metrics"
		bindClusterRole(admin, authRole.Name, rbacv1.Subject{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: managerUser})
		managerIdentity, err := env.testEnv.AddUser(envtest.User{Name: managerUser}, nil)
		Expect(err).NotTo(HaveOccurred())
		addr := freeAddress()
		mgr, err := ctrl.NewManager(managerIdentity.Config(), ctrl.Options{
			Scheme:  scheme,
			Metrics: MetricsOptions(addr, true, false),
		})
		Expect(err).NotTo(HaveOccurred())
		mgrCtx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() {
			defer GinkgoRecover()
			defer close(done)
			Expect(mgr.Start(mgrCtx)).To(Succeed())
		}()
		DeferCleanup(func() { stop(); <-done })

		// A series of the operator's own metrics, to find in the body.
		probe := &msv1.Microservice{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "metrics-auth"}}
		observeRolloutMetrics(probe, []string{"RolloutStarted"}, ptr.To[int32](10))
		DeferCleanup(func() { forgetRolloutMetrics(ns, probe.Name) })

		httpClient := &http.Client{
			Timeout: 10 * time.Second,
			Transport: &http.Transport{
				// The server's certificate is self-signed; what is under test
				// is who it lets in, not who it is. The client offers
				// HTTP/2, which the server must decline.
				TLSClientConfig:   &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // test client
				ForceAttemptHTTP2: true,
			},
		}
		type answer struct {
			code        int
			proto, body string
		}
		get := func(token string) (answer, error) {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+addr+"/metrics", nil)
			if err != nil {
				return answer{}, err
			}
			if token != "" {
				req.Header.Set("Authorization", "Bearer "+token)
			}
			resp, err := httpClient.Do(req)
			if err != nil {
				return answer{}, err
			}
			defer func() { _ = resp.Body.Close() }()
			body, err := io.ReadAll(resp.Body)
			return answer{code: resp.StatusCode, proto: resp.Proto, body: string(body)}, err
		}
		tokenFor := func(sa string) string {
			Expect(admin.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: sa}})).To(Succeed())
			tr, err := clientset.CoreV1().ServiceAccounts(ns).CreateToken(ctx, sa, &authenticationv1.TokenRequest{
				Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](600)},
			}, metav1.CreateOptions{})
			Expect(err).NotTo(HaveOccurred())
			Expect(tr.Status.Token).NotTo(BeEmpty())
			return tr.Status.Token
		}

		By("refusing a client without a token: 401")
		Eventually(func() (int, error) { a, err := get(""); return a.code, err }, timeout, interval).Should(Equal(http.StatusUnauthorized))
		a, err := get("")
		Expect(err).NotTo(HaveOccurred())
		Expect(a.proto).To(Equal("HTTP/1.1"), "HTTP/2 is off by default")
		Expect(a.body).NotTo(ContainSubstring("msvc_"))

		By("refusing a token the API server does not know")
		a, err = get("not-a-token")
		Expect(err).NotTo(HaveOccurred())
		Expect(a.code).To(Equal(http.StatusUnauthorized))
		Expect(a.body).NotTo(ContainSubstring("msvc_"))

		By("refusing a ServiceAccount without the metrics-reader role: 403")
		a, err = get(tokenFor("stranger"))
		Expect(err).NotTo(HaveOccurred())
		Expect(a.code).To(Equal(http.StatusForbidden))
		Expect(a.body).NotTo(ContainSubstring("msvc_"))

		By("serving a ServiceAccount bound to the metrics-reader role: 200 and the operator's metrics")
		readerRole := createClusterRoleFromFile(admin, "metrics_reader_role.yaml")
		scraper := tokenFor("scraper")
		bindClusterRole(admin, readerRole.Name, rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Namespace: ns, Name: "scraper"})
		// The endpoint remembers a refusal for 30 seconds: ask only once
		// the API server's authorizer has seen the binding.
		Eventually(func() (bool, error) {
			sar, err := clientset.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authorizationv1.SubjectAccessReview{
				Spec: authorizationv1.SubjectAccessReviewSpec{
					User:                  "system:serviceaccount:" + ns + ":scraper",
					NonResourceAttributes: &authorizationv1.NonResourceAttributes{Path: "/metrics", Verb: "get"},
				},
			}, metav1.CreateOptions{})
			return sar.Status.Allowed, err
		}, timeout, interval).Should(BeTrue())
		a, err = get(scraper)
		Expect(err).NotTo(HaveOccurred())
		Expect(a.code).To(Equal(http.StatusOK))
		Expect(a.body).To(ContainSubstring(fmt.Sprintf(`msvc_canary_weight_percent{microservice="metrics-auth",namespace=%q} 10`, ns)))
		Expect(a.body).To(ContainSubstring("# TYPE msvc_rollouts_total counter"))
	})
})
