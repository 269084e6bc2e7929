"""Conventions shared by the two console scripts, `pipeline` and `dashboard`.

They live in `store` because it is the one package both may import (the dashboard never imports
the pipeline).
"""

from __future__ import annotations

from importlib import metadata


def flags_without_type() -> None:
    """Typer 0.29 prints flags as `--force <bool>`; a flag takes no value, so print no type."""
    from typer.core import TyperOption

    shown = TyperOption.display_type_rich
    if getattr(shown, "_flags_plain", False):
        return

    def display_type_rich(self, ctx):
        return None if self.is_flag else shown(self, ctx)

    display_type_rich._flags_plain = True
    TyperOption.display_type_rich = display_type_rich


def version_callback(prog: str):
    """A Typer callback for an eager `--version` option that prints `prog (nilm-edge) X.Y.Z`."""

    def _version(value: bool) -> None:
        import typer

        if value:
            try:
                version = metadata.version("nilm-edge")
            except metadata.PackageNotFoundError:
                version = "unknown"
            typer.echo(f"{prog} (nilm-edge) {version}")
            raise typer.Exit()

    return _version
