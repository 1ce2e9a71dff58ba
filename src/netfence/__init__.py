"""netfence: a Kubernetes-native manager for NetworkPolicies."""

__version__ = "0.1.0"
