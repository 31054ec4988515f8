"""TaoSR1's knowledge base of atomic relevance rules (papers.md §3.3).

A retailer's relevance policy is hundreds of short natural-language rules; most cannot be written as
conditions, so they are *retrieved* per pair (:mod:`ecomrel.reason.retriever`) and handed to the
teacher that writes the chain (:mod:`ecomrel.reason.rag_chains`). Each atomic rule has

- ``id`` (letters, digits, ``_ . -``) and ``text`` (the rule, one sentence or two);
- optional ``scope``: ``categories`` (category prefixes such as ``Home > Kitchen``) and
  ``product_words`` (the rule only concerns pairs whose query or product has one of them);
- optional ``when``: a declarative condition in the language of :mod:`ecomrel.reason.rules`
  (``field: value``, ``field: [a, b]``, ``field: {ge: 1}``, ``all`` / ``any`` / ``not``) over the
  analyst's findings, and optional ``effect`` (``max_grade`` / ``min_grade`` / ``set_grade``) and
  ``priority``: rules with both are applied like business rules to give the built-in teacher's grade;
- optional ``tags`` (extra words the retriever matches, e.g. the query kind) and ``examples``
  (short ``query → product: grade`` lines).

YAML::

    version: 1
    default_grade: exact
    rules:
      - id: negation.excluded_present
        text: A product that has what the query excludes is at most a complement.
        tags: [negation, without, not]
        when: {negation_requested: true, negation_violated: true}
        effect: {max_grade: complement}
        priority: 100
        examples: ["sofa not leather -> leather sofa: complement"]

CSV: a header with ``id,text`` and any of ``categories,product_words,tags,when,effect,priority,
examples``; lists are ``|``-separated, ``when`` and ``effect`` are inline YAML
(``"{negation_violated: true}"``). Every problem raises :class:`~ecomrel.errors.DataError` naming the
file and line.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from ecomrel.errors import DataError
from ecomrel.grades import DEFAULT_SCALE, GradeScale
from ecomrel.reason.analyst import Analysis
from ecomrel.reason.rules import Condition, Rule, RuleOutcome, RuleSet, apply_rules, parse_rules

RULE_KEYS = ("id", "text", "scope", "tags", "when", "effect", "priority", "examples")
SCOPE_KEYS = ("categories", "product_words")
TOP_KEYS = ("version", "default_grade", "rules")
CSV_COLUMNS = ("id", "text", "categories", "product_words", "tags", "when", "effect", "priority", "examples")
_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]*$")


@dataclass(frozen=True)
class AtomicRule:
    """One atomic relevance rule."""

    id: str
    text: str
    categories: tuple[str, ...] = ()
    product_words: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    examples: tuple[str, ...] = ()
    when: Condition | None = None
    effect: str | None = None  # max_grade | min_grade | set_grade
    grade: int | None = None
    priority: int = 0
    line: int | None = None

    @property
    def declarative(self) -> bool:
        """The rule has a condition that can be evaluated on the analyst's findings."""
        return self.when is not None

    def fires(self, fields: dict[str, Any]) -> bool:
        return self.when is not None and bool(self.when.evaluate(fields))

    def in_scope(self, category: str | None, product_words: set[str]) -> bool:
        """Whether the pair (the product's category, the query's and product's product words) is in scope."""
        if self.categories:
            cat = (category or "").lower()
            if not any(cat.startswith(c.lower()) for c in self.categories):
                return False
        if self.product_words:
            words = {w.lower() for w in product_words if w}
            if not words & {w.lower() for w in self.product_words}:
                return False
        return True

    def search_text(self) -> str:
        """What the lexical and embedding retrievers index: id words, text, tags and examples."""
        return " ".join([self.id.replace(".", " ").replace("_", " "), self.text, *self.tags, *self.examples])

    def effect_text(self, scale: GradeScale = DEFAULT_SCALE) -> str | None:
        if self.effect is None or self.grade is None:
            return None
        words = {"max_grade": "at most", "min_grade": "at least", "set_grade": "set to"}[self.effect]
        return f"{words} {scale.name(self.grade)} ({self.grade})"


