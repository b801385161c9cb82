"""``image upload`` of a flat pair given by its descriptor, and the format-match refusal.

The plan (what file is sent, with which properties) and the refusal are
decided from the files alone, before the image service is touched: these
tests run them on pairs written by the real qemu-img and on ESXi-style
descriptors written by hand. The upload itself, against the lab's Glances,
is in tests/lab_tests/test_images.py.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import vmdkfiles as vf
from helpers import write_config

from vmwctl.errors import ConfigError, UsageError
from vmwctl.images.inspector import inspect_file
from vmwctl.images.upload import UploadRequest, format_match_refusal, plan_upload
from vmwctl.profile.load import load_profile

SIZE = 4 << 20
REFUSED = ("raw data, which this image service refuses as disk_format=vmdk (Glance 30 and "
           "later do unless [image_format] require_image_format_match is off, and the "
           "profile's openstack.image_format_match says it is on); add --convert to upload it "
           "as streamOptimized")


def flat_pair(directory: Path, name: str = "converted", adapter: str = "buslogic",
              disktype: str = "preallocated") -> Path:
    """A qemu-img flat pair (NAME.vmdk + NAME-flat.vmdk) of random data and holes."""
    raw = directory / "source.raw"
    with open(raw, "wb") as handle:
        handle.truncate(SIZE)
        handle.write(os.urandom(1 << 20))
    descriptor = directory / f"{name}.vmdk"
    subprocess.run(["qemu-img", "convert", "-q", "-f", "raw", "-O", "vmdk", "-o",
                    f"subformat=monolithicFlat,adapter_type={adapter}", str(raw),
                    str(descriptor)], check=True)
    if disktype == "thin":
        text = descriptor.read_bytes().split(b"\0", 1)[0]
        descriptor.write_bytes(text + b'ddb.thinProvisioned = "1"\n')
    return descriptor


def plan(path: Path, **flags):
    return plan_upload(UploadRequest(path=path, name="img", ostype="ubuntu64Guest", **flags))


def refusal(path: Path, **flags) -> str:
    with pytest.raises(UsageError) as caught:
        plan(path, **flags)
    return caught.value.message


# ------------------------------------------------------------------ what is sent

@pytest.mark.parametrize(("adapter", "disktype", "expected"), [
    ("buslogic", "preallocated", ("preallocated", "busLogic")),
    ("ide", "thin", ("thin", "ide")),
    ("lsilogic", "preallocated", ("preallocated", "lsiLogic"))])
def test_the_descriptor_sends_its_flat_extent_with_its_properties(
        tmp_path: Path, adapter: str, disktype: str, expected: tuple[str, str]) -> None:
    descriptor = flat_pair(tmp_path, adapter=adapter, disktype=disktype)
    planned = plan(descriptor)
    assert (planned.source, planned.file) == (str(descriptor),
                                              str(tmp_path / "converted-flat.vmdk"))
    assert (planned.disk_format, planned.container_format) == ("vmdk", "bare")
    assert (planned.properties["vmware_disktype"],
            planned.properties["vmware_adaptertype"]) == expected
    assert planned.conversion is None
    # the report is the extent's: raw data, whose size the progress bar counts
    assert (planned.report.format, planned.report.file_size) == ("raw", SIZE)


def test_an_esxi_descriptor_names_its_extent_and_says_thin(tmp_path: Path) -> None:
    """ESXi writes createType vmfs, a VMFS extent without offset, ddb.thinProvisioned."""
    (tmp_path / "data-flat.vmdk").write_bytes(os.urandom(8192))
    descriptor = tmp_path / "web.vmdk"
    descriptor.write_bytes(vf.descriptor("vmfs", sectors=16, extent='"data-flat.vmdk"',
                                         kind="VMFS", extra='ddb.thinProvisioned = "1"\n'))
    planned = plan(descriptor)
    assert planned.file == str(tmp_path / "data-flat.vmdk")
    assert (planned.properties["vmware_disktype"],
            planned.properties["vmware_adaptertype"]) == ("thin", "lsiLogic")


def test_a_flat_disktype_flag_may_replace_the_descriptors_another_is_refused(
        tmp_path: Path) -> None:
    descriptor = flat_pair(tmp_path, disktype="thin")
    assert plan(descriptor, disktype="eagerZeroedThick").properties["vmware_disktype"] == \
        "eagerZeroedThick"
    assert "--disktype sparse contradicts the file, which is raw (flat) data" in \
        refusal(descriptor, disktype="sparse")
    assert "--adapter-type ide contradicts the file, whose descriptor says 'buslogic'" in \
        refusal(descriptor, adapter_type="ide")


def test_convert_reads_the_extent_as_raw(tmp_path: Path) -> None:
    """--convert of a pair: the native writer reads the -flat extent itself (raw already), no
    raw copy by qemu-img; the adapter is the descriptor's."""
    descriptor = flat_pair(tmp_path, adapter="buslogic")
    planned = plan(descriptor, convert=True)
    assert planned.conversion is not None
    assert (planned.conversion.source, planned.conversion.source_format) == (
        str(tmp_path / "converted-flat.vmdk"), "raw")
    assert planned.conversion.engine == "native"
    assert (planned.properties["vmware_disktype"],
            planned.properties["vmware_adaptertype"]) == ("streamOptimized", "busLogic")
    format_match_refusal(planned, True)  # streamOptimized: nothing to refuse


