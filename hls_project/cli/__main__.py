"""``python -m hls_project.cli`` is ``fdht``."""

import sys

from hls_project.cli import main

sys.exit(main())
