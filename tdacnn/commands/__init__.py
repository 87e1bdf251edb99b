"""Subcommands of the ``tdacnn`` CLI, one module each (see tdacnn.cli)."""
