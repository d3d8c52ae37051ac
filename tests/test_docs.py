"""The documentation: the MkDocs site builds in strict mode (a warning, such
as a broken link between pages, fails it) into build/site/, the configuration
reference covers every config key, and the README stays a short entry point
whose links lead into the site."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SITE = ROOT / "build" / "site"
PAGES = ("getting-started", "cli", "configuration", "data", "precision", "compress", "experiments", "python-api",
         "ip-core", "results", "flow", "model", "hardware", "rtl", "testing", "reproducibility", "limitations", "api")


def test_site_builds_strictly():
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--clean", "--site-dir", str(SITE)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (SITE / "index.html").is_file()
    for page in PAGES:
        assert (SITE / page / "index.html").is_file(), page
    # the plots the pages show come from benchmarks/results/ as they are
    assert (SITE / "benchmarks" / "results" / "sweep_default.png").is_file()
    # the API reference is generated from the docstrings: the entry points and their own words are in it
    api = (SITE / "api" / "index.html").read_text()
    from hls_project import ext
    from keras_model.common import fixedtype

    for name, obj in (("hls_project.ext.register", ext.register), ("keras_model.common.fixedtype.width", fixedtype.width)):
        assert f'id="{name}"' in api, name
        first = " ".join(obj.__doc__.split()[:5])
        assert first in " ".join(re.sub(r"<[^>]+>", "", api).split()), (name, first)
    for name in ("keras_model.layers.FDHTLSTM", "hls_project.flow.pipeline.run_flow", "hls_project.accel.model.simulate",
                 "hls_project.numerics.bitexact.trace", "hls_project.rtl.build"):
        assert f'id="{name}"' in api, name
    # the configuration reference is generated from the schema: every key is in it
    from keras_model.common.config import SCHEMA

    html = (SITE / "configuration" / "index.html").read_text()
    for section, keys in SCHEMA.items():
        for key in keys:
            assert f"<code>{key}</code>" in html, f"{section}.{key}"


def test_every_config_key_is_described():
    from keras_model.common.config import DESCRIPTIONS, SCHEMA

    keys = {f"{section}.{key}" for section, names in SCHEMA.items() for key in names}
    assert set(DESCRIPTIONS) == keys, (keys - set(DESCRIPTIONS), set(DESCRIPTIONS) - keys)
    assert all(text.strip() for text in DESCRIPTIONS.values())


def test_readme_is_short_and_leads_into_the_docs():
    readme = (ROOT / "README.md").read_text()
    assert readme.count("\n") <= 300
    assert "\n## Hardware\n" in readme
    links = re.findall(r"\]\((docs/[^)#]+)", readme)
    assert {f"docs/{p}.md" for p in ("getting-started", "configuration", "cli", "flow", "testing",
                                     "reproducibility")} <= set(links)
    for link in links:
        assert (ROOT / link).is_file(), link
