"""The demo study: a deterministic synthetic study folder (configuration and raw data)."""
