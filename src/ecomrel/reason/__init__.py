"""Reasoning for the judge (LREF Multi-CoT, TaoSR1 CoT): the attribute analyst, business rules,
EE / RA / DR chain builders and the teachers that write EE chains.

- :mod:`~ecomrel.reason.vocabulary`: brands, product words, categories and attribute values learned
  from the catalogue itself, plus a few built-in generic word lists.
- :mod:`~ecomrel.reason.analyst`: query and product facts and where they match (no LLM).
- :mod:`~ecomrel.reason.rules`: YAML business rules over the analyst's findings ⇒ grade bounds.
- :mod:`~ecomrel.reason.chains`: label-first EE / RA / DR chains and the ``cot`` stage.
- :mod:`~ecomrel.reason.teacher`: the built-in teacher and an OpenAI-compatible API teacher.
"""

from ecomrel.reason.analyst import ANALYSIS_FIELDS, Analysis, AttributeAnalyst, analyze_pairs
from ecomrel.reason.chains import CHAIN_COLUMNS, build_chains, run_chains
from ecomrel.reason.chains_config import ChainConfig, TeacherConfig
from ecomrel.reason.rules import RuleOutcome, RuleSet, apply_rules, default_rules, load_rules, parse_rules
from ecomrel.reason.teacher import BuiltinTeacher, OpenAITeacher, Teacher, TeacherError, make_teacher
from ecomrel.reason.vocabulary import Vocabulary

__all__ = [
    "ANALYSIS_FIELDS",
    "CHAIN_COLUMNS",
    "Analysis",
    "AttributeAnalyst",
    "BuiltinTeacher",
    "ChainConfig",
    "OpenAITeacher",
    "RuleOutcome",
    "RuleSet",
    "Teacher",
    "TeacherConfig",
    "TeacherError",
    "Vocabulary",
    "analyze_pairs",
    "apply_rules",
    "build_chains",
    "default_rules",
    "load_rules",
    "make_teacher",
    "parse_rules",
    "run_chains",
]
