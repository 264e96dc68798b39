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
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
)

// managerLogs receives a copy of everything the suite's managers log (the
// suite's logger writes to it) and keeps it while a spec captures it.
var managerLogs = &logCapture{}

// logCapture keeps what is written to it between Start and Stop.
type logCapture struct {
	mu  sync.Mutex
	buf *bytes.Buffer
}

func (c *logCapture) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.buf != nil {
		c.buf.Write(p)
	}
	return len(p), nil
}

// Start begins keeping what is written.
func (c *logCapture) Start() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.buf = &bytes.Buffer{}
}

// Stop stops keeping what is written and returns what was kept.
func (c *logCapture) Stop() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.buf == nil {
		return ""
	}
	out := c.buf.String()
	c.buf = nil
	return out
}

// secretRequests records every request any of the suite's managers makes to
// Secrets, and every byte the API server answers with (startManager wraps
// their transport with it).
var secretRequests = &secretRecorder{}

// secretRequest is one request to Secrets: what was asked and what came back.
type secretRequest struct {
	Method, URL, Accept, ContentType string
}

type secretRecorder struct {
	mu       sync.Mutex
	requests []secretRequest
	received bytes.Buffer
}

func (s *secretRecorder) wrap(next http.RoundTripper) http.RoundTripper {
	return roundTripperFunc(func(req *http.Request) (*http.Response, error) {
		if !isSecretsPath(req.URL.Path) {
			return next.RoundTrip(req)
		}
		resp, err := next.RoundTrip(req)
		r := secretRequest{Method: req.Method, URL: req.URL.String(), Accept: req.Header.Get("Accept")}
		if resp != nil {
			r.ContentType = resp.Header.Get("Content-Type")
			resp.Body = &recordingBody{ReadCloser: resp.Body, s: s}
		}
		s.mu.Lock()
		s.requests = append(s.requests, r)
		s.mu.Unlock()
		return resp, err
	})
}

// Requests returns a copy of the requests recorded so far.
func (s *secretRecorder) Requests() []secretRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]secretRequest(nil), s.requests...)
}

// Received returns every byte of the responses read so far, watch streams
// included.
func (s *secretRecorder) Received() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.received.String()
}

// recordingBody copies what the client reads of a response into the recorder.
type recordingBody struct {
	io.ReadCloser
	s *secretRecorder
}

