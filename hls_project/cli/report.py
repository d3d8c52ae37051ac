"""``fdht report DIR``: the synthesis reports of a written project re-read into its hardware report."""

from __future__ import annotations

import argparse
import os

from keras_model.common.errors import ConfigError
from hls_project.report.assemble import JSON_NAME, MD_NAME, refresh
from hls_project.cli import console
from hls_project.cli.common import ArgumentParser, add_common, run_command

PROG = "fdht report"


PARSER = dict(description="Re-read the synthesis reports of a written project into its " "hardware_report.json/.md (e.g. after copying them in).")


def configure(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The command's arguments on ``p`` (``fdht report`` or its own parser)."""
    p.add_argument("project_dir")
    add_common(p)
    p.set_defaults(func=run)
    return p


def build_parser(prog: str = PROG) -> argparse.ArgumentParser:
    return configure(ArgumentParser(prog=prog, **PARSER))


def run(a) -> int:
    if not os.path.isfile(os.path.join(a.project_dir, JSON_NAME)):
        raise ConfigError(f"{a.project_dir} has no {JSON_NAME}; write the project with fdht build first")
    hw = refresh(a.project_dir)
    console.print_hardware(hw, os.path.join(a.project_dir, MD_NAME))
    return 0


def main(argv=None, prog: str = PROG) -> int:
    return run_command(build_parser, run, argv, prog)
