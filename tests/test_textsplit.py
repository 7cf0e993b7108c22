"""Splitting long answers at platform limits without breaking code blocks."""

import pytest

from bot.approvals.scripts import join_script, split_script
from bot.output.textsplit import open_fence, split_text


def test_short_text_is_one_piece():
    assert split_text("hello", 10) == ["hello"]


def test_pieces_respect_the_limit_and_prefer_paragraph_breaks():
    text = "\n\n".join(f"Paragraph {n} " + "word " * 30 for n in range(10))
    pieces = split_text(text, 400)
    assert all(len(p) <= 400 for p in pieces)
    assert all(p.endswith("\n\n") for p in pieces[:-1])
    assert "".join(pieces) == text


def test_code_fences_are_closed_and_reopened_across_pieces():
    code = "\n".join(f"print({n})" for n in range(200))
    text = f"Here is the script:\n\n```python\n{code}\n```\nThat's it."
    pieces = split_text(text, 300)
    assert len(pieces) > 3
    for piece in pieces:
        assert len(piece) <= 300
        assert open_fence(piece) is None, piece  # every message renders on its own
    assert all(p.startswith("```python\n") for p in pieces[1:-1])
    # the code survives intact once the added fences are taken out
    joined = "\n".join(p.removesuffix("\n```").removeprefix("```python\n") for p in pieces)
    assert [f"print({n})" for n in range(200)] == [
        line for line in joined.splitlines() if line.startswith("print(")
    ]


def test_unbreakable_text_is_cut_hard():
    pieces = split_text("x" * 1000, 300)
    assert [len(p) for p in pieces] == [296, 296, 296, 112]


def test_open_fence_tracks_nesting_of_backticks_and_tildes():
    assert open_fence("```py\nx\n```\n") is None
    assert open_fence("```py\nx\n") == "```py"
    assert open_fence("~~~\n```\n") == "~~~"


@pytest.mark.parametrize(
    "script",
    [
        "",
        "short",
        "line\n" * 2000,
        "x" * 9001,  # one line longer than the limit: cut inside it
        "a\n\n\nb" * 700 + "\n",
        ("print('é')\n" * 500) + "y" * 4500,
    ],
)
def test_scripts_split_for_inputs_join_back_exactly(script):
    parts, joins = split_script(script, 3000)
    assert all(len(p) <= 3000 for p in parts)
    assert join_script(parts, joins) == script
    with pytest.raises(ValueError):
        join_script(parts, [*joins, "\n"])
