"""argosy: Argo Workflows, in Python."""

__version__ = "0.1.0"
