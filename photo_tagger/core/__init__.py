"""The headless core: no Qt here, ever (checked by tests/test_layers.py)."""
