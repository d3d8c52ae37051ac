#!/usr/bin/env python
"""``python build.py ...`` is ``fdht build ...`` (hls_project/cli/build.py): it
writes the HLS project, C-simulates it with g++ against Keras and reports.
Run ``python build.py --help`` for the flags."""

import sys

from hls_project.cli import main

if __name__ == "__main__":
    sys.exit(main(["build", *sys.argv[1:]]))
