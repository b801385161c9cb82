"""Tables as text: the width a pipe gets, no padding, identifiers kept whole."""

from __future__ import annotations

import io
import uuid

import pytest

from vmwctl.cli.format import table
from vmwctl.cli.output import PIPE_WIDTH, Output


def rendered(data, human, **env: str) -> str:
    stream = io.StringIO()
    Output(stdout=stream, stderr=io.StringIO(), env=env).result(data, human)
    return stream.getvalue()


def ids_table(ids: list[str]):
    return table("Images", ("IMAGE", "NAME", "WHY"),
                 [(i, "ubuntu-22.04-server-cloudimg", "unused: marked now, deleted after the "
                   "minimum age") for i in ids], whole=("IMAGE",))


@pytest.mark.parametrize("columns", [60, 80, 100, 140])
def test_a_pipe_follows_columns_and_keeps_ids_whole(columns: int) -> None:
    ids = [str(uuid.uuid4()) for _ in range(3)]
    text = rendered(ids, ids_table, COLUMNS=str(columns))
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= columns
    assert [line for line in lines if line != line.rstrip()] == []
    assert "…" not in text
    for image_id in ids:
        assert any(image_id in line for line in lines), text


def test_too_narrow_for_an_id_folds_it_rather_than_cutting_it() -> None:
    image_id = str(uuid.uuid4())
    text = rendered([image_id], ids_table, COLUMNS="30")
    assert max(len(line) for line in text.splitlines()) <= 30
    assert "…" not in text
    cells = "".join(line.split("│")[1].strip() for line in text.splitlines()
                    if line.startswith("│"))
    assert image_id in cells  # every character, over several lines


@pytest.mark.parametrize("columns", ["", "0", "-3", "wide", " 90x"])
def test_columns_that_give_no_width_leave_the_default(columns: str) -> None:
    assert Output(env={"COLUMNS": columns}).pipe_width() == PIPE_WIDTH
    assert Output(env={}).pipe_width() == PIPE_WIDTH
    assert Output(env={"COLUMNS": " 90 "}).pipe_width() == 90


def test_details_values_wrap_whole() -> None:
    from vmwctl.cli.format import details

    path = "[LocalDS_0] 192.0.2.10_base/" + str(uuid.uuid4()) + "/disk.vmdk"
    text = rendered(None, lambda _: details([("Parent disk", path)]), COLUMNS="50")
    assert "…" not in text and max(len(line) for line in text.splitlines()) <= 50
    value = "".join(line[len("Parent disk"):].strip() for line in text.splitlines())
    assert value == path.replace(" ", "")  # wrapped at its space, the rest folded
