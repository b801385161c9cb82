"""Redaction of secrets (vmwctl/common/redact.py): a short password is hidden where it stands
as a token of its own and nowhere else, so that the words around it survive; a long one is
hidden anywhere. The same rule holds for messages, log records and their tracebacks.
tests/reliability/test_secrets.py checks the same through the command line."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator

import pytest

from vmwctl.common import redact
from vmwctl.common.redact import REDACTED, RedactingFilter

R = REDACTED
ERROR = ("no datastore of cluster 'Mac-Cluster' passes Nova's datastore filter; pass "
         "--datastore NAME ('vmwctl cluster inspect' shows why each is refused)")


@pytest.fixture(autouse=True)
def no_secrets() -> Iterator[None]:
    redact.forget_all()
    yield
    redact.forget_all()


def as_token(secret: str) -> re.Pattern[str]:
    """``secret`` where it stands alone: no letter, digit or underscore on either side."""
    return re.compile(rf"(?<!\w){re.escape(secret)}(?!\w)")


# (password, text, expected): each text is redacted with only that password registered
CASES = [
    # the error that started it: 'passes' survives, the token 'pass' does not
    ("pass", ERROR, ERROR.replace("; pass --", f"; {R} --")),
    ("pass", "the check passes; bypass the compass while passing", None),
    ("pass", "mot de passé, pass_word, pass2, 2pass", None),
    ("pass", "password=pass", f"password={R}"),
    ("pass", "https://admin:pass@vc.example.com/sdk", f"https://admin:{R}@vc.example.com/sdk"),
    ("pass", 'login failed for "pass"', f'login failed for "{R}"'),
    ("pass", "pass", R),
    ("pass", "first line\npass\nlast line", f"first line\n{R}\nlast line"),
    ("pass", "pass,pass;pass pass-pass", f"{R},{R};{R} {R}-{R}"),
    ("pass", "Pass PASS", None),  # passwords are case-sensitive, so is the search
    ("admin", "administrator@vsphere.local is not admin; sysadmins and admin_role stay",
     f"administrator@vsphere.local is not {R}; sysadmins and admin_role stay"),
    ("vmware", "[vmware] host_password = vmware for vmwareapi.VMwareVCDriver",
     f"[{R}] host_password = {R} for vmwareapi.VMwareVCDriver"),
    ("secret", "secrets and secretary survive; token=secret",
     f"secrets and secretary survive; token={R}"),
    # 8 characters or more: hidden inside words too, whatever the words around
    ("password", "vmware.host_password is password",
     f"vmware.host_{R} is {R}"),
    ("Passw0rd!", "pw=Passw0rd!, xPassw0rd!y, Passw0rd!Passw0rd!",
     f"pw={R}, x{R}y, {R}{R}"),
    ("Zq9-s3cret-PW", "prefixZq9-s3cret-PWsuffix", f"prefix{R}suffix"),
    # regex metacharacters are literal; '(' ends the secret: a letter after it is no word
    ("a.b*c(", "pw=a.b*c( then a.b*c(x, aXb*c( aab*c( a.bbbc(",
     f"pw={R} then {R}x, aXb*c( aab*c( a.bbbc("),
    ("a.b*c(", "xa.b*c(", None),
    # spaces inside the secret
    ("my pw", "login 'my pw' failed; my pwd, my pws stay",
     f"login '{R}' failed; my pwd, my pws stay"),
    # URL-quoted forms, as GOVC_URL's userinfo carries them
    ("p@ss", "https://u:p%40ss@vc/sdk and p@ss", f"https://u:{R}@vc/sdk and {R}"),
    ("my pw", "q=my+pw&r=my%20pw", f"q={R}&r={R}"),
    ("pass/wd", "u:pass%2Fwd@h", f"u:{R}@h"),
    # fewer than 3 characters: not registered (and warned about by the caller)
    ("ab", "ab: ab is ab", None),
]


@pytest.mark.parametrize("secret, text, expected", CASES)
def test_redact(secret: str, text: str, expected: str | None) -> None:
    redact.register(secret)
    result = redact.redact(text)
    assert result == (text if expected is None else expected)
    if redact.coverage(secret) == "anywhere":
        assert secret not in result
    elif redact.coverage(secret) == "alone":
        assert not as_token(secret).search(result), result


@pytest.mark.parametrize("secret", ["pass", "admin", "vmware", "secret", "password",
                                    "Passw0rd!", "a.b*c(", "my pw", "Zq9-s3cret-PW"])
def test_a_json_document_keeps_its_shape_and_loses_the_secret(secret: str) -> None:
    redact.register(secret)
    document = {"error": {"message": f"login of admin with {secret} failed; retry passes",
                          "password": secret, "list": [secret, secret]}}
    text = redact.redact(json.dumps(document, indent=2))
    key = R if secret == "password" else "password"  # 8 characters: hidden anywhere
    assert json.loads(text) == {"error": {
        "message": f"login of {R if secret == 'admin' else 'admin'} with {R} failed; "
                   "retry passes",
        key: R, "list": [R, R]}}


def test_overlapping_secrets_of_different_lengths_are_hidden_whole() -> None:
    """The longer secret is hidden whole, not as the short one's token plus a leftover; two
    secrets that overlap in the text become one mark; a short one still hides alone."""
    for secret in ("pass", "pass-phrase-9", "abcdefgh12", "12xyzabcde"):
        redact.register(secret)
    assert redact.redact("pass-phrase-9 pass") == f"{R} {R}"
    assert redact.redact("abcdefgh12xyzabcde!") == f"{R}!"
    assert redact.redact("passes pass-phrase-9x") == f"passes {R}x"


def test_a_secret_that_overlaps_itself_is_hidden_whole() -> None:
    redact.register("abcabcab")
    assert redact.redact("abcabcabcab") == R
    assert redact.redact("abcabcab abcabcab") == f"{R} {R}"


def test_coverage_and_registration() -> None:
    assert redact.coverage("ab") == "none"
    assert redact.coverage("abc") == redact.coverage("1234567") == "alone"
    assert redact.coverage("12345678") == "anywhere"
    for nothing in (None, "", "a", "ab"):
        redact.register(nothing)
    assert redact.redact("a ab b") == "a ab b"
    redact.register("pass")
    redact.register("pass")  # twice is once
    assert redact.redact("pass") == R
    redact.forget_all()
    assert redact.redact("pass") == "pass"


@pytest.mark.parametrize("password, warned", [
    ("ab", "fewer than 3 characters"), ("pass", "fewer than 8 characters"),
    ("a.b*c(", "fewer than 8 characters"), ("1234567", "fewer than 8 characters"),
    ("12345678", None), ("Zq9-s3cret-PW", None)])
def test_a_short_password_draws_one_warning_without_the_password(password: str,
                                                                  warned: str | None) -> None:
    from vmwctl.profile.passwords import password_warnings

    warnings = password_warnings(password)
    if warned is None:
        assert warnings == []
        return
    assert len(warnings) == 1
    assert warned in warnings[0]
    assert "give the vCenter service account a password of 8 characters or more" in warnings[0]
    # any word of the message may be a short password: not these ones, and the output
    # redacts the message like any other
    assert not as_token(password).search(warnings[0])


def _log(message: str, *args: object, exc: BaseException | None = None) -> str:
    """What a handler with the RedactingFilter writes for one record."""
    import io

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter())
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    logger = logging.getLogger("test_redact")  # not under "vmwctl", whose level runs change
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    logger.propagate = False
    try:
        if exc is None:
            logger.warning(message, *args)
        else:
            try:
                raise exc
            except type(exc):
                logger.exception(message, *args)
    finally:
        logger.removeHandler(handler)
    return stream.getvalue()


def test_the_log_filter_follows_the_same_rule() -> None:
    redact.register("pass")
    redact.register("Zq9-s3cret-PW")
    assert _log("login %s with %s passes", "user:pass@vc", "xZq9-s3cret-PWx") == \
        f"WARNING login user:{R}@vc with x{R}x passes\n"
    written = _log("failed: %s", "pass", exc=RuntimeError(f"{ERROR} pass=pass"))
    assert written.startswith(f"ERROR failed: {R}\nTraceback")
    assert written.endswith(f"RuntimeError: {ERROR.replace('; pass --', f'; {R} --')} "
                            f"{R}={R}\n")
    assert not as_token("pass").search(written)
    assert "passes Nova's datastore filter" in written


def test_the_log_filter_changes_nothing_without_secrets() -> None:
    assert _log("a %s of %d", "pass", 3) == "WARNING a pass of 3\n"
