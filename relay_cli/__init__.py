"""relay: register and manage Relay workflows."""

__version__ = "0.1.0"