@dataclass
class KnowledgeBase:
    """The atomic rules, in file order, and the declarative part as a :class:`RuleSet`."""

    rules: list[AtomicRule]
    default_grade: int
    scale: GradeScale = DEFAULT_SCALE
    source: str = "<default>"
    _ruleset: RuleSet | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.rules)

    def __iter__(self):
        return iter(self.rules)

    @property
    def ids(self) -> list[str]:
        return [r.id for r in self.rules]

    def get(self, rule_id: str) -> AtomicRule:
        for r in self.rules:
            if r.id == rule_id:
                return r
        raise KeyError(rule_id)

    def ruleset(self) -> RuleSet:
        """The rules with a condition and an effect, as business rules (for the built-in teacher's grade)."""
        if self._ruleset is None:
            rules = [
                Rule(
                    id=r.id,
                    description=r.text,
                    when=r.when,
                    effect=r.effect,
                    grade=r.grade,
                    priority=r.priority,
                    line=r.line,
                )
                for r in self.rules
                if r.when is not None and r.effect is not None and r.grade is not None
            ]
            self._ruleset = RuleSet(
                rules=rules, default_grade=self.default_grade, scale=self.scale, source=self.source
            )
        return self._ruleset

    def outcome(self, analysis: Analysis | dict[str, Any]) -> RuleOutcome:
        """Apply the declarative rules (strongest first) to one pair's findings."""
        return apply_rules(analysis, self.ruleset())

    def fired(self, fields: dict[str, Any]) -> list[str]:
        """Ids of the rules whose condition holds for these findings (effect or not)."""
        return [r.id for r in self.rules if r.fires(fields)]

    def text(self, only: list[str] | None = None) -> str:
        """The rules as a prompt block, in the order of ``only`` (default: file order)."""
        chosen = [self.get(i) for i in only] if only is not None else self.rules
        lines = ["Relevance rules:"]
        for r in chosen:
            lines.append(f"- [{r.id}] {r.text}")
        return "\n".join(lines)

    def to_yaml(self) -> str:
        """The knowledge base as YAML (conditions are written back from the source objects)."""
        return dump_rules(
            [rule_dict(r, self.scale) for r in self.rules], default_grade=self.scale.name(self.default_grade)
        )


def rule_dict(r: AtomicRule, scale: GradeScale = DEFAULT_SCALE) -> dict[str, Any]:
    """A rule as a plain mapping (``when`` is not kept: conditions are not serialisable back)."""
    out: dict[str, Any] = {"id": r.id, "text": r.text}
    scope = {k: list(v) for k, v in (("categories", r.categories), ("product_words", r.product_words)) if v}
    if scope:
        out["scope"] = scope
    if r.tags:
        out["tags"] = list(r.tags)
    if r.examples:
        out["examples"] = list(r.examples)
    return out


def dump_rules(rules: list[dict[str, Any]], default_grade: str | int | None = None) -> str:
    """Rules (plain mappings) as knowledge-base YAML."""
    doc: dict[str, Any] = {"version": 1}
    if default_grade is not None:
        doc["default_grade"] = default_grade
    doc["rules"] = rules
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=110)


# --- loading --------------------------------------------------------------------------------


def default_kb_path() -> Path:
    """The packaged knowledge base covering the sample catalogue's query kinds."""
    return Path(str(resources.files("ecomrel.resources") / "kb" / "default_kb.yaml"))


_DEFAULT_CACHE: dict[str, KnowledgeBase] = {}


def default_kb(scale: GradeScale = DEFAULT_SCALE) -> KnowledgeBase:
    key = ",".join(scale.names)
    if key not in _DEFAULT_CACHE:
        _DEFAULT_CACHE[key] = load_kb(default_kb_path(), scale=scale)
    return _DEFAULT_CACHE[key]


