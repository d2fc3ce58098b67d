"""The `nawt` command: a Typer app over nawt_core; `nawt` alone opens the TUI."""
