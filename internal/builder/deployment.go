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

package builder

import (
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	appsv1ac "k8s.io/client-go/applyconfigurations/apps/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	"k8s.io/utils/ptr"

	msv1 "github.com/msvc-dev/msvc-operator/api/v1alpha1"
)

// DeploymentName is the name of the stable Deployment of ms.
func DeploymentName(ms *msv1.Microservice) string { return ms.Name }

// AnnotationHeld on the stable Deployment marks a new service held at zero
// replicas until its required dependencies are available.
const AnnotationHeld = "apps.msvc.dev/held-for-dependencies"

// ReplicasDecision says how the Deployment's spec.replicas is set.
type ReplicasDecision struct {
	// Held is true while a new service waits for its dependencies at zero replicas.
	Held bool
	// Replicas is the value to apply; nil leaves the field to the autoscaler.
	Replicas *int32
	// Owner is the value of AnnotationReplicasOwner.
	Owner string
}

// DecideReplicas decides spec.replicas of the Deployment. Without autoscaling
// the operator owns the field and sets spec.replicas (default 1). With
// autoscaling the field belongs to the HorizontalPodAutoscaler and the
// operator leaves it out of its apply, so it never fights the autoscaler.
func DecideReplicas(ms *msv1.Microservice, held bool) ReplicasDecision {
	if held {
		return ReplicasDecision{Replicas: ptr.To[int32](0), Owner: ReplicasOwnerOperator, Held: true}
	}
	if ms.Spec.Autoscaling != nil {
		return ReplicasDecision{Owner: ReplicasOwnerAutoscaler}
	}
	return ReplicasDecision{Replicas: ptr.To(ptr.Deref(ms.Spec.Replicas, 1)), Owner: ReplicasOwnerOperator}
}

// NeedsReplicasHandoff reports whether spec.replicas of the live Deployment is
// still owned by the operator although the autoscaler should own it now. Server-side
// apply removes a field that its only owner stops applying, and the API server
// would then default spec.replicas to 1; to keep the current pods, the value is
// first handed to a separate field manager (see ReplicasHandoff).
func NeedsReplicasHandoff(decision ReplicasDecision, live *appsv1.Deployment) bool {
	if live == nil || decision.Owner != ReplicasOwnerAutoscaler {
		return false
	}
	return live.Annotations[AnnotationReplicasOwner] != ReplicasOwnerAutoscaler
}

// ReplicasHandoff is the apply configuration, for the hand-off field manager,
// that keeps spec.replicas of the live Deployment at its current value while
// the operator's own field manager stops setting it. The autoscaler takes the
// field over from there.
func ReplicasHandoff(ms *msv1.Microservice, live *appsv1.Deployment) *appsv1ac.DeploymentApplyConfiguration {
	replicas := ptr.Deref(live.Spec.Replicas, 1)
	if a := ms.Spec.Autoscaling; a != nil {
		replicas = max(replicas, ptr.Deref(a.MinReplicas, 1))
		replicas = min(replicas, a.MaxReplicas)
	}
	return appsv1ac.Deployment(DeploymentName(ms), ms.Namespace).
		WithSpec(appsv1ac.DeploymentSpec().WithReplicas(replicas))
}

// PodInputs is what the pod template needs beyond the spec.
type PodInputs struct {
	// ConfigHash identifies the versions of the ConfigMaps and Secrets the pods read.
	ConfigHash string
	// DependencyEnv carries the addresses of the dependencies; a variable of
	// the same name in spec.env wins.
	DependencyEnv []corev1.EnvVar
}

// Deployment is the desired stable Deployment of ms, running the spec's pod template.
func Deployment(ms *msv1.Microservice, replicas ReplicasDecision, in PodInputs) *appsv1ac.DeploymentApplyConfiguration {
	annotations := map[string]string{AnnotationReplicasOwner: replicas.Owner, AnnotationRevision: Revision(ms, in)}
	if replicas.Held {
		annotations[AnnotationHeld] = "true"
	}
	return trackDeployment(ms, DeploymentName(ms), TrackStable, replicas.Replicas, in).
		WithAnnotations(annotations)
}

