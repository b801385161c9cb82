"""Random, mutated and unsafe-by-construction inputs for the image inspector.

The inspector must never crash; it must never call safe a file built to be
unsafe; and whatever oslo.utils' inspector (Glance's) refuses, it refuses too.
"""

from __future__ import annotations

import os
import struct
import subprocess
import tempfile
from functools import cache
from pathlib import Path

import vmdkfiles as vf
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from vmwctl.images.inspector import inspect_source

FUZZ = settings(max_examples=300, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def judge(data: bytes) -> object:
    return inspect_source("fuzz.vmdk", len(data), lambda off, n: data[off:off + n])


def oslo_refuses(data: bytes) -> bool:
    """True when oslo.utils, run as Glance runs it on an upload, refuses the data as vmdk."""
    with tempfile.NamedTemporaryFile() as handle:
        handle.write(data)
        handle.flush()
        return vf.oslo_verdict(handle.name) != "safe"


@cache
def seeds() -> dict[str, bytes]:
    """Valid files: qemu's monolithicSparse and streamOptimized, and VMware's stream layout."""
    result = {}
    with tempfile.TemporaryDirectory() as tmp:
        for subformat in ("monolithicSparse", "streamOptimized"):
            path = Path(tmp) / f"{subformat}.vmdk"
            subprocess.run(["qemu-img", "create", "-q", "-f", "vmdk", "-o",
                            f"subformat={subformat}", str(path), "4M"], check=True)
            result[subformat] = path.read_bytes()
    data = bytearray(1 << 20)
    data[:8192] = os.urandom(8192)
    result["vmware-stream"] = vf.stream_optimized(bytes(data))
    return result


@FUZZ
@given(st.binary(max_size=4096), st.sampled_from([b"", b"KDMV", b"COWD", b"# Disk Descriptor"]))
def test_random_bytes_never_crash(payload: bytes, prefix: bytes) -> None:
    report = judge(prefix + payload)
    assert isinstance(report.format, str)
    if report.safe and report.format == "vmdk":
        assert report.create_type in ("monolithicSparse", "streamOptimized")


@FUZZ
@given(st.sampled_from(["monolithicSparse", "streamOptimized", "vmware-stream"]),
       st.lists(st.tuples(st.integers(0, 4095), st.integers(0, 255)), min_size=1,
                max_size=8),
       st.booleans())
@example("monolithicSparse", [(627, 11)], False)  # \v before the extent line: oslo sees none
def test_mutated_headers_and_descriptors(seed: str, edits: list[tuple[int, int]],
                                         at_end: bool) -> None:
    data = bytearray(seeds()[seed])
    for position, value in edits:
        index = len(data) - 1 - (position % 1536) if at_end else position % len(data)
        data[index] = value
    report = judge(bytes(data))
    if oslo_refuses(bytes(data)):
        assert not report.acceptable, (report.problems, edits)


@FUZZ
@given(st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), min_size=0,
               max_size=40).filter(lambda s: '"' not in s),
       st.sampled_from(["/", "\\", "..", "/etc/", "../../"]),
       st.text(alphabet="abcdef.-_", max_size=10))
def test_extents_outside_their_directory_are_never_safe(before: str, escape: str,
                                                        after: str) -> None:
    name = f"{before}{escape}{after}"
    desc = vf.descriptor("monolithicSparse", extent=f'"{name}"')
    assert not judge(vf.sparse_with_descriptor(desc)).safe


@FUZZ
@given(st.sampled_from(["monolithicSparse", "streamOptimized", "monolithicFlat"]),
       st.integers(0, 2**32 - 1), st.sampled_from([0x3, 0x30001, 0x30003]))
def test_capacity_zero_is_never_safe(create_type: str, cid: int, flags: int) -> None:
    desc = vf.descriptor(create_type).replace(b"CID=12345678", f"CID={cid:08x}".encode())
    data = vf.sparse_with_descriptor(desc, capacity=0, flags=flags,
                                     compress=1 if flags & 0x10000 else 0)
    report = judge(data)
    assert not report.safe
    assert any("capacity 0" in p for p in report.problems)


@FUZZ
@given(st.sampled_from(["monolithicSparse", "streamOptimized", "vmware-stream"]),
       st.floats(0.0, 1.0, exclude_max=True))
def test_truncated_files_are_never_safe(seed: str, fraction: float) -> None:
    data = seeds()[seed]
    if seed == "vmware-stream":
        cut = int(len(data) * fraction)  # any cut loses the footer
    else:
        overhead = struct.unpack_from("<Q", data, 64)[0] * 512
        cut = int(overhead * fraction)  # a cut inside the metadata
    assert not judge(data[:cut]).acceptable


FOOTER_FIELDS = {
    # offset from the end of the file, struct format, values that must be refused
    "marker size": (-1528, "<I", st.integers(1, 2**32 - 1)),
    "marker type": (-1524, "<I", st.integers(0, 2**32 - 1).filter(lambda v: v != 3)),
    "marker pad": (-1500, "<B", st.integers(1, 255)),
    "footer magic": (-1024, "<4s", st.binary(min_size=4, max_size=4).filter(
        lambda v: v != b"KDMV")),
    "footer version": (-1020, "<I", st.integers(0, 2**32 - 1).filter(lambda v: v != 3)),
    "footer descriptor offset": (-996, "<Q", st.integers(0, 2**64 - 1).filter(
        lambda v: v != 1)),
    "footer gd offset": (-968, "<Q", st.just(vf.GD_AT_END)),
    "eos value": (-512, "<Q", st.integers(1, 2**64 - 1)),
    "eos size": (-504, "<I", st.integers(1, 2**32 - 1)),
    "eos type": (-500, "<I", st.integers(1, 2**32 - 1)),
    "eos pad": (-400, "<B", st.integers(1, 255)),
}


@FUZZ
@given(st.data())
def test_bad_footers_are_never_safe(data: st.DataObject) -> None:
    field = data.draw(st.sampled_from(sorted(FOOTER_FIELDS)))
    offset, fmt, values = FOOTER_FIELDS[field]
    value = data.draw(values)
    blob = bytearray(seeds()["vmware-stream"])
    struct.pack_into(fmt, blob, len(blob) + offset, value)
    assert not judge(bytes(blob)).safe, field


@FUZZ
@given(st.binary(min_size=1, max_size=2048))
def test_trailing_bytes_after_the_stream_are_never_safe(extra: bytes) -> None:
    assert not judge(seeds()["vmware-stream"] + extra).safe
