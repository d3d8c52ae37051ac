"""MkDocs hooks of the documentation site (mkdocs.yml: ``hooks``).

* The configuration reference (docs/configuration.md, at the
  ``<!-- config-reference -->`` marker) is generated from the one config
  schema, ``keras_model.common.config`` (DEFAULTS, SCHEMA, DESCRIPTIONS).
* Files of the repository the pages show (the measured plots under
  ``benchmarks/results/``) are added to the site as they are, so the pages
  link them by their repository path and nothing is copied into docs/.
"""

from __future__ import annotations

import os
import sys

from mkdocs.structure.files import File

ROOT = os.path.dirname(os.path.abspath(__file__))
MARKER = "<!-- config-reference -->"
REPO_FILES = ("benchmarks/results",)


def on_files(files, config):
    for folder in REPO_FILES:
        for name in sorted(os.listdir(os.path.join(ROOT, folder))):
            if name.endswith((".png", ".svg")):
                files.append(File(f"{folder}/{name}", ROOT, config["site_dir"], config["use_directory_urls"]))
    return files


def on_page_markdown(markdown, page, config, files):
    if MARKER not in markdown:
        return markdown
    if ROOT not in sys.path:
        sys.path.insert(0, ROOT)
    from keras_model.common.config import reference_markdown  # yaml only: no TensorFlow

    return markdown.replace(MARKER, reference_markdown())
