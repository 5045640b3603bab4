"""Read a PDF as a person would: rendered to PNG by pdftoppm, its text by pdftotext (poppler)."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest


def require_poppler() -> None:
    """Skip without poppler-utils, except under CI (CI=true), where its absence fails the test."""
    if shutil.which("pdftoppm") and shutil.which("pdftotext"):
        return
    if os.environ.get("CI") == "true":
        pytest.fail("pdftoppm/pdftotext missing under CI: install poppler-utils (make chromium)")
    pytest.skip("pdftoppm/pdftotext not installed (poppler-utils; `make test` installs it)")


def read_pdf(content: bytes, folder: Path, name: str = "document") -> str:
    """Render every page to PNG (each must be a real image) and return the extracted text."""
    require_poppler()
    assert content.startswith(b"%PDF-"), content[:40]
    source = folder / f"{name}.pdf"
    source.write_bytes(content)
    subprocess.run(
        ["pdftoppm", "-r", "60", "-png", str(source), str(folder / name)],
        check=True,
        timeout=60,
    )
    pages = sorted(folder.glob(f"{name}-*.png"))
    assert pages, "pdftoppm rendered no page"
    for png in pages:
        assert png.read_bytes().startswith(b"\x89PNG") and png.stat().st_size > 1000
    text = subprocess.run(
        ["pdftotext", "-layout", str(source), "-"],
        check=True,
        capture_output=True,
        timeout=60,
    ).stdout.decode("utf-8")
    return text
