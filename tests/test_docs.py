"""The documentation site builds with warnings as errors, its API pages from the docstrings."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(shutil.which("mkdocs") is None and not (Path(sys.executable).parent / "mkdocs").exists(),
                    reason="mkdocs is not installed (pip install -e '.[docs]')")
def test_the_docs_build_strictly(tmp_path):
    mkdocs = shutil.which("mkdocs") or str(Path(sys.executable).parent / "mkdocs")
    run = subprocess.run([mkdocs, "build", "--strict", "--site-dir", str(tmp_path / "site")], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    api = (tmp_path / "site" / "api" / "synthesizers" / "index.html").read_text()
    assert "MarginalSynthesizer" in api and "get_params" in api  # rendered from the docstrings


def test_the_readme_is_short_and_its_links_resolve():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) < 150
    for target in re.findall(r"\]\((?!https?://)([^)#]+)", readme):
        assert (ROOT / target).exists(), f"README links to a missing file: {target}"


def test_every_file_the_docs_name_exists():
    """Pages name modules, tests and benchmarks by path; a move must update them."""
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    missing = [
        f"{page.relative_to(ROOT)} names {path}"
        for page in pages
        for path in sorted(set(re.findall(r"\b((?:dpquilt|tests|benchmarks)/[\w/]+\.(?:py|sh))\b", page.read_text())))
        if not (ROOT / path).exists()
    ]
    assert not missing, "\n".join(missing)
