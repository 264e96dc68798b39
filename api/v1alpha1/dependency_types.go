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

package v1alpha1

// Dependency is another Microservice this one calls.
// +kubebuilder:validation:XValidation:rule="!has(self.env) || !has(self.env.short) || !self.env.short || !has(self.__namespace__)",message="spec.dependencies[].env.short gives the bare Service name, which resolves only in this Microservice's own namespace: leave namespace out for a dependency of this namespace, or drop short for one in another"
type Dependency struct {
	// name is the name of the Microservice this one calls.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=56
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-z]([-a-z0-9]*[a-z0-9])?$')",message="spec.dependencies[].name must be a Microservice name: lower case letters, digits and '-', starting with a letter"
	// +required
	Name string `json:"name"`

	// namespace is the namespace of that Microservice. Defaults to this
	// Microservice's namespace.
	// A dependency in another namespace admits this one through its network
	// policy only if its spec.networkPolicy.allowedNamespaces lists this namespace.
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	// +optional
	Namespace string `json:"namespace,omitempty"`

	// port is the name of the dependency's port to call. Defaults to its first port.
	// +kubebuilder:validation:MaxLength=15
	// +optional
	Port string `json:"port,omitempty"`

	// optional marks a dependency that never holds this service back: it
	// starts and rolls out whatever the dependency's state, and gets its
	// address once it exists.
	// +optional
	Optional bool `json:"optional,omitempty"`

	// ignoreRollouts lets new versions of this service roll out while the
	// dependency is unavailable or rolling out itself. Start-up still waits.
	// +optional
	IgnoreRollouts bool `json:"ignoreRollouts,omitempty"`

	// env overrides the environment variable that carries the address.
	// Without it the pods get <NAME>_URL, <NAME>_HOST and <NAME>_PORT, where
	// <NAME> is the dependency's name in upper case with '-' as '_'.
	// +optional
	Env *DependencyEnv `json:"env,omitempty"`
}

// AddressFormat is the form of a dependency's address in an environment variable.
// +kubebuilder:validation:Enum=URL;HostPort;Host
type AddressFormat string

const (
	// AddressURL is scheme://host:port, for example http://payments.shop.svc.cluster.local:8080.
	AddressURL AddressFormat = "URL"
	// AddressHostPort is host:port, for example payments.shop.svc.cluster.local:8080.
	AddressHostPort AddressFormat = "HostPort"
	// AddressHost is the host alone.
	AddressHost AddressFormat = "Host"
)

// DependencyEnv names the one environment variable that carries a dependency's address.
type DependencyEnv struct {
	// name is the name of the variable, for example PRODUCT_CATALOG_SERVICE_ADDR.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=128
	// +kubebuilder:validation:Pattern=`^[A-Za-z_][A-Za-z0-9_]*$`
	// +required
	Name string `json:"name"`

	// format is the form of the address: URL (the default), HostPort or Host.
	// +kubebuilder:default=URL
	// +optional
	Format AddressFormat `json:"format,omitempty"`

	// short uses the Service name alone as the host (payments instead of
	// payments.shop.svc.cluster.local); only for a dependency in the same namespace.
	// +optional
	Short bool `json:"short,omitempty"`
}

// NetworkPolicySpec isolates the service's pods.
type NetworkPolicySpec struct {
	// enabled turns isolation on or off for this service; unset follows the
	// operator's --network-isolation flag.
	// +optional
	Enabled *bool `json:"enabled,omitempty"`

	// allowedNamespaces are the namespaces whose Microservices may declare
	// this one as a dependency. Consumers in other namespaces are admitted only when their
	// namespace is listed: declaring a dependency alone grants nothing.
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=63
	// +listType=set
	// +optional
	AllowedNamespaces []string `json:"allowedNamespaces,omitempty"`

	// restrictEgress lets the pods reach only their declared dependencies and DNS.
	// +optional
	RestrictEgress bool `json:"restrictEgress,omitempty"`
}

// DependencyStatus is the state of one declared dependency.
type DependencyStatus struct {
	// name is the name of the dependency.
	// +required
	Name string `json:"name"`
	// namespace is the namespace of the dependency.
	// +required
	Namespace string `json:"namespace"`
	// state is Ready, Missing, PortNotFound, Unavailable, RollingOut or Denied.
	// +required
	State string `json:"state"`
	// address is the address the pods get, when the dependency exists.
	// +optional
	Address string `json:"address,omitempty"`
	// message explains the state.
	// +optional
	Message string `json:"message,omitempty"`
}

// Dependency states.
const (
	DependencyReady       = "Ready"
	DependencyMissing     = "Missing"
	DependencyUnavailable = "Unavailable"
	DependencyRollingOut  = "RollingOut"
	DependencyDenied      = "Denied"
	// DependencyPortNotFound: the dependency exists but has no port of the
	// name asked for, or no ports at all (a worker cannot be called).
	DependencyPortNotFound = "PortNotFound"
)
