"""A running node: the cluster (Redis), shutdown, health and readiness, metrics."""