# ------------------------------------------------------------------ pairs not sent as they are

def test_a_short_extent_is_refused(tmp_path: Path) -> None:
    descriptor = flat_pair(tmp_path)
    with open(tmp_path / "converted-flat.vmdk", "r+b") as handle:
        handle.truncate(SIZE - 512)
    assert refusal(descriptor) == (
        f"refusing to upload {descriptor}: its extent converted-flat.vmdk has {SIZE - 512} "
        f"bytes, the descriptor says {SIZE} ({SIZE // 512} sectors): Nova would write a disk "
        "of the wrong size; copy the whole extent again from the pair's source")


def test_a_missing_extent_is_refused(tmp_path: Path) -> None:
    descriptor = flat_pair(tmp_path)
    (tmp_path / "converted-flat.vmdk").unlink()
    assert refusal(descriptor) == (f"refusing to upload {descriptor}: its extent "
                                   "converted-flat.vmdk is missing; put converted-flat.vmdk "
                                   "beside it")


@pytest.mark.parametrize("extent", ['"../outside-flat.vmdk"', '"/etc/passwd"'])
def test_an_extent_outside_the_descriptors_directory_is_refused(tmp_path: Path,
                                                                extent: str) -> None:
    (tmp_path / "outside-flat.vmdk").write_bytes(bytes(8192))
    folder = tmp_path / "pair"
    folder.mkdir()
    descriptor = folder / "evil.vmdk"
    descriptor.write_bytes(vf.descriptor("monolithicFlat", sectors=16, extent=f"{extent} 0",
                                         kind="FLAT"))
    message = refusal(descriptor)
    assert message.startswith(f"refusing to upload {descriptor}: descriptor line 8: extent "
                              f"file {extent[1:-1]!r}")
    assert "CVE-2022-47951" in message


def test_a_link_to_a_file_outside_the_directory_is_refused(tmp_path: Path) -> None:
    secret = tmp_path / "secret.bin"
    secret.write_bytes(bytes(8192))
    folder = tmp_path / "pair"
    folder.mkdir()
    (folder / "disk-flat.vmdk").symlink_to(secret)
    descriptor = folder / "disk.vmdk"
    descriptor.write_bytes(vf.descriptor("monolithicFlat", sectors=16,
                                         extent='"disk-flat.vmdk" 0', kind="FLAT"))
    assert refusal(descriptor) == (
        f"refusing to upload {descriptor}: its extent disk-flat.vmdk is a link to {secret}, "
        "outside the descriptor's directory; copy that file beside disk.vmdk under the name "
        "disk-flat.vmdk")


def test_an_extent_that_is_no_raw_data_is_refused(tmp_path: Path) -> None:
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(tmp_path / "disk-flat.vmdk"),
                    "1M"], check=True)
    with open(tmp_path / "disk-flat.vmdk", "r+b") as handle:
        handle.truncate(size := 1 << 20)  # whole sectors, as the descriptor says
    descriptor = tmp_path / "disk.vmdk"
    descriptor.write_bytes(vf.descriptor("monolithicFlat", sectors=size // 512,
                                         extent='"disk-flat.vmdk" 0', kind="FLAT"))
    assert refusal(descriptor) == (
        f"refusing to upload {descriptor}: its extent disk-flat.vmdk is a qcow2 image, not "
        "the raw data of a flat disk; re-export the disk from its source: vmwctl never reads "
        "an unsafe file")


@pytest.mark.parametrize(("create_type", "extents"), [
    ("twoGbMaxExtentFlat", 'RW 16 FLAT "disk-f001.vmdk" 0\nRW 16 FLAT "disk-f002.vmdk" 0'),
    ("monolithicFlat", 'RW 16 FLAT "disk-f001.vmdk" 16')])
