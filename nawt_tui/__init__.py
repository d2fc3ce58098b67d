"""nawt's terminal UI (Textual).

It reads the run store that headless trainings write and launches `nawt`
processes; it never imports torch. Entry point: :func:`nawt_tui.app.run_tui`.
"""
