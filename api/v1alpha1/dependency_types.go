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
	// Name of the Microservice.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=56
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-z]([-a-z0-9]*[a-z0-9])?$')",message="spec.dependencies[].name must be a Microservice name: lower case letters, digits and '-', starting with a letter"
	// +required
	Name string `json:"name"`

	// Namespace of the Microservice. Defaults to this Microservice's namespace.
	// A dependency in another namespace admits this one through its network
	// policy only if its spec.networkPolicy.allowedNamespaces lists this namespace.
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	// +optional
	Namespace string `json:"namespace,omitempty"`

	// Port is the name of the dependency's port to call. Defaults to its first port.
	// +kubebuilder:validation:MaxLength=15
	// +optional
	Port string `json:"port,omitempty"`

	// Optional dependencies never hold this service back: it starts and rolls
	// out whatever their state, and gets their address once they exist.
	// +optional
	Optional bool `json:"optional,omitempty"`

	// IgnoreRollouts lets new versions of this service roll out while the
	// dependency is unavailable or rolling out itself. Start-up still waits.
	// +optional
	IgnoreRollouts bool `json:"ignoreRollouts,omitempty"`

	// Env overrides the environment variable that carries the address.
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
	// Name of the variable, for example PRODUCT_CATALOG_SERVICE_ADDR.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=128
	// +kubebuilder:validation:Pattern=`^[A-Za-z_][A-Za-z0-9_]*$`
	// +required
	Name string `json:"name"`

	// Format of the address: URL (the default), HostPort or Host.
	// +kubebuilder:default=URL
	// +optional
	Format AddressFormat `json:"format,omitempty"`

	// Short uses the Service name alone as the host (payments instead of
	// payments.shop.svc.cluster.local); only for a dependency in the same namespace.
	// +optional
	Short bool `json:"short,omitempty"`
}

// NetworkPolicySpec isolates the service's pods.
type NetworkPolicySpec struct {
	// Enabled turns isolation on or off for this service; unset follows the
	// operator's --network-isolation flag.
	// +optional
	Enabled *bool `json:"enabled,omitempty"`

	// AllowedNamespaces may hold Microservices that declare this one as a
	// dependency. Consumers in other namespaces are admitted only when their
	// namespace is listed: declaring a dependency alone grants nothing.
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=63
	// +listType=set
	// +optional
	AllowedNamespaces []string `json:"allowedNamespaces,omitempty"`

	// RestrictEgress lets the pods reach only their declared dependencies and DNS.
	// +optional
	RestrictEgress bool `json:"restrictEgress,omitempty"`
}

// DependencyStatus is the state of one declared dependency.
type DependencyStatus struct {
	// Name and Namespace of the dependency.
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
	// State is Ready, Missing, PortNotFound, Unavailable, RollingOut or Denied.
	State string `json:"state"`
	// Address the pods get, when the dependency exists.
	// +optional
	Address string `json:"address,omitempty"`
	// Message explains the state.
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
