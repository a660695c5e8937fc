"""The spec copies the conformance tests run against are the bytes ``SHA256SUMS`` pins."""

from __future__ import annotations

import hashlib

from .spec import SPECS


def test_every_spec_file_matches_its_pinned_hash() -> None:
    pinned = {}
    for line in (SPECS / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split()
        pinned[name] = digest
    present = {p.name for p in SPECS.iterdir() if p.suffix in (".yaml", ".yml")}
    assert present == set(pinned), "every spec file is pinned, and every pin has its file"
    for name, digest in pinned.items():
        assert hashlib.sha256((SPECS / name).read_bytes()).hexdigest() == digest, name
