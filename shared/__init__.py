"""Switchboard's domain: models, channel adapters, the store, the bus. Importable without Flask."""
