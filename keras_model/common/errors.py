"""One exception type for every user-facing error of the flow.

Anything a user can cause (a bad config key, a malformed .npz, modes that do not
fit, a missing compiler) raises ``FlowError`` with a one-line message that says
what is wrong and how to fix it. The command-line entry points catch it, print
``error: <message>`` and exit with the error's ``exit_code`` (2, or 3 for a tool); everything else is a bug and keeps its
traceback.
"""


class FlowError(Exception):
    """A user-facing error with a one-line, actionable message."""

    exit_code = 2

    def __init__(self, message: str):
        # Keep it to one line whatever the caller passed.
        super().__init__(" ".join(str(message).split()))


class ConfigError(FlowError):
    """Bad YAML/config values (unknown key, wrong type, inconsistent shapes)."""


class DataError(FlowError):
    """Bad data files, arrays or video folders."""


class ShapeError(FlowError):
    """HT modes/ranks that do not fit the matrix they decompose."""


class ToolError(FlowError):
    """An external tool (g++, vivado_hls, vitis-run) is missing or failed."""

    exit_code = 3