def load_kb(
    path: str | Path | KnowledgeBase | None = None, scale: GradeScale = DEFAULT_SCALE
) -> KnowledgeBase:
    """A knowledge base from YAML (``.yaml``/``.yml``) or CSV (``.csv``); ``None``: the packaged one."""
    if isinstance(path, KnowledgeBase):
        return path
    if path is None:
        return default_kb(scale)
    p = Path(path)
    if not p.is_file():
        raise DataError(f"knowledge base not found: {p}")
    text = p.read_text(encoding="utf-8")
    if p.suffix.lower() == ".csv":
        return parse_kb_csv(text, source=str(p), scale=scale)
    if p.suffix.lower() not in (".yaml", ".yml"):
        raise DataError(f"{p}: a knowledge base is a .yaml, .yml or .csv file")
    return parse_kb(text, source=str(p), scale=scale)


def _err(source: str, node: yaml.Node | None, problem: str) -> DataError:
    if node is None:
        return DataError(f"{source}: {problem}")
    m = node.start_mark
    return DataError(f"{source}, line {m.line + 1}, column {m.column + 1}: {problem}")


def _construct(node: yaml.Node) -> Any:
    loader = yaml.SafeLoader("")
    try:
        return loader.construct_document(node)
    finally:
        loader.dispose()


