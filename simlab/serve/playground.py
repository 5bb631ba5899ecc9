"""The page at ``/``: a search playground (placeholder, replaced below)."""

PAGE = "<!doctype html><title>simlab serve</title>"
