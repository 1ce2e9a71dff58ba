"""The web console and its REST API (FastAPI); every Kubernetes call uses the caller's credentials."""
