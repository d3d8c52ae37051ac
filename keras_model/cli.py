"""Shared command-line parsing: a bad argument is a one-line error, not a
usage page (every entry point prints ``error: <message>`` and exits 2)."""

import argparse

from .errors import ConfigError


class ArgumentParser(argparse.ArgumentParser):
    """argparse, but a bad argument raises a one-line ConfigError."""

    def error(self, message: str):
        raise ConfigError(f"{message} (see --help)")
