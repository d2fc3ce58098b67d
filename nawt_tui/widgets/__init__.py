"""Widgets of the nawt TUI."""
