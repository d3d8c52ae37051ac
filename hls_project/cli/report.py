"""``fdht report DIR``: the synthesis reports of a written project re-read into its hardware report."""

from __future__ import annotations

import argparse
import os

from keras_model.common.errors import ConfigError
from hls_project.report.assemble import JSON_NAME, MD_NAME, refresh
from hls_project.cli import console


PARSER = dict(description=("Re-read the synthesis reports of a written project into its hardware_report.json/.md (e.g. "
                           "after copying them in)."))


def configure(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The command's arguments on ``p`` (the ``fdht report`` sub-parser)."""
    p.add_argument("project_dir")
    return p


def run(a) -> int:
    if not os.path.isfile(os.path.join(a.project_dir, JSON_NAME)):
        raise ConfigError(f"{a.project_dir} has no {JSON_NAME}; write the project with fdht build first")
    hw = refresh(a.project_dir)
    console.print_hardware(hw, os.path.join(a.project_dir, MD_NAME))
    return 0
