"""Split a relevance policy document into atomic rules for the knowledge base (TaoSR1 §3.3).

Two ways:

- :func:`atomize_text` (no model): Markdown structure. Headings (``#``..``######``) name the section a
  rule belongs to (its id prefix and tags); every bullet or numbered item is one rule; paragraphs
  are split into sentences, one rule each; a bullet holding several sentences is split too, so each
  rule says one thing. Very short fragments (fewer than ``min_words`` words) are dropped.
- :func:`atomize_with_teacher`: an OpenAI-compatible chat endpoint
  (:class:`ecomrel.reason.teacher.OpenAITeacher`) is asked to rewrite the document as a JSON list of
  ``{"id", "text", "tags"}`` atomic rules; the answer is validated like a knowledge-base file.

Both return plain rule mappings; :func:`write_kb` writes them as knowledge-base YAML and checks that
the file loads (:func:`ecomrel.reason.kb.load_kb`).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from ecomrel.errors import DataError
from ecomrel.reason.kb import KnowledgeBase, dump_rules, parse_kb

_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
_BULLET = re.compile(r"^\s*(?:[-*+•]|\d+[.)])\s+(.*)$")
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")
_ABBREV = re.compile(r"\b(e\.g|i\.e|etc|vs|approx|incl|no)\.$", re.I)
_STOP = frozenset({"and", "or", "the", "a", "an", "of", "for", "to", "in", "on", "rules", "rule", "policy"})

ATOMIZE_SYSTEM_PROMPT = (
    "You turn an e-commerce search relevance policy into atomic rules: each rule states exactly one "
    "condition and its consequence for the relevance grade, is self-contained (repeat the subject, no "
    "'it' or 'this' pointing to other rules) and keeps the policy's wording where possible. Answer with "
    'JSON only: a list of objects {"id": "section.short_name", "text": "...", "tags": ["...", ...]}; '
    "ids use lower-case letters, digits, '_' and '.' and are unique."
)


def slug(text: str, max_words: int = 3) -> str:
    words = [w for w in re.findall(r"[a-z0-9]+", text.lower()) if w not in _STOP]
    out = "_".join(words[:max_words])
    if not out or not out[0].isalpha():
        out = "r" + (f"_{out}" if out else "")
    return out


def sentences(text: str) -> list[str]:
    """Split a paragraph into sentences (not after e.g. / i.e. / etc.)."""
    parts, buf = [], ""
    for piece in _SENTENCE.split(" ".join(text.split())):
        buf = f"{buf} {piece}".strip() if buf else piece
        if not _ABBREV.search(buf):
            parts.append(buf)
            buf = ""
    if buf:
        parts.append(buf)
    return [p.strip() for p in parts if p.strip()]


def _clean(text: str) -> str:
    text = re.sub(r"\*\*|__|`", "", text)
    text = re.sub(r"\[([^\]]+)\]\([^)]+\)", r"\1", text)  # [text](link) -> text
    return " ".join(text.split())


def atomize_text(text: str, min_words: int = 4, source: str = "<policy>") -> list[dict[str, Any]]:
    """Atomic rules from a Markdown/plain-text policy: one per bullet item or sentence."""
    heads: list[str] = []
    levels: list[tuple[int, str]] = []
    rules: list[dict[str, Any]] = []
    para: list[str] = []
    counters: dict[str, int] = {}

    def add(sentence: str) -> None:
        sentence = _clean(sentence)
        if len(sentence.split()) < min_words:
            return
        prefix = ".".join(slug(h, 2) for h in heads[-2:]) or "policy"
        counters[prefix] = counters.get(prefix, 0) + 1
        rule: dict[str, Any] = {"id": f"{prefix}.{counters[prefix]}", "text": sentence}
        tags = list(
            dict.fromkeys(w for h in heads for w in re.findall(r"[a-z0-9]+", h.lower()) if w not in _STOP)
        )
        if tags:
            rule["tags"] = tags
        rules.append(rule)

    def flush() -> None:
        if para:
            for s in sentences(" ".join(para)):
                add(s)
            para.clear()

    in_code = False
    for line in text.splitlines():
        if line.strip().startswith("```"):
            flush()
            in_code = not in_code
            continue
        if in_code:
            continue
        h = _HEADING.match(line)
        if h:
            flush()
            level = len(h.group(1))
            levels[:] = [(lv, t) for lv, t in levels if lv < level] + [(level, _clean(h.group(2)))]
            heads[:] = [t for _, t in levels]
            continue
        b = _BULLET.match(line)
        if b:
            flush()
            for s in sentences(b.group(1)):
                add(s)
            continue
        if not line.strip():
            flush()
            continue
        if para == [] and rules and line.startswith(("  ", "\t")) and _BULLET.match(line) is None:
            # a continuation line of the previous bullet: append to that rule
            rules[-1]["text"] = f"{rules[-1]['text']} {_clean(line)}"
            continue
        para.append(line.strip())
    flush()
    if not rules:
        raise DataError(f"{source}: no rules found (no bullet items or sentences of {min_words}+ words)")
    return rules


def atomize_with_teacher(text: str, teacher: Any, source: str = "<policy>") -> list[dict[str, Any]]:
    """Atomic rules written by an OpenAI-compatible teacher (anything with ``complete(messages)``)."""
    from ecomrel.reason.teacher import TeacherError

    if not hasattr(teacher, "complete"):
        raise DataError("atomizing with a teacher needs an OpenAI-compatible teacher (--teacher openai)")
    messages = [
        {"role": "system", "content": ATOMIZE_SYSTEM_PROMPT},
        {"role": "user", "content": f"Policy document:\n\n{text.strip()}\n\nThe atomic rules as JSON:"},
    ]
    answer, _ = teacher.complete(messages)
    body = answer.strip()
    m = re.search(r"```(?:json)?\s*(.*?)```", body, flags=re.S)
    if m:
        body = m.group(1).strip()
    try:
        data = json.loads(body)
    except ValueError:
        raise TeacherError(f"{source}: the teacher's answer is not JSON: {answer[:200]!r}") from None
    if isinstance(data, dict) and isinstance(data.get("rules"), list):
        data = data["rules"]
    if not isinstance(data, list) or not data:
        raise TeacherError(f"{source}: the teacher's answer is not a non-empty JSON list of rules")
    rules: list[dict[str, Any]] = []
    seen: set[str] = set()
    for i, item in enumerate(data, 1):
        if not isinstance(item, dict) or not str(item.get("text") or "").strip():
            raise TeacherError(f"{source}: rule {i} of the teacher's answer has no 'text'")
        rid = str(item.get("id") or f"policy.{i}").strip().lower().replace(" ", "_")
        if not re.match(r"^[a-z][a-z0-9_.-]*$", rid):
            rid = f"policy.{i}"
        while rid in seen:
            rid = f"{rid}_{i}"
        seen.add(rid)
        rule: dict[str, Any] = {"id": rid, "text": " ".join(str(item["text"]).split())}
        tags = item.get("tags")
        if isinstance(tags, list) and tags:
            rule["tags"] = [str(t) for t in tags if str(t).strip()]
        rules.append(rule)
    return rules


def write_kb(rules: list[dict[str, Any]], out: str | Path, default_grade: str | None = None) -> KnowledgeBase:
    """Write rules as knowledge-base YAML (atomically) and return the file, loaded back."""
    text = dump_rules(rules, default_grade=default_grade)
    path = Path(out)
    kb = parse_kb(text, source=str(path))  # validate before writing
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return kb


def run_atomize(
    policy: str | Path, out: str | Path, teacher: Any = None, min_words: int = 4
) -> dict[str, Any]:
    """``ecomrel reason atomize``: policy document → knowledge-base YAML; returns a summary."""
    p = Path(policy)
    if not p.is_file():
        raise DataError(f"policy document not found: {p}")
    text = p.read_text(encoding="utf-8")
    if teacher is not None and getattr(teacher, "name", "builtin") != "builtin":
        rules = atomize_with_teacher(text, teacher, source=str(p))
        how = "teacher"
    else:
        rules = atomize_text(text, min_words=min_words, source=str(p))
        how = "structure"
    kb = write_kb(rules, out)
    return {"policy": str(p), "out": str(out), "method": how, "rules": len(kb), "ids": kb.ids}