// PodTemplate is the pod template of ms's workload: the service's container
// first, then spec.pod (see podOptions). labels are the operator's labels of
// the pods; they win over spec.pod.labels, and their apps.msvc.dev/microservice
// and apps.msvc.dev/track select the pods of a topology spread constraint
// that names none.
func PodTemplate(ms *msv1.Microservice, labels map[string]string, in PodInputs) *corev1ac.PodTemplateSpecApplyConfiguration {
	pod := corev1ac.PodSpec().
		WithContainers(Container(ms, in.DependencyEnv)).
		WithSecurityContext(podSecurityContext(ms))
	if ms.Spec.ServiceAccountName != "" {
		pod.WithServiceAccountName(ms.Spec.ServiceAccountName)
	}
	podOptions(pod, ms, trackSelector(labels))
	tmpl := corev1ac.PodTemplateSpec().
		WithLabels(podLabels(ms, labels)).
		WithSpec(pod)
	if a := podAnnotations(ms, in); len(a) > 0 {
		tmpl.WithAnnotations(a)
	}
	return tmpl
}

// Container is the service's container, with the dependencies' addresses
// after the spec's own env (a variable of the same name in spec.env wins, and
// of two dependencies whose variables share a name, the first). No name is
// set twice: server-side apply refuses duplicate keys in the env list.
func Container(ms *msv1.Microservice, dependencyEnv []corev1.EnvVar) *corev1ac.ContainerApplyConfiguration {
	s := ms.Spec
	c := corev1ac.Container().
		WithName(DefaultContainerName).
		WithImage(s.Image).
		WithSecurityContext(containerSecurityContext(s.SecurityContext, s.PodSecurityContext))
	if s.ImagePullPolicy != "" {
		c.WithImagePullPolicy(s.ImagePullPolicy)
	}
	if len(s.Command) > 0 {
		c.WithCommand(s.Command...)
	}
	if len(s.Args) > 0 {
		c.WithArgs(s.Args...)
	}
	if s.WorkingDir != "" {
		c.WithWorkingDir(s.WorkingDir)
	}
	for _, p := range s.Ports {
		c.WithPorts(corev1ac.ContainerPort().
			WithName(p.Name).
			WithContainerPort(containerPort(p)).
			WithProtocol(Protocol(p)))
	}
	own := map[string]bool{}
	for i := range s.Env {
		own[s.Env[i].Name] = true
		c.WithEnv(envVar(&s.Env[i]))
	}
	for i := range dependencyEnv {
		if !own[dependencyEnv[i].Name] {
			own[dependencyEnv[i].Name] = true
			c.WithEnv(envVar(&dependencyEnv[i]))
		}
	}
	for i := range s.EnvFrom {
		c.WithEnvFrom(envFromSource(&s.EnvFrom[i]))
	}
	if s.Resources != nil {
		c.WithResources(resources(s.Resources))
	}
	if s.Probes != nil {
		if s.Probes.Readiness != nil {
			c.WithReadinessProbe(probe(s.Probes.Readiness))
		}
		if s.Probes.Liveness != nil {
			c.WithLivenessProbe(probe(s.Probes.Liveness))
		}
		if s.Probes.Startup != nil {
			c.WithStartupProbe(probe(s.Probes.Startup))
		}
	}
	for i := range s.VolumeMounts {
		c.WithVolumeMounts(convert[corev1ac.VolumeMountApplyConfiguration](&s.VolumeMounts[i]))
	}
	if s.Lifecycle != nil {
		c.WithLifecycle(convert[corev1ac.LifecycleApplyConfiguration](s.Lifecycle))
	}
	return c
}

func containerPort(p msv1.ServicePort) int32 {
	if p.TargetPort != nil {
		return *p.TargetPort
	}
	return p.Port
}

// Protocol is the protocol of a port, TCP unless set.
func Protocol(p msv1.ServicePort) corev1.Protocol {
	if p.Protocol == "" {
		return corev1.ProtocolTCP
	}
	return p.Protocol
}

