"""The one exception type a user sees: the CLI prints its message and exits non-zero."""


class TinyMyoError(Exception):
    """A user-facing error: the message names the file, node or key at fault."""
