"""nawt core: training, evaluation and the run store. No UI imports here.

Importing this package is cheap: modules that need torch import it themselves,
so the CLI's help and the TUI stay torch-free.
"""

__version__ = "0.1.0"