// podSecurityContext is the user's pod security context with every field the
// user leaves unset that the restricted Pod Security Standard needs set to its
// restricted value: the pod runs as non-root, unless the user asks for user 0,
// with the RuntimeDefault seccomp profile.
func podSecurityContext(ms *msv1.Microservice) *corev1ac.PodSecurityContextApplyConfiguration {
	sc := corev1ac.PodSecurityContext()
	if user := ms.Spec.PodSecurityContext; user != nil {
		sc = convert[corev1ac.PodSecurityContextApplyConfiguration](user)
	}
	if sc.RunAsNonRoot == nil && !isRoot(sc.RunAsUser) {
		sc.WithRunAsNonRoot(true)
	}
	if sc.SeccompProfile == nil {
		sc.WithSeccompProfile(runtimeDefaultSeccomp())
	}
	return sc
}

// containerSecurityContext is a container's own security context (user) with
// every field it leaves unset set to its restricted value: no privilege
// escalation, a read-only root filesystem, all capabilities dropped, non-root
// and the RuntimeDefault seccomp profile. Relaxing one of them relaxes only
// that one, on that container. The user and seccomp profile the user sets for
// the pod (pod, spec.podSecurityContext) govern every container, which then
// does not repeat them. It is the same for the service's container, the init
// containers and the sidecars.
func containerSecurityContext(user *corev1.SecurityContext, pod *corev1.PodSecurityContext) *corev1ac.SecurityContextApplyConfiguration {
	sc := corev1ac.SecurityContext()
	if user != nil {
		sc = convert[corev1ac.SecurityContextApplyConfiguration](user)
	}
	// The API server refuses allowPrivilegeEscalation=false together with
	// privileged or CAP_SYS_ADMIN, which both imply it.
	if sc.AllowPrivilegeEscalation == nil && !ptr.Deref(sc.Privileged, false) && !addsSysAdmin(user) {
		sc.WithAllowPrivilegeEscalation(false)
	}
	if sc.ReadOnlyRootFilesystem == nil {
		sc.WithReadOnlyRootFilesystem(true)
	}
	if sc.RunAsNonRoot == nil && !isRoot(sc.RunAsUser) && (pod == nil || pod.RunAsNonRoot == nil && !isRoot(pod.RunAsUser)) {
		sc.WithRunAsNonRoot(true)
	}
	// An explicit drop list, even an empty one, is the user's; only a
	// missing one drops everything.
	if user == nil || user.Capabilities == nil || user.Capabilities.Drop == nil {
		if sc.Capabilities == nil {
			sc.WithCapabilities(corev1ac.Capabilities())
		}
		sc.Capabilities.WithDrop("ALL")
	}
	if sc.SeccompProfile == nil && (pod == nil || pod.SeccompProfile == nil) {
		sc.WithSeccompProfile(runtimeDefaultSeccomp())
	}
	return sc
}

func runtimeDefaultSeccomp() *corev1ac.SeccompProfileApplyConfiguration {
	return corev1ac.SeccompProfile().WithType(corev1.SeccompProfileTypeRuntimeDefault)
}

// isRoot reports whether a runAsUser asks for root.
func isRoot(uid *int64) bool { return uid != nil && *uid == 0 }

// addsSysAdmin reports whether a security context adds CAP_SYS_ADMIN.
func addsSysAdmin(sc *corev1.SecurityContext) bool {
	if sc == nil || sc.Capabilities == nil {
		return false
	}
	for _, c := range sc.Capabilities.Add {
		if c == "SYS_ADMIN" || c == "CAP_SYS_ADMIN" {
			return true
		}
	}
	return false
}

func envVar(e *corev1.EnvVar) *corev1ac.EnvVarApplyConfiguration {
	return convert[corev1ac.EnvVarApplyConfiguration](e)
}

func envFromSource(e *corev1.EnvFromSource) *corev1ac.EnvFromSourceApplyConfiguration {
	return convert[corev1ac.EnvFromSourceApplyConfiguration](e)
}

func resources(r *corev1.ResourceRequirements) *corev1ac.ResourceRequirementsApplyConfiguration {
	return convert[corev1ac.ResourceRequirementsApplyConfiguration](r)
}

func probe(p *corev1.Probe) *corev1ac.ProbeApplyConfiguration {
	return convert[corev1ac.ProbeApplyConfiguration](p)
}
