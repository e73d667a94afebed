"""The errors codescaler reports to its user, one family: the command line prints ``codescaler: <message>`` and
exits with the error's ``exit_code``; the traceback only under ``-v``."""


class CodescalerError(Exception):
    """Something the user can fix or must know, said in one line that names the thing at fault."""

    exit_code = 2


class RecordError(CodescalerError, ValueError):
    """A malformed input record; the message names the record and the reason."""


class InputError(CodescalerError, ValueError):
    """A path, a name or a setting refused at the door, before anything heavy starts."""


def unloadable(what: str, name: str, err: Exception) -> InputError:
    """The one-line error for a model that cannot be loaded: its name and the loader's first line of why."""
    why = next((line.strip() for line in str(err).splitlines() if line.strip()), type(err).__name__)
    return InputError(f"cannot load {what} {name!r}: {why}")
