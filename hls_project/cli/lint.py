"""``fdht lint DIR``: a written project checked against the HLS scheduling rules (``accel.lint``)."""

from __future__ import annotations

import argparse
import os

from keras_model.common.errors import ConfigError
from hls_project.accel.lint import lint
from hls_project.cli import console


PARSER = dict(description=("Check a written HLS project against the HLS scheduling rules (static banks, ports, partition "
                           "limits, constant tables, carried paths, top ports). Exit 1 when a rule fails."))


def configure(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The command's arguments on ``p`` (the ``fdht lint`` sub-parser)."""
    p.add_argument("project", help="a project directory written by build.py (e.g. build/hls/default)")
    p.add_argument("--json", action="store_true", help="print the full result as JSON")
    return p


def run(a: argparse.Namespace) -> int:
    if not os.path.isfile(os.path.join(a.project, "firmware", "parameters.h")):
        raise ConfigError(f"{a.project} is not a written HLS project (no firmware/parameters.h); "
                          "write one with python build.py")
    res = lint(a.project)
    console.print_lint(res, a.json)
    return 0 if not res["failed"] else 1
