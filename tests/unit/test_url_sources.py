"""Published checksums and URLs as messages show them (no network)."""

from __future__ import annotations

import pytest

from vmwctl.errors import UsageError
from vmwctl.images.digests import from_checksums_file, parse_checksum
from vmwctl.images.remote import file_name, is_url, secret_values, shown

A = "ab" * 32
B = "cd" * 64


def test_a_checksum_flag() -> None:
    expected = parse_checksum(f"SHA-256:{A.upper()}")
    assert (expected.algorithm, expected.hex, expected.origin) == ("sha256", A, "--checksum")
    assert parse_checksum(f"sha512:{B}").algorithm == "sha512"


@pytest.mark.parametrize("text, message", [
    (A, f"--checksum {A!r}: expected ALG:HEX, e.g. sha256:9f86d081..."),
    ("md5:" + "a" * 32, "--checksum md5: not accepted (md5 no longer proves the bytes are the "
                        "publisher's); give the sha256 or sha512 the publisher lists"),
    ("crc:1234", "--checksum 'crc': unknown algorithm; use one of sha256, sha384, sha512"),
    ("sha256:abc", "--checksum: a sha256 is 64 hexadecimal digits, not 'abc'"),
])
def test_a_bad_checksum_flag(text: str, message: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_checksum(text)
    assert caught.value.message == message


def test_a_checksums_file_in_gnu_and_bsd_layouts() -> None:
    text = (f"# comment\n{A}  other.img\n{A} *./disk.img\n"
            f"SHA512 (disk.img) = {B}\nnot a checksum line\n")
    found = from_checksums_file(text, "disk.img", "https://h/SHA256SUMS")
    assert (found.algorithm, found.hex) == ("sha512", B)  # the strongest given
    assert from_checksums_file(text, "other.img", "x").hex == A


@pytest.mark.parametrize("text, message", [
    (f"{A}  other.img\n", "the checksums file u has no line for 'disk.img'; give the file "
                          "published beside the image, or --checksum ALG:HEX"),
    ("<html>nope</html>", "the checksums file u has no SHA-256/384/512 lines; give the file "
                          "published beside the image, or --checksum ALG:HEX"),
])
def test_a_checksums_file_without_the_line(text: str, message: str) -> None:
    with pytest.raises(UsageError) as caught:
        from_checksums_file(text, "disk.img", "u")
    assert caught.value.message == message


def test_urls_as_shown() -> None:
    assert is_url("https://h/x.vmdk") and is_url("HTTP://h/x") and not is_url("disk.vmdk")
    assert not is_url("ftp://h/x")
    assert shown("https://ops:p%40ss@h:8443/a/b.vmdk?x=1") == \
        "https://ops:********@h:8443/a/b.vmdk?x=1"
    assert shown("https://h/a") == "https://h/a"


def test_signed_urls_as_shown() -> None:
    signature = "0f3a9c5e7b1d2f4a6c8e0b2d4f6a8c0e"
    s3 = ("https://bucket.s3.amazonaws.com/images/disk.vmdk?X-Amz-Algorithm=AWS4-HMAC-SHA256"
          "&X-Amz-Credential=AKIAEXAMPLE%2F20261203%2Fus-east-1%2Fs3%2Faws4_request"
          f"&X-Amz-Date=20261203T000000Z&X-Amz-Expires=3600&X-Amz-Signature={signature}")
    assert shown(s3) == (
        "https://bucket.s3.amazonaws.com/images/disk.vmdk?X-Amz-Algorithm=AWS4-HMAC-SHA256"
        "&X-Amz-Credential=********&X-Amz-Date=20261203T000000Z&X-Amz-Expires=3600"
        "&X-Amz-Signature=********")
    assert secret_values(s3) == ["AKIAEXAMPLE%2F20261203%2Fus-east-1%2Fs3%2Faws4_request",
                                 "AKIAEXAMPLE/20261203/us-east-1/s3/aws4_request",
                                 signature, signature]
    swift = f"https://h/v1/AUTH_x/c/o.vmdk?temp_url_sig={signature}&temp_url_expires=17"
    assert shown(swift) == "https://h/v1/AUTH_x/c/o.vmdk?temp_url_sig=********" \
                           "&temp_url_expires=17"
    sas = "https://a.blob.core.windows.net/c/d.vmdk?sv=2022&sig=abc%2Bdef%3D&token=&x=1"
    assert shown(sas) == "https://a.blob.core.windows.net/c/d.vmdk?sv=2022&sig=********" \
                         "&token=&x=1"
    assert secret_values(sas) == ["abc%2Bdef%3D", "abc+def="]
    assert secret_values("https://h/x?X-Amz-SignedHeaders=host") == []
    assert shown("https://ops:pw@h/x?token=t0k3n") == "https://ops:********@h/x?token=********"
    assert file_name("https://h/a/my%20disk.vmdk?x=1") == "my disk.vmdk"
