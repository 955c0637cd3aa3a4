"""The claims, one module each (found by ``claims/registry.py``; ``docs/adding-a-claim.md``)."""
