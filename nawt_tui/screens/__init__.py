"""Screens of the nawt TUI."""