def _compose(text: str, source: str) -> yaml.Node | None:
    loader = yaml.SafeLoader(text)
    try:
        return loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        at = f", line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise DataError(f"{source}{at}: invalid YAML: {exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:
        raise DataError(f"{source}: invalid YAML: {exc}") from None
    finally:
        loader.dispose()


def _pairs(node: yaml.Node, source: str, what: str) -> dict[str, tuple[yaml.Node, yaml.Node]]:
    if not isinstance(node, yaml.MappingNode):
        raise _err(source, node, f"{what} must be a mapping (key: value)")
    out: dict[str, tuple[yaml.Node, yaml.Node]] = {}
    for k, v in node.value:
        key = str(k.value) if isinstance(k, yaml.ScalarNode) else "?"
        if key in out:
            raise _err(source, k, f"duplicate key {key!r} in {what}")
        out[key] = (k, v)
    return out


def parse_kb(text: str, source: str = "<string>", scale: GradeScale = DEFAULT_SCALE) -> KnowledgeBase:
    """Parse and validate knowledge-base YAML; problems raise DataError with line and column."""
    root = _compose(text, source)
    if root is None:
        raise DataError(f"{source}: the knowledge base is empty")
    if isinstance(root, yaml.SequenceNode):  # a bare list of rules
        top = {"rules": (root, root)}
    else:
        top = _pairs(root, source, "the knowledge base")
    for key, (knode, _) in top.items():
        if key not in TOP_KEYS:
            raise _err(source, knode, f"unknown top-level key {key!r}; expected {', '.join(TOP_KEYS)}")
    if "rules" not in top:
        raise _err(source, root, "missing the 'rules' list")
    default = scale.max_grade
    if "default_grade" in top:
        default = _grade_value(_construct(top["default_grade"][1]), scale, source, top["default_grade"][1])
    rnode = top["rules"][1]
    if not isinstance(rnode, yaml.SequenceNode) or not rnode.value:
        raise _err(source, rnode, "'rules' must be a non-empty list (each item starting with '- id: ...')")
    rules: list[AtomicRule] = []
    seen: dict[str, int] = {}
    for item in rnode.value:
        rule = _yaml_rule(item, source, scale)
        if rule.id in seen:
            raise _err(source, item, f"duplicate rule id {rule.id!r} (first on line {seen[rule.id]})")
        seen[rule.id] = rule.line or 0
        rules.append(rule)
    return KnowledgeBase(rules=rules, default_grade=default, scale=scale, source=source)


def _grade_value(v: Any, scale: GradeScale, source: str, node: yaml.Node | None) -> int:
    if isinstance(v, bool) or v is None:
        raise _err(source, node, f"default_grade must be a grade (0..{scale.max_grade} or a name), got {v}")
    if isinstance(v, int) and 0 <= v <= scale.max_grade:
        return v
    try:
        return scale.grade_of(str(v))
    except KeyError:
        raise _err(
            source, node, f"{v!r} is not a grade; use 0..{scale.max_grade} or one of {', '.join(scale.names)}"
        ) from None


def _str_list(node: yaml.Node, source: str, what: str) -> tuple[str, ...]:
    if isinstance(node, yaml.ScalarNode):
        v = _construct(node)
        return () if v is None or v == "" else (str(v),)
    if not isinstance(node, yaml.SequenceNode):
        raise _err(source, node, f"{what} must be a list of strings")
    out = []
    for item in node.value:
        if not isinstance(item, yaml.ScalarNode):
            raise _err(source, item, f"{what} must be a list of strings")
        out.append(str(_construct(item)))
    return tuple(x.strip() for x in out if x.strip())


def _yaml_rule(node: yaml.Node, source: str, scale: GradeScale) -> AtomicRule:
    m = _pairs(node, source, "a rule")
    for key, (knode, _) in m.items():
        if key not in RULE_KEYS:
            raise _err(source, knode, f"unknown rule key {key!r}; expected {', '.join(RULE_KEYS)}")
    for key in ("id", "text"):
        if key not in m:
            raise _err(source, node, f"rule is missing {key!r}")
    rid = _construct(m["id"][1])
    if not isinstance(rid, str) or not _ID.match(rid):
        raise _err(
            source, m["id"][1], f"rule id {rid!r} must start with a letter and use letters, digits, _ . -"
        )
    text = _construct(m["text"][1])
    if not isinstance(text, str) or not text.strip():
        raise _err(source, m["text"][1], f"text of rule {rid!r} must be a non-empty string")
    cats: tuple[str, ...] = ()
    words: tuple[str, ...] = ()
    if "scope" in m:
        scope = _pairs(m["scope"][1], source, f"the scope of rule {rid!r}")
        for key, (knode, vnode) in scope.items():
            if key not in SCOPE_KEYS:
                raise _err(source, knode, f"unknown scope key {key!r}; expected {', '.join(SCOPE_KEYS)}")
            if key == "categories":
                cats = _str_list(vnode, source, "scope.categories")
            else:
                words = _str_list(vnode, source, "scope.product_words")
    tags = _str_list(m["tags"][1], source, "tags") if "tags" in m else ()
    examples = _str_list(m["examples"][1], source, "examples") if "examples" in m else ()
    line = node.start_mark.line + 1
    when_obj = _construct(m["when"][1]) if "when" in m else None
    effect_obj = _construct(m["effect"][1]) if "effect" in m else None
    prio_obj = _construct(m["priority"][1]) if "priority" in m else None
    anchor = m["when"][1] if "when" in m else (m["effect"][1] if "effect" in m else node)
    when, effect, grade, priority = _declarative(
        rid, when_obj, effect_obj, prio_obj, scale, lambda p: _err(source, anchor, p)
    )
    return AtomicRule(
        id=rid,
        text=" ".join(text.split()),
        categories=cats,
        product_words=words,
        tags=tags,
        examples=examples,
        when=when,
        effect=effect,
        grade=grade,
        priority=priority,
        line=line,
    )


def _declarative(rid, when_obj, effect_obj, prio_obj, scale, err) -> tuple[Any, str | None, int | None, int]:
    """Validate ``when`` / ``effect`` / ``priority`` with the business-rules parser of rules.py."""
    if prio_obj is not None and (isinstance(prio_obj, bool) or not isinstance(prio_obj, int)):
        raise err(f"priority of rule {rid!r} must be an integer, got {prio_obj!r}")
    priority = int(prio_obj or 0)
    if effect_obj is not None and when_obj is None:
        raise err(f"rule {rid!r} has an effect but no 'when' condition")
    if when_obj is None:
        return None, None, None, priority
    if not isinstance(when_obj, dict) or not when_obj:
        raise err(f"'when' of rule {rid!r} must be a non-empty mapping of conditions")
    if effect_obj is not None and not isinstance(effect_obj, dict):
        raise err(f"effect of rule {rid!r} must be a mapping such as {{max_grade: substitute}}")
    doc = {
        "default_grade": scale.max_grade,
        "rules": [
            {"id": rid, "when": when_obj, "effect": effect_obj or {"min_grade": 0}, "priority": priority}
        ],
    }
    try:
        rs = parse_rules(yaml.safe_dump(doc, sort_keys=False), source="kb", scale=scale)
    except DataError as exc:
        problem = re.sub(r"^kb(, line \d+, column \d+)?: ", "", str(exc))
        raise err(problem) from None
    r = rs.rules[0]
    if effect_obj is None:
        return r.when, None, None, priority
    return r.when, r.effect, r.grade, priority


def parse_kb_csv(text: str, source: str = "<string>", scale: GradeScale = DEFAULT_SCALE) -> KnowledgeBase:
    """A knowledge base from CSV (see the module docstring); errors name the line."""
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in (reader.fieldnames or [])]
    if not header:
        raise DataError(f"{source}: the CSV file is empty")
    unknown = [h for h in header if h not in CSV_COLUMNS]
    if unknown:
        raise DataError(f"{source}, line 1: unknown column(s) {unknown}; expected {', '.join(CSV_COLUMNS)}")
    for need in ("id", "text"):
        if need not in header:
            raise DataError(f"{source}, line 1: missing the column {need!r}")
    reader.fieldnames = header
    rules: list[AtomicRule] = []
    seen: dict[str, int] = {}
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise DataError(f"{source}, line {reader.line_num}: {exc}") from None
        line = reader.line_num
        if None in row:
            raise DataError(f"{source}, line {line}: more fields than columns")

        def err(problem: str, _line: int = line) -> DataError:
            return DataError(f"{source}, line {_line}: {problem}")

        rid = (row.get("id") or "").strip()
        if not rid and not any((v or "").strip() for v in row.values()):
            continue  # blank line
        if not _ID.match(rid):
            raise err(f"rule id {rid!r} must start with a letter and use letters, digits, _ . -")
        if rid in seen:
            raise err(f"duplicate rule id {rid!r} (first on line {seen[rid]})")
        text_ = " ".join((row.get("text") or "").split())
        if not text_:
            raise err(f"text of rule {rid!r} is empty")

        def inline(col: str, _err=err, row=row) -> Any:
            raw = (row.get(col) or "").strip()
            if not raw:
                return None
            try:
                return yaml.safe_load(raw)
            except yaml.YAMLError as exc:
                raise _err(f"column {col!r} is not valid inline YAML: {str(exc).splitlines()[0]}") from None

        prio_raw = (row.get("priority") or "").strip()
        prio: Any = None
        if prio_raw:
            try:
                prio = int(prio_raw)
            except ValueError:
                raise err(f"priority of rule {rid!r} must be an integer, got {prio_raw!r}") from None
        when, effect, grade, priority = _declarative(rid, inline("when"), inline("effect"), prio, scale, err)

        def split(col: str, row=row) -> tuple[str, ...]:
            return tuple(x.strip() for x in (row.get(col) or "").split("|") if x.strip())

        seen[rid] = line
        rules.append(
            AtomicRule(
                id=rid,
                text=text_,
                categories=split("categories"),
                product_words=split("product_words"),
                tags=split("tags"),
                examples=split("examples"),
                when=when,
                effect=effect,
                grade=grade,
                priority=priority,
                line=line,
            )
        )
    if not rules:
        raise DataError(f"{source}: no rules (only a header)")
    return KnowledgeBase(rules=rules, default_grade=scale.max_grade, scale=scale, source=source)
