"""``relay workflow ...``: one module per command or family of commands (relay_cli/registry.py names them)."""
