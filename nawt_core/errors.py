"""The exceptions the CLI turns into a single clear error line, and their exit statuses.

``NawtError`` is input the command refuses (a bad option, an unknown run, a
run that is busy): exit status 2, and nothing was changed. ``Failed`` is work
that was started and did not succeed (a run or evaluation failed, the disk
filled up): exit status 1, the run or evaluation records why.
"""

BAD_INPUT = 2  # refused before anything changed
FAILURE = 1  # the work started and failed


class NawtError(Exception):
    """A user-facing error: bad input, missing data, unknown run, corrupt file."""

    exit_code = BAD_INPUT


class Failed(NawtError):
    """Work that started and failed (a run, a sweep, a write): the CLI exits 1."""

    exit_code = FAILURE


class LostClaim(Failed):
    """Another process took this run over (its claim token changed, see claims.py): stop without writing."""
