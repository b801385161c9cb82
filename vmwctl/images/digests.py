"""Published checksums of an image: ``--checksum ALG:HEX`` and ``SHA256SUMS``-style files.

A checksum covers the bytes as the source publishes them (the file at the
URL), never what vmwctl makes of them (a streamOptimized conversion), so that
it can be compared with the figure on the publisher's page. SHA-256, SHA-384
and SHA-512 are accepted; MD5 and SHA-1 are refused: a checksum is there to
prove the bytes are the publisher's, which neither proves any more.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from vmwctl.errors import UsageError

ALGORITHMS = {"sha256": 64, "sha384": 96, "sha512": 128}
BROKEN = ("md5", "sha1")
_HEX = re.compile(r"^[0-9a-fA-F]+$")
# GNU coreutils: "HEX  name" or "HEX *name" (binary mode); BSD/--tag: "SHA256 (name) = HEX"
_GNU = re.compile(r"^\\?([0-9a-fA-F]{64,128}) [ *](.+)$")
_BSD = re.compile(r"^(SHA256|SHA384|SHA512) \((.+)\) = ([0-9a-fA-F]{64,128})$")


@dataclass(frozen=True)
class Expected:
    """The digest the source's bytes must have, and where it was read from."""

    algorithm: str
    hex: str
    origin: str  # "--checksum" or the checksums file's URL

    def hasher(self) -> hashlib._Hash:
        return hashlib.new(self.algorithm)


def parse_checksum(text: str) -> Expected:
    """``sha256:HEX`` (sha384, sha512 too); UsageError (exit 2) for anything else."""
    algorithm, sep, value = text.partition(":")
    algorithm = algorithm.strip().lower().replace("-", "")
    value = value.strip()
    if not sep or not value:
        raise UsageError(f"--checksum {text!r}: expected ALG:HEX, e.g. sha256:9f86d081...")
    if algorithm in BROKEN:
        raise UsageError(f"--checksum {algorithm}: not accepted ({algorithm} no longer proves "
                         "the bytes are the publisher's); give the sha256 or sha512 the "
                         "publisher lists")
    if algorithm not in ALGORITHMS:
        raise UsageError(f"--checksum {text.partition(':')[0]!r}: unknown algorithm; use one "
                         f"of {', '.join(ALGORITHMS)}")
    if not _HEX.match(value) or len(value) != ALGORITHMS[algorithm]:
        raise UsageError(f"--checksum: a {algorithm} is {ALGORITHMS[algorithm]} hexadecimal "
                         f"digits, not {value[:20]!r}{'...' if len(value) > 20 else ''}")
    return Expected(algorithm, value.lower(), "--checksum")


def from_checksums_file(text: str, filename: str, origin: str) -> Expected:
    """The line of a ``SHA256SUMS``-style file (GNU or BSD layout) naming ``filename``.

    UsageError (exit 2) when no line or several lines name it, or the file
    holds no checksum lines at all.
    """
    found: dict[str, Expected] = {}
    lines = 0
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        gnu, bsd = _GNU.match(line), _BSD.match(line)
        if gnu:
            value, name = gnu.group(1), gnu.group(2)
        elif bsd:
            name, value = bsd.group(2), bsd.group(3)
        else:
            continue
        algorithm = next((alg for alg, length in ALGORITHMS.items() if length == len(value)),
                         None)
        if algorithm is None or (bsd and bsd.group(1).lower() != algorithm):
            continue
        lines += 1
        name = name.strip()
        if name.startswith("./"):
            name = name[2:]
        if name == filename:
            found[algorithm] = Expected(algorithm, value.lower(), origin)
    if not found:
        what = f"no line for {filename!r}" if lines else "no SHA-256/384/512 lines"
        raise UsageError(f"the checksums file {origin} has {what}; give the file published "
                         "beside the image, or --checksum ALG:HEX")
    return found.get("sha512") or found.get("sha384") or found["sha256"]
