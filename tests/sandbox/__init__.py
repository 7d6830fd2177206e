"""Tests of the provider sandbox (infra/local/provider_sandbox.py)."""
