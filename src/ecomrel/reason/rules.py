"""Business rules for rule-adherence (RA) chains: YAML conditions on analyst findings ⇒ grade bounds.

A rules file (see ``resources/rules/default_rules.yaml`` for the documented default)::

    default_grade: exact          # grade when no rule pins one (then capped by the bounds that fired)
    rules:
      - id: product_word_mismatch
        description: The product is a different kind of thing than the one searched for.
        explanation: "the query asks for '{query_product_word}', the product is '{product_product_word}'"
        when: {product_word_match: none}
        effect: {max_grade: irrelevant}
        priority: 90

``when`` is a small declarative condition over the fields of
:data:`ecomrel.reason.analyst.ANALYSIS_FIELDS` — never evaluated as code. Each entry must hold:
``field: value`` (equality), ``field: [a, b]`` (membership), ``field: {op: value}`` with op in
eq, ne, in, not_in, gt, ge, lt, le; and the combinators ``all: [...]``, ``any: [...]``, ``not: {...}``.
``effect`` is one of ``max_grade``, ``min_grade``, ``set_grade`` with a grade number or name.

Rules fire in descending priority; a bound that contradicts a higher-priority one is overridden
(and reported), so the strongest rule wins. A bad file raises :class:`DataError` naming the line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from ecomrel.data.schema import DataError
from ecomrel.grades import DEFAULT_SCALE, GradeScale
from ecomrel.reason.analyst import ANALYSIS_FIELDS, Analysis, FieldSpec

EFFECTS = ("max_grade", "min_grade", "set_grade")
OPERATORS = ("eq", "ne", "in", "not_in", "gt", "ge", "lt", "le")
COMBINATORS = ("all", "any", "not")
RULE_KEYS = ("id", "description", "explanation", "when", "effect", "priority")
TOP_KEYS = ("version", "default_grade", "rules")
_TEMPLATE_FIELD = re.compile(r"\{([a-zA-Z_][a-zA-Z0-9_]*)\}")
_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]*$")


# --- conditions ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Test:
    """``field <op> value``."""

    field: str
    op: str
    value: Any

    def evaluate(self, fields: dict[str, Any]) -> bool:
        x = fields.get(self.field)
        if self.op == "eq":
            return x == self.value
        if self.op == "ne":
            return x != self.value
        if self.op == "in":
            return x in self.value
        if self.op == "not_in":
            return x not in self.value
        if x is None or isinstance(x, bool):
            return False
        return {"gt": x > self.value, "ge": x >= self.value, "lt": x < self.value, "le": x <= self.value}[
            self.op
        ]

    def fields(self) -> set[str]:
        return {self.field}

    def describe(self) -> str:
        sym = {
            "eq": "is",
            "ne": "is not",
            "in": "is one of",
            "not_in": "is none of",
            "gt": ">",
            "ge": "≥",
            "lt": "<",
            "le": "≤",
        }[self.op]
        return f"{self.field} {sym} {_show(self.value)}"


@dataclass(frozen=True)
class All:
    parts: tuple[Any, ...]

    def fields(self) -> set[str]:
        return set().union(*(p.fields() for p in self.parts))

    def evaluate(self, fields: dict[str, Any]) -> bool:
        return all(p.evaluate(fields) for p in self.parts)

    def describe(self) -> str:
        return " and ".join(_paren(p) for p in self.parts)


@dataclass(frozen=True)
class Any_:
    parts: tuple[Any, ...]

    def fields(self) -> set[str]:
        return set().union(*(p.fields() for p in self.parts))

    def evaluate(self, fields: dict[str, Any]) -> bool:
        return any(p.evaluate(fields) for p in self.parts)

    def describe(self) -> str:
        return " or ".join(_paren(p) for p in self.parts)


@dataclass(frozen=True)
class Not:
    part: Any

    def fields(self) -> set[str]:
        return self.part.fields()

    def evaluate(self, fields: dict[str, Any]) -> bool:
        return not self.part.evaluate(fields)

    def describe(self) -> str:
        return f"not {_paren(self.part)}"


Condition = Test | All | Any_ | Not


def _active(v: Any, name: str) -> bool:
    if v is None or v is False or v == "" or v == 0:
        return False
    return not (name == "product_word_match" and v == "unknown")


def _paren(c: Condition) -> str:
    return f"({c.describe()})" if isinstance(c, All | Any_) and len(c.parts) > 1 else c.describe()


def _show(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, tuple | list):
        return "[" + ", ".join(_show(x) for x in v) + "]"
    return str(v)


# --- rules and outcomes -------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    id: str
    description: str
    when: Condition
    effect: str  # one of EFFECTS
    grade: int
    priority: int = 0
    explanation: str | None = None
    line: int | None = None

    def reason(self, fields: dict[str, Any]) -> str:
        """Why this rule fires for these fields: its explanation template, filled in."""
        return render_template(self.explanation or self.description, fields)

    def effect_text(self, scale: GradeScale = DEFAULT_SCALE) -> str:
        words = {"max_grade": "at most", "min_grade": "at least", "set_grade": "set to"}[self.effect]
        return f"{words} {scale.name(self.grade)} ({self.grade})"


@dataclass
class RuleSet:
    rules: list[Rule]
    default_grade: int
    scale: GradeScale = DEFAULT_SCALE
    source: str = "<default>"

    def __iter__(self):
        return iter(self.rules)

    def __len__(self) -> int:
        return len(self.rules)

    def text(self, only: list[str] | set[str] | None = None) -> str:
        """The rules as a short list, strongest first: the ``prompt_extra`` of RA chains."""
        lines = ["Business rules (highest priority first):"]
        for r in sorted(self.rules, key=lambda r: -r.priority):
            if only is None or r.id in only:
                lines.append(f"- {r.id}: {r.description} => grade {r.effect_text(self.scale)}.")
        return "\n".join(lines)

    def relevant(self, analysis: Analysis | dict[str, Any], outcome: RuleOutcome | None = None) -> list[str]:
        """Ids of the rules that concern this pair (TaoSR1 retrieves the applicable atomic rules):
        those that fired and those testing a field this pair has a value for (a brand rule when a
        brand is asked for, price rules when a price is stated, product-word rules always)."""
        fields = analysis.fields() if isinstance(analysis, Analysis) else dict(analysis)
        fired = {f.id for f in outcome.fired} if outcome is not None else set()
        out = []
        for r in self.rules:
            active = any(
                _active(fields.get(f), f) for f in r.when.fields() if f != "all_constraints_satisfied"
            )
            if r.id in fired or active:
                out.append(r.id)
        return out


@dataclass
class FiredRule:
    id: str
    effect: str
    grade: int
    priority: int
    reason: str
    applied: bool = True  # False: overridden by a higher-priority rule


@dataclass
class RuleOutcome:
    """The rules that fired for one pair, the grade they force, and why."""

    fired: list[FiredRule]
    grade: int
    reasons: list[str]
    low: int
    high: int
    overridden: list[str] = field(default_factory=list)

    @property
    def fired_ids(self) -> list[str]:
        return [f.id for f in self.fired if f.applied]


def apply_rules(analysis: Analysis | dict[str, Any], rules: RuleSet | None = None) -> RuleOutcome:
    """Fire every rule whose condition holds, strongest first; the grade is the pinned one if a rule
    sets it, else ``default_grade`` clamped into the bounds that fired."""
    rules = rules if rules is not None else default_rules()
    fields = analysis.fields() if isinstance(analysis, Analysis) else dict(analysis)
    lo, hi, pinned = 0, rules.scale.max_grade, None
    fired: list[FiredRule] = []
    for r in sorted(rules.rules, key=lambda r: -r.priority):
        if not r.when.evaluate(fields):
            continue
        fr = FiredRule(id=r.id, effect=r.effect, grade=r.grade, priority=r.priority, reason=r.reason(fields))
        if r.effect == "max_grade":
            fr.applied = r.grade >= lo and (pinned is None or r.grade >= pinned)
            if fr.applied:
                hi = min(hi, r.grade)
        elif r.effect == "min_grade":
            fr.applied = r.grade <= hi and (pinned is None or r.grade <= pinned)
            if fr.applied:
                lo = max(lo, r.grade)
        else:
            fr.applied = pinned is None and lo <= r.grade <= hi
            if fr.applied:
                pinned = r.grade
        fired.append(fr)
    grade = pinned if pinned is not None else min(max(rules.default_grade, lo), hi)
    return RuleOutcome(
        fired=fired,
        grade=grade,
        reasons=[f.reason for f in fired if f.applied],
        low=lo,
        high=hi,
        overridden=[f.id for f in fired if not f.applied],
    )


def render_template(text: str, fields: dict[str, Any]) -> str:
    """Fill ``{field}`` placeholders with analysis values (no format-string evaluation)."""

    def sub(m: re.Match[str]) -> str:
        v = fields.get(m.group(1))
        if v is None or v == "":
            return "unknown"
        if isinstance(v, float):
            return f"{v:g}"
        return str(v)

    return _TEMPLATE_FIELD.sub(sub, text)


# --- loading with line numbers ------------------------------------------------------------


def default_rules_path() -> Path:
    """The packaged, documented default rules file."""
    return Path(str(resources.files("ecomrel.resources") / "rules" / "default_rules.yaml"))


_DEFAULT_CACHE: dict[str, RuleSet] = {}


def default_rules(scale: GradeScale = DEFAULT_SCALE) -> RuleSet:
    key = ",".join(scale.names)
    if key not in _DEFAULT_CACHE:
        _DEFAULT_CACHE[key] = load_rules(default_rules_path(), scale=scale)
    return _DEFAULT_CACHE[key]


def load_rules(path: str | Path | RuleSet | None = None, scale: GradeScale = DEFAULT_SCALE) -> RuleSet:
    """A rules file (YAML); ``None`` gives the packaged default; a RuleSet is returned as is."""
    if isinstance(path, RuleSet):
        return path
    if path is None:
        path = default_rules_path()
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"rules file not found: {p}")
    return parse_rules(p.read_text(encoding="utf-8"), source=str(p), scale=scale)


class _Where:
    def __init__(self, source: str):
        self.source = source

    def err(self, node: yaml.Node | None, problem: str) -> DataError:
        if node is None:
            return DataError(f"{self.source}: {problem}")
        m = node.start_mark
        return DataError(f"{self.source}, line {m.line + 1}, column {m.column + 1}: {problem}")


def parse_rules(text: str, source: str = "<string>", scale: GradeScale = DEFAULT_SCALE) -> RuleSet:
    """Parse and validate rules YAML; every problem raises DataError with its line and column."""
    where = _Where(source)
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        at = f", line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise DataError(f"{source}{at}: invalid YAML: {exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:
        raise DataError(f"{source}: invalid YAML: {exc}") from None
    finally:
        loader.dispose()
    if root is None:
        raise DataError(f"{source}: the rules file is empty")
    top = _mapping(root, where, "the rules file")
    for key, (knode, _) in top.items():
        if key not in TOP_KEYS:
            raise where.err(knode, f"unknown top-level key {key!r}; expected one of {', '.join(TOP_KEYS)}")
    if "rules" not in top:
        raise where.err(root, "missing the 'rules' list")
    default = scale.max_grade
    if "default_grade" in top:
        default = _grade(top["default_grade"][1], where, scale, "default_grade")
    rules_node = top["rules"][1]
    if not isinstance(rules_node, yaml.SequenceNode):
        raise where.err(rules_node, "'rules' must be a list of rules (each starting with '- id: ...')")
    if not rules_node.value:
        raise where.err(rules_node, "'rules' is empty")
    rules: list[Rule] = []
    seen: dict[str, int] = {}
    for rnode in rules_node.value:
        rule = _rule(rnode, where, scale)
        if rule.id in seen:
            raise where.err(rnode, f"duplicate rule id {rule.id!r} (first defined on line {seen[rule.id]})")
        seen[rule.id] = rule.line or 0
        rules.append(rule)
    return RuleSet(rules=rules, default_grade=default, scale=scale, source=source)


def _mapping(node: yaml.Node, where: _Where, what: str) -> dict[str, tuple[yaml.Node, yaml.Node]]:
    if not isinstance(node, yaml.MappingNode):
        raise where.err(node, f"{what} must be a mapping (key: value), got {_kind(node)}")
    out: dict[str, tuple[yaml.Node, yaml.Node]] = {}
    for knode, vnode in node.value:
        if not isinstance(knode, yaml.ScalarNode):
            raise where.err(knode, f"keys of {what} must be plain names")
        key = str(knode.value)
        if key in out:
            raise where.err(knode, f"duplicate key {key!r} in {what}")
        out[key] = (knode, vnode)
    return out


def _kind(node: yaml.Node) -> str:
    return {yaml.MappingNode: "a mapping", yaml.SequenceNode: "a list"}.get(type(node), f"'{node.value}'")


def _scalar(node: yaml.Node, where: _Where, what: str) -> Any:
    if not isinstance(node, yaml.ScalarNode):
        raise where.err(node, f"{what} must be a single value, got {_kind(node)}")
    return _construct(node)


def _construct(node: yaml.ScalarNode) -> Any:
    loader = yaml.SafeLoader("")
    try:
        return loader.construct_object(node, deep=True)
    finally:
        loader.dispose()


def _grade(node: yaml.Node, where: _Where, scale: GradeScale, what: str) -> int:
    v = _scalar(node, where, what)
    if isinstance(v, bool):
        raise where.err(node, f"{what} must be a grade (0..{scale.max_grade} or a name), got {v}")
    if isinstance(v, int):
        if 0 <= v <= scale.max_grade:
            return v
        raise where.err(node, f"{what} {v} is outside the grade scale 0..{scale.max_grade}")
    try:
        return scale.grade_of(str(v))
    except KeyError:
        raise where.err(
            node, f"{what} {v!r} is not a grade; use 0..{scale.max_grade} or one of {', '.join(scale.names)}"
        ) from None


def _rule(node: yaml.Node, where: _Where, scale: GradeScale) -> Rule:
    m = _mapping(node, where, "a rule")
    for key, (knode, _) in m.items():
        if key not in RULE_KEYS:
            raise where.err(knode, f"unknown rule key {key!r}; expected {', '.join(RULE_KEYS)}")
    for key in ("id", "when", "effect"):
        if key not in m:
            raise where.err(node, f"rule is missing {key!r}")
    rid = _scalar(m["id"][1], where, "id")
    if not isinstance(rid, str) or not _ID.match(rid):
        raise where.err(
            m["id"][1], f"rule id {rid!r} must start with a letter and use letters, digits, _ . -"
        )
    desc = _scalar(m["description"][1], where, "description") if "description" in m else rid
    expl = _scalar(m["explanation"][1], where, "explanation") if "explanation" in m else None
    for name, tnode, text in (
        ("description", m.get("description"), desc),
        ("explanation", m.get("explanation"), expl),
    ):
        for ph in _TEMPLATE_FIELD.findall(str(text or "")):
            if ph not in ANALYSIS_FIELDS:
                raise where.err(
                    tnode[1] if tnode else node, f"{name} of rule {rid!r} uses unknown field {{{ph}}}"
                )
    priority = 0
    if "priority" in m:
        priority = _scalar(m["priority"][1], where, "priority")
        if isinstance(priority, bool) or not isinstance(priority, int):
            raise where.err(
                m["priority"][1], f"priority of rule {rid!r} must be an integer, got {priority!r}"
            )
    eff = _mapping(m["effect"][1], where, f"the effect of rule {rid!r}")
    if len(eff) != 1 or next(iter(eff)) not in EFFECTS:
        raise where.err(
            m["effect"][1],
            f"effect of rule {rid!r} must have exactly one of {', '.join(EFFECTS)}"
            f" (got {', '.join(eff) or 'nothing'})",
        )
    effect, (_, gnode) = next(iter(eff.items()))
    grade = _grade(gnode, where, scale, effect)
    when = _condition(m["when"][1], where, rid)
    return Rule(
        id=rid,
        description=str(desc),
        when=when,
        effect=effect,
        grade=grade,
        priority=priority,
        explanation=None if expl is None else str(expl),
        line=node.start_mark.line + 1,
    )


def _condition(node: yaml.Node, where: _Where, rid: str) -> Condition:
    m = _mapping(node, where, f"the condition of rule {rid!r}")
    if not m:
        raise where.err(node, f"the condition of rule {rid!r} is empty")
    parts: list[Condition] = []
    for key, (knode, vnode) in m.items():
        if key in ("all", "any"):
            if not isinstance(vnode, yaml.SequenceNode) or not vnode.value:
                raise where.err(vnode, f"'{key}' needs a non-empty list of conditions")
            subs = tuple(_condition(c, where, rid) for c in vnode.value)
            parts.append(All(subs) if key == "all" else Any_(subs))
        elif key == "not":
            parts.append(Not(_condition(vnode, where, rid)))
        elif key in ANALYSIS_FIELDS:
            parts.extend(_field_tests(key, ANALYSIS_FIELDS[key], vnode, where))
        else:
            close = [f for f in ANALYSIS_FIELDS if f.startswith(key[:4])][:3]
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise where.err(
                knode,
                f"unknown field {key!r} in the condition of rule {rid!r}{hint}; "
                f"fields: {', '.join(ANALYSIS_FIELDS)}",
            )
    return parts[0] if len(parts) == 1 else All(tuple(parts))


def _field_tests(name: str, spec: FieldSpec, node: yaml.Node, where: _Where) -> list[Test]:
    if isinstance(node, yaml.SequenceNode):
        return [Test(name, "in", tuple(_value(name, spec, v, where) for v in node.value))]
    if isinstance(node, yaml.MappingNode):
        tests = []
        for op, (onode, vnode) in _mapping(node, where, f"the test of {name!r}").items():
            if op not in OPERATORS:
                raise where.err(onode, f"unknown operator {op!r} for {name!r}; use {', '.join(OPERATORS)}")
            if op in ("in", "not_in"):
                if not isinstance(vnode, yaml.SequenceNode):
                    raise where.err(vnode, f"'{op}' needs a list of values")
                tests.append(Test(name, op, tuple(_value(name, spec, v, where) for v in vnode.value)))
            elif op in ("gt", "ge", "lt", "le"):
                if spec.kind not in ("int", "float"):
                    raise where.err(onode, f"'{op}' compares numbers, but {name!r} is a {spec.kind} field")
                tests.append(Test(name, op, _value(name, spec, vnode, where)))
            else:
                tests.append(Test(name, op, _value(name, spec, vnode, where)))
        return tests
    return [Test(name, "eq", _value(name, spec, node, where))]


def _value(name: str, spec: FieldSpec, node: yaml.Node, where: _Where) -> Any:
    v = _scalar(node, where, f"the value of {name!r}")
    if v is None:
        if not spec.nullable:
            raise where.err(node, f"{name!r} is never null")
        return None
    if spec.kind == "bool":
        if not isinstance(v, bool):
            raise where.err(node, f"{name!r} is true/false, got {v!r}")
    elif spec.kind in ("int", "float"):
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise where.err(node, f"{name!r} is a number, got {v!r}")
    elif spec.kind == "enum":
        v = str(v)
        if v not in spec.values:
            raise where.err(
                node,
                f"{v!r} is not a value of {name!r}; expected one of "
                f"{', '.join(spec.values)}{' or null' if spec.nullable else ''}",
            )
    else:
        v = str(v)
    return v
