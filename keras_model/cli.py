"""Shared command-line pieces: a parser whose bad arguments are one-line
errors (every entry point prints ``error: <message>`` and exits 2), and the
argument types the entry points share."""

import argparse
import re

from .errors import ConfigError


class ArgumentParser(argparse.ArgumentParser):
    """argparse, but a bad argument raises a one-line ConfigError."""

    def error(self, message: str):
        raise ConfigError(f"{message} (see --help)")


def int_at_least(minimum: int):
    """argparse type: an integer >= ``minimum``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer >= {minimum}, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {value}")
        return value

    return parse


def frame_size(text: str) -> tuple:
    """argparse type: '160x120' -> (width, height)."""
    match = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", text)
    if not match:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT such as 160x120, got {text!r}")
    width, height = int(match.group(1)), int(match.group(2))
    if width < 1 or height < 1:
        raise argparse.ArgumentTypeError(f"width and height must be >= 1, got {text!r}")
    return width, height