func (b *recordingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.s.mu.Lock()
	b.s.received.Write(p[:n])
	b.s.mu.Unlock()
	return n, err
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

// isSecretsPath reports whether path is the core API's secrets collection or
// one Secret, in all namespaces or one.
func isSecretsPath(path string) bool {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	if len(parts) < 3 || parts[0] != "api" {
		return false
	}
	rest := parts[2:]
	if len(rest) >= 2 && rest[0] == "namespaces" {
		rest = rest[2:]
	}
	return len(rest) >= 1 && rest[0] == "secrets"
}

// metadataOnly reports whether a media type (an Accept or Content-Type value)
// is the metadata-only form of an object or a list.
func metadataOnly(mediaType string) bool {
	return strings.Contains(mediaType, "as=PartialObjectMetadata")
}

// randomSentinel is a value no code could produce by chance.
func randomSentinel() string { return "sentinel-" + strings.ToLower(rand.Text()) }

var _ = Describe("Secret values", func() {
	It("never appear in status, events, logs or child objects, and the operator reads only Secret metadata", func() {
		managerLogs.Start()
		DeferCleanup(func() { managerLogs.Stop() })
		ns := newNamespace()
		first, rotated, apiKey := randomSentinel(), randomSentinel(), randomSentinel()
		sec := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: "checkout-db", Namespace: ns},
			Data:       map[string][]byte{"password": []byte(first), "API_KEY": []byte(apiKey)},
		}
		Expect(k8sClient.Create(ctx, sec)).To(Succeed())

		By("creating a Microservice that reads the Secret through valueFrom and envFrom, with a dependency and a canary")
		db := service(ns, "db", 5432)
		Expect(k8sClient.Create(ctx, db)).To(Succeed())
		makeAvailable(db)
		ms := withCanary(withRoute(checkout(ns)), weightStep(20), manualGate())
		ms.Spec.Dependencies = []msv1.Dependency{dep("db")}
		ms.Spec.Env = []corev1.EnvVar{{Name: "DB_PASSWORD", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: sec.Name}, Key: "password"}}}}
		ms.Spec.EnvFrom = []corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: sec.Name}}}}
		Expect(k8sClient.Create(ctx, ms)).To(Succeed())
		getChild(Default, ms, &appsv1.Deployment{})
		playDeploymentController(ms)
		Eventually(rolloutStatus(ms), timeout, interval).Should(HaveField("Phase", msv1.RolloutPhaseIdle))
		stableHash := configHash(key(ms))()
		Expect(stableHash).NotTo(BeEmpty())

		By("rotating the Secret, which rolls the new configuration out as a canary")
		sec.Data["password"] = []byte(rotated)
		Expect(k8sClient.Update(ctx, sec)).To(Succeed())
		Eventually(configHash(canaryKey(ms)), timeout, interval).ShouldNot(Or(Equal(stableHash), BeEmpty()))
		playDeployment(canaryKey(ms))
		Eventually(rolloutStatus(ms), timeout, interval).Should(HaveField("Phase", msv1.RolloutPhasePaused))
		annotate(ms, msv1.PromoteAnnotation, "1")
		Eventually(configHash(key(ms)), timeout, interval).ShouldNot(Equal(stableHash))
		playDeploymentController(ms)
		Eventually(rolloutStatus(ms), timeout, interval).Should(HaveField("Phase", msv1.RolloutPhaseSucceeded))

		// Each value in every form it could leak in: as is, and base64 as
		// the API carries a Secret's data.
		var secrets []string
		for _, v := range []string{first, rotated, apiKey} {
			secrets = append(secrets, v, base64.StdEncoding.EncodeToString([]byte(v)))
		}
		containsNoSecret := func(what, text string) {
			GinkgoHelper()
			for _, s := range secrets {
				Expect(text).NotTo(ContainSubstring(s), "a secret value in %s", what)
			}
		}

		By("finding no value in the Microservice's status")
		live := &msv1.Microservice{}
		Expect(k8sClient.Get(ctx, key(ms), live)).To(Succeed())
		status, err := json.Marshal(live.Status)
		Expect(err).NotTo(HaveOccurred())
		Expect(live.Status.Rollout).NotTo(BeNil())
		Expect(live.Status.Dependencies).NotTo(BeEmpty())
		containsNoSecret("the status", string(status))

		By("finding no value in the namespace's events")
		events := &eventsv1.EventList{}
		Expect(k8sClient.List(ctx, events, client.InNamespace(ns))).To(Succeed())
		Expect(events.Items).NotTo(BeEmpty(), "the rollout records events")
		coreEvents := &corev1.EventList{}
		Expect(k8sClient.List(ctx, coreEvents, client.InNamespace(ns))).To(Succeed())
		all, err := json.Marshal([]any{events.Items, coreEvents.Items})
		Expect(err).NotTo(HaveOccurred())
		containsNoSecret("an event", string(all))

		By("finding references to the Secret in the Deployments, never its values")
		for _, k := range []client.ObjectKey{key(ms), canaryKey(ms)} {
			d := &appsv1.Deployment{}
			Expect(k8sClient.Get(ctx, k, d)).To(Succeed())
			c := d.Spec.Template.Spec.Containers[0]
			Expect(c.Env).To(ContainElement(corev1.EnvVar{Name: "DB_PASSWORD", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
				LocalObjectReference: corev1.LocalObjectReference{Name: sec.Name}, Key: "password"}}}), "Deployment %s", k.Name)
			Expect(c.Env).To(ContainElement(HaveField("Name", "DB_URL")), "Deployment %s has its dependency's address", k.Name)
			Expect(c.EnvFrom).To(Equal(ms.Spec.EnvFrom), "Deployment %s", k.Name)
			data, err := json.Marshal(d)
			Expect(err).NotTo(HaveOccurred())
			containsNoSecret("Deployment "+k.Name, string(data))
		}

		By("finding no value in the manager's logs")
		logs := managerLogs.Stop()
		Expect(logs).To(ContainSubstring(ns), "the logs of this spec were captured")
		containsNoSecret("the manager's logs", logs)

		By("finding only metadata-only reads of Secrets in the manager's requests")
		requests := secretRequests.Requests()
		Expect(requests).NotTo(BeEmpty(), "the manager watches Secrets")
		var watched bool
		for _, r := range requests {
			desc := fmt.Sprintf("%s %s (Accept %q, response %q)", r.Method, r.URL, r.Accept, r.ContentType)
			Expect(r.Method).To(Equal(http.MethodGet), "the manager never writes Secrets: %s", desc)
			Expect(metadataOnly(strings.Split(r.Accept, ",")[0])).To(BeTrue(), "the manager asks for metadata only: %s", desc)
			if strings.Contains(r.URL, "watch=true") {
				// A watch stream's media type does not say what its
				// events hold; what they hold is checked below.
				watched = true
				continue
			}
			Expect(metadataOnly(r.ContentType)).To(BeTrue(), "the API server answered with metadata only: %s", desc)
		}
		Expect(watched).To(BeTrue(), "the manager watches Secrets: %v", requests)
		received := secretRequests.Received()
		Expect(received).To(And(ContainSubstring(ns), ContainSubstring(sec.Name)), "the manager received this Secret's metadata")
		containsNoSecret("what the API server sent the manager about Secrets", received)
	})

	It("are recognised by the request recorder's path and media type checks", func() {
		Expect(isSecretsPath("/api/v1/secrets")).To(BeTrue())
		Expect(isSecretsPath("/api/v1/namespaces/shop/secrets/db")).To(BeTrue())
		Expect(isSecretsPath("/api/v1/namespaces/secrets")).To(BeFalse(), "a namespace named secrets")
		Expect(isSecretsPath("/api/v1/namespaces/shop/configmaps/secrets")).To(BeFalse())
		Expect(isSecretsPath("/apis/example.com/v1/secrets")).To(BeFalse())
		Expect(metadataOnly("application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1")).To(BeTrue())
		Expect(metadataOnly("application/json")).To(BeFalse())
		Expect(randomSentinel()).NotTo(Equal(randomSentinel()))

		rec := &secretRecorder{}
		rt := rec.wrap(roundTripperFunc(func(*http.Request) (*http.Response, error) {
			return &http.Response{StatusCode: http.StatusOK, Header: http.Header{"Content-Type": {"application/json"}},
				Body: io.NopCloser(strings.NewReader(`{"kind":"Secret","data":{"password":"c2VjcmV0"}}`))}, nil
		}))
		req, err := http.NewRequest(http.MethodGet, "https://127.0.0.1/api/v1/namespaces/shop/secrets/db", nil)
		Expect(err).NotTo(HaveOccurred())
		resp, err := rt.RoundTrip(req)
		Expect(err).NotTo(HaveOccurred())
		_, err = io.ReadAll(resp.Body)
		Expect(err).NotTo(HaveOccurred())
		Expect(rec.Requests()).To(ConsistOf(HaveField("ContentType", "application/json")))
		Expect(rec.Received()).To(ContainSubstring("c2VjcmV0"), "a full Secret read would be seen")
	})
})
