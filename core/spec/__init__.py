"""The workflow spec: Argo's models, loading and linting manifests, names and durations."""
