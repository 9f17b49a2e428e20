"""The built-in scenarios of ``relay workflow simulate``: TOML data files, read with importlib.resources."""
