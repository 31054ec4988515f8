"""Atomizing a small policy document into knowledge-base rules (structure and teacher)."""

from __future__ import annotations

import json

import pytest

from ecomrel.errors import DataError
from ecomrel.reason.atomize import atomize_text, atomize_with_teacher, run_atomize, sentences
from ecomrel.reason.kb import load_kb
from ecomrel.reason.teacher import TeacherError

POLICY = """\
# Relevance policy

Intro text that is long enough to be a rule of its own. Short one.

## Negation
- A product that has what the query excludes is at most a complement. A product without it is graded
  by the rest of the query.
- Brand exclusions such as "not nike" count as exclusions.

## Price rules
Products above the stated price limit are at most a substitute. Cheap means the cheaper third of the
kind, e.g. for air fryers under about $60.

```
code blocks are ignored entirely here
```

### Alternatives
1. For "X like Y" queries, the brand Y itself is at most a substitute.
2. ok
"""


def test_structure_splits_bullets_and_sentences():
    rules = atomize_text(POLICY)
    texts = [r["text"] for r in rules]
    assert texts == [
        "Intro text that is long enough to be a rule of its own.",
        "A product that has what the query excludes is at most a complement.",
        "A product without it is graded by the rest of the query.",
        'Brand exclusions such as "not nike" count as exclusions.',
        "Products above the stated price limit are at most a substitute.",
        "Cheap means the cheaper third of the kind, e.g. for air fryers under about $60.",
        'For "X like Y" queries, the brand Y itself is at most a substitute.',
    ]
    ids = [r["id"] for r in rules]
    assert len(set(ids)) == len(ids)
    assert ids[1] == "relevance.negation.1" and ids[-1] == "price.alternatives.1"
    assert "negation" in rules[1]["tags"] and "alternatives" in rules[-1]["tags"]


def test_sentences_keep_abbreviations():
    assert sentences("Use e.g. cases. Then more.") == ["Use e.g. cases.", "Then more."]


def test_run_atomize_writes_a_loadable_kb(tmp_path):
    (tmp_path / "policy.md").write_text(POLICY, encoding="utf-8")
    summary = run_atomize(tmp_path / "policy.md", tmp_path / "kb.yaml")
    kb = load_kb(tmp_path / "kb.yaml")
    assert summary["rules"] == len(kb) == 7 and summary["method"] == "structure"
    assert kb.get("relevance.negation.3").text.startswith("Brand exclusions")
    with pytest.raises(DataError, match="not found"):
        run_atomize(tmp_path / "missing.md", tmp_path / "kb2.yaml")
    (tmp_path / "empty.md").write_text("# Title\n\nok\n", encoding="utf-8")
    with pytest.raises(DataError, match="no rules found"):
        run_atomize(tmp_path / "empty.md", tmp_path / "kb3.yaml")


class FakeTeacher:
    name = "openai"

    def __init__(self, answer: str):
        self.answer = answer
        self.messages = None

    def complete(self, messages):
        self.messages = messages
        return self.answer, False


def test_teacher_atomizes_to_json_rules(tmp_path):
    answer = (
        "```json\n"
        + json.dumps(
            [
                {"id": "neg.excluded", "text": "Excluded features cap at complement.", "tags": ["negation"]},
                {"id": "Neg Excluded", "text": "Brand exclusions count."},
                {"text": "Over budget is at most substitute."},
            ]
        )
        + "\n```"
    )
    t = FakeTeacher(answer)
    rules = atomize_with_teacher(POLICY, t)
    assert [r["id"] for r in rules] == ["neg.excluded", "neg_excluded", "policy.3"]
    assert "Negation" in t.messages[-1]["content"]
    (tmp_path / "p.md").write_text(POLICY, encoding="utf-8")
    assert run_atomize(tmp_path / "p.md", tmp_path / "kb.yaml", teacher=t)["method"] == "teacher"
    with pytest.raises(TeacherError, match="not JSON"):
        atomize_with_teacher(POLICY, FakeTeacher("sorry"))
    with pytest.raises(TeacherError, match="no 'text'"):
        atomize_with_teacher(POLICY, FakeTeacher('[{"id": "a"}]'))


def test_cli_atomize(tmp_path):
    typer_testing = pytest.importorskip("typer.testing")
    from ecomrel.cli.reason import app

    (tmp_path / "policy.md").write_text(POLICY, encoding="utf-8")
    r = typer_testing.CliRunner().invoke(
        app, ["atomize", str(tmp_path / "policy.md"), "--out", str(tmp_path / "kb.yaml")]
    )
    assert r.exit_code == 0, r.output
    assert "7 atomic rules" in r.output
    r = typer_testing.CliRunner().invoke(app, ["check-kb", str(tmp_path / "kb.yaml")])
    assert r.exit_code == 0 and "relevance.negation.1" in r.output
    (tmp_path / "bad.yaml").write_text("rules:\n  - id: a\n    text: x\n    colour: red\n", encoding="utf-8")
    r = typer_testing.CliRunner().invoke(app, ["check-kb", str(tmp_path / "bad.yaml")])
    assert r.exit_code == 2 and "line 4" in r.output
