"""argosy: Argo Workflows, in Python."""

__version__ = "0.1.0"


def __getattr__(name: str) -> object:
    # The notebook API, imported on first use so `import argosy` stays light for the CLI.
    if name in ("Client", "Workflow"):
        from argosy import client

        return getattr(client, name)
    raise AttributeError(f"module 'argosy' has no attribute {name!r}")