def test_split_or_offset_extents_need_convert(tmp_path: Path, create_type: str,
                                              extents: str) -> None:
    """Glance stores one file: a pair is sent as it is only with one whole extent."""
    for name in ("disk-f001.vmdk", "disk-f002.vmdk"):
        (tmp_path / name).write_bytes(os.urandom(16384))
    descriptor = tmp_path / "disk.vmdk"
    text = vf.descriptor(create_type, sectors=16, extent='"disk-f001.vmdk" 0', kind="FLAT")
    descriptor.write_bytes(text.replace(b'RW 16 FLAT "disk-f001.vmdk" 0', extents.encode()))
    message = refusal(descriptor)
    assert message.startswith(f"{descriptor} is a descriptor-only VMDK ({create_type}) whose "
                              "data is in disk-f001.vmdk")
    assert message.endswith("not a VMDK Glance accepts: add --convert")
    assert not [n for n in inspect_file(descriptor).notes if n.startswith("a flat pair")]
    assert plan(descriptor, convert=True).conversion is not None


# ------------------------------------------------------------------ the format-match refusal

def test_raw_data_is_refused_when_the_image_service_matches_formats(tmp_path: Path) -> None:
    descriptor = flat_pair(tmp_path)
    planned = plan(descriptor)
    with pytest.raises(UsageError) as caught:
        format_match_refusal(planned, True)
    assert caught.value.message == (f"refusing to upload {tmp_path / 'converted-flat.vmdk'} "
                                    f"(the flat extent of {descriptor}): {REFUSED}")
    assert caught.value.exit_code == 2
    format_match_refusal(planned, False)  # the profile says Glance takes it: sent

    flat = plan(tmp_path / "converted-flat.vmdk")  # the extent given itself
    assert flat.properties["vmware_disktype"] == "preallocated"
    with pytest.raises(UsageError) as caught:
        format_match_refusal(flat, True)
    assert caught.value.message == (f"refusing to upload {tmp_path / 'converted-flat.vmdk'}: "
                                    f"{REFUSED}")

    raw = tmp_path / "plain.raw"
    raw.write_bytes(os.urandom(8192))
    with pytest.raises(UsageError) as caught:
        format_match_refusal(plan(raw, disktype="preallocated"), True)
    assert caught.value.message == f"refusing to upload {raw}: {REFUSED}"


@pytest.mark.parametrize("subformat", ["streamOptimized", "monolithicSparse"])
def test_a_vmdk_is_never_refused_for_its_format(tmp_path: Path, subformat: str) -> None:
    disk = tmp_path / "disk.vmdk"
    subprocess.run(["qemu-img", "create", "-q", "-f", "vmdk", "-o", f"subformat={subformat}",
                    str(disk), "1M"], check=True)
    format_match_refusal(plan(disk), True)


def test_the_profile_option_defaults_to_on_and_is_validated(tmp_path: Path) -> None:
    config = tmp_path / "vmwctl.yaml"
    base = "profiles:\n  p:\n    vmware: {host_ip: h, host_username: u}\n"
    write_config(config, base)
    assert load_profile(str(config), "p", {}).openstack.image_format_match is True
    write_config(config, base + "    openstack: {cloud: c, image_format_match: false}\n")
    assert load_profile(str(config), "p", {}).openstack.image_format_match is False
    write_config(config, base + "    openstack: {image_format_match: 'off'}\n")
    with pytest.raises(ConfigError) as caught:
        load_profile(str(config), "p", {})
    assert caught.value.message.startswith(f"{config}:4: profiles.p.openstack."
                                           "image_format_match: expected true or false, got "
                                           "'off'")


def test_upload_refuses_before_reaching_the_image_service(vmwctl, tmp_path: Path,
                                                          monkeypatch) -> None:
    """The refusal comes before the image service is looked up: here there is none (no
    clouds.yaml), which would be an error of its own."""
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(tmp_path / "none" / "clouds.yaml"))
    config = write_config(tmp_path / "vmwctl.yaml", "profiles:\n  p:\n    vmware: {host_ip: h, "
                          "host_username: u}\n    openstack: {cloud: nowhere}\n")
    descriptor = flat_pair(tmp_path)
    for extra in ([], ["--dry-run"]):
        result = vmwctl("--config", str(config), "image", "upload", str(descriptor), "--name",
                        "img", *extra)
        assert result.exit_code == 2
        assert result.stderr == (f"Error: refusing to upload {tmp_path / 'converted-flat.vmdk'} "
                                 f"(the flat extent of {descriptor}): {REFUSED}\n")
        assert result.stdout == ""
