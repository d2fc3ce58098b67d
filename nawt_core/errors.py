"""The one exception type the CLI turns into a single clear error line."""


class NawtError(Exception):
    """A user-facing error: bad input, missing data, unknown run, corrupt file."""
