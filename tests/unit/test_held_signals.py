"""held_signals: a step that must not be cut in two (the vCenter login and logout); a work
directory that no signal leaves behind."""

from __future__ import annotations

import os
import signal
import tempfile

import pytest

from vmwctl.common.files import work_directory
from vmwctl.common.interrupts import held_signals
from vmwctl.errors import Terminated


def test_a_first_signal_waits_for_the_end_of_the_step() -> None:
    done = []
    with pytest.raises(KeyboardInterrupt), held_signals():
        os.kill(os.getpid(), signal.SIGINT)
        done.append("the step")  # not cut
    assert done == ["the step"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_second_signal_acts_at_once() -> None:
    done = []
    with pytest.raises(KeyboardInterrupt), held_signals():
        os.kill(os.getpid(), signal.SIGINT)
        os.kill(os.getpid(), signal.SIGINT)
        done.append("the rest of a step that hangs")
    assert done == []
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_sigterm_goes_to_the_handler_in_place_before() -> None:
    seen: list[int] = []
    previous = signal.signal(signal.SIGTERM, lambda signum, _frame: seen.append(signum))
    try:
        with held_signals():
            os.kill(os.getpid(), signal.SIGTERM)
            assert seen == []
        assert seen == [signal.SIGTERM]
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_nothing_held_nothing_raised() -> None:
    with held_signals():
        pass
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


@pytest.mark.parametrize("signum, raised", [(signal.SIGINT, KeyboardInterrupt),
                                            (signal.SIGTERM, Terminated)])
def test_a_signal_while_a_work_directory_is_made_leaves_nothing(
        tmp_path, monkeypatch: pytest.MonkeyPatch, signum: int, raised: type) -> None:
    """The moment of the flake in test_convert.py's SIGINT test: the directory exists, the
    block that removes it is not entered yet. The signal waits for that block."""
    made = tempfile.mkdtemp

    def made_then_signalled(**kwargs: object) -> str:
        path = made(**kwargs)  # type: ignore[call-overload]
        os.kill(os.getpid(), signum)  # after the mkdir, before mkdtemp returns
        return str(path)

    monkeypatch.setattr(tempfile, "mkdtemp", made_then_signalled)
    ran = []
    parent = tmp_path / "out"
    parent.mkdir()
    with pytest.raises(raised), work_directory(".vmwctl-convert-", parent):
        ran.append("the block")
    assert ran == [] and list(parent.iterdir()) == []
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_work_directory_is_removed_with_what_it_holds(tmp_path) -> None:
    parent = tmp_path / "out"
    parent.mkdir()
    with pytest.raises(OSError, match="failed"), work_directory("vmwctl-x-", parent) as workdir:
        assert workdir.parent == parent and workdir.stat().st_mode & 0o777 == 0o700
        (workdir / "partial.vmdk").write_bytes(b"x")
        raise OSError("failed")
    assert list(parent.iterdir()) == []
