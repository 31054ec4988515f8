"""Stage ``distill``: LREF distillation of the judge into a MiniLM cross-encoder student.

Teacher distributions are the judge's grade probabilities on train pairs — the zero-shot judge's
(``judge/train``, ``options.judge.train_limit``) or the SFT judge's (``sft/judge_train``,
``options.sft.train_limit``) — plus the human grades. A student trained without teacher scores is
named ``student_human_only``, never "distilled"; ``compare_human_only`` trains that baseline beside
the distilled student on the same pairs and steps, so the table shows whether the teacher helped.
The primary student scores every judged pair (``student_scores.parquet``) for the rank stage; the
human-only comparison scores the test split only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from ecomrel.data.schema import Dataset
from ecomrel.errors import ConfigError
from ecomrel.pipeline.registry import StageContext, StageOptions, console, stage
from ecomrel.pipeline.stages.common import TRAIN_SCORES, decided_row, one_line_errors

TEACHERS = {
    "judge": ("judge", "train"),
    "sft": ("sft", TRAIN_SCORES),
    "dpo": ("dpo", TRAIN_SCORES),
    "grpo": ("grpo", TRAIN_SCORES),
}


class DistillOptions(StageOptions):
    teacher: Literal["judge", "sft", "dpo", "grpo", "none"] = Field(
        "judge",
        description="Teacher scores on train pairs: the zero-shot judge's ('judge'), the SFT, DPO or GRPO "
        "judge's ('sft', 'dpo', 'grpo': that stage's train_limit), or none (a human-only student, named so).",
    )
    compare_human_only: bool = Field(
        True, description="Also train the human-only student on the same pairs, for the side-by-side row."
    )
    train: dict[str, Any] = Field(
        default_factory=dict,
        description="Any field of ecomrel.train.distill_config.DistillConfig (max_train_pairs, "
        "training_args: {num_train_epochs, max_steps, per_device_train_batch_size ...} ...).",
    )

    def check(self) -> None:
        from ecomrel.train.distill_config import DistillConfig

        owned = sorted({"data_dir", "teacher", "out", "human_only", "mode"} & set(self.train))
        if owned:
            raise ConfigError(f"options.distill.train: {', '.join(owned)} is set by the pipeline itself")
        one_line_errors(
            lambda: DistillConfig(data_dir=".", human_only=True, **self.train), "options.distill.train"
        )


def teacher_scores(ctx: StageContext, teacher: str) -> Path | None:
    if teacher == "none":
        return None
    path = ctx.path_of(*TEACHERS[teacher], "scores.parquet")
    if not path.exists():
        hint = f"options.{teacher}.train_limit"
        raise ConfigError(
            f"options.distill.teacher={teacher!r}: no teacher scores at {path}; set {hint} > 0 "
            "(and run that stage) or set options.distill.teacher=none for a human-only student"
        )
    return path


def training_pairs(ctx: StageContext, teacher: Path, cap: int) -> Path:
    """Every train pair the teacher scored, then a seeded sample of the other judged train pairs up
    to ``cap``: the student learns the judge's distribution wherever there is one, and the
    human-only comparison trains on exactly these pairs too (written as ``train_pairs.parquet``)."""
    import pandas as pd

    ds = Dataset.load(ctx.data_dir)
    train = ds.pairs("train")[["query_id", "product_id"]].astype(str)
    scored = pd.read_parquet(teacher, columns=["query_id", "product_id"]).astype(str)
    keys = ["query_id", "product_id"]
    taught = train.merge(scored.drop_duplicates(), on=keys)
    rest = train.merge(taught, on=keys, how="left", indicator=True)
    rest = rest[rest["_merge"] == "left_only"][keys]
    fill = rest.sample(min(len(rest), max(0, cap - len(taught))), random_state=ctx.seed)
    path = ctx.stage_dir / "train_pairs.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.concat([taught, fill], ignore_index=True).to_parquet(path, index=False)
    return path


def _train_student(
    ctx: StageContext, name: str, teacher: Path | None, train: dict[str, Any], pairs: Path | None
) -> dict:
    from ecomrel.train.distill_config import DistillConfig
    from ecomrel.train.distill_trainer import run_distill

    fields: dict[str, Any] = {"seed": ctx.seed, "max_train_pairs": 2000, **train}
    if pairs is not None:
        fields.update(train_pairs=pairs, max_train_pairs=None)
    fields["training_args"] = {"num_train_epochs": 1.0, **train.get("training_args", {})}
    config = DistillConfig(
        data_dir=ctx.data_dir, teacher=teacher, human_only=teacher is None, out=ctx.stage_dir / name, **fields
    )
    return {"config": config, "result": run_distill(config)}


def _score(ctx: StageContext, trained: dict, path: Path, split: str | None = None) -> Path:
    """Score every judged pair (``split=None``: the rank stage reads them all) or one split's."""
    import pandas as pd

    from ecomrel.student.model import load_student
    from ecomrel.student.predict import predict_proba, prediction_frame

    config, result = trained["config"], trained["result"]
    ds = Dataset.load(ctx.data_dir)
    pairs = ds.pairs()
    if split is not None:
        pairs = pairs[pairs["query_id"].isin(ds.split_queries(split))].reset_index(drop=True)
    student = load_student(result["model_dir"])
    products = [config.recipe.product_text(r) for r in pairs.to_dict("records")]
    probs = predict_proba(student, pairs["query"].fillna("").astype(str).tolist(), products)
    frame = pd.DataFrame(
        {"query_id": pairs["query_id"].astype(str), "product_id": pairs["product_id"].astype(str)}
    )
    prediction_frame(frame, probs).to_parquet(path, index=False)
    return path


@stage(
    "distill",
    options=DistillOptions,
    reads=("data", "judge", "sft", "dpo", "grpo"),
    summary="Distillation (LREF): a MiniLM cross-encoder learns the judge's grades + the human grades",
)
def distill_stage(ctx: StageContext) -> dict[str, dict[str, float]]:
    """Train the student (and the human-only baseline); score every pair; evaluate on test."""
    opts: DistillOptions = ctx.options
    teacher = teacher_scores(ctx, opts.teacher)
    runs = {("student_distilled" if teacher is not None else "student_human_only"): teacher}
    if teacher is not None and opts.compare_human_only:
        runs["student_human_only"] = None
    pairs = None
    if teacher is not None and "train_pairs" not in opts.train:
        pairs = training_pairs(ctx, teacher, int(opts.train.get("max_train_pairs") or 2000))
    rows: dict[str, dict[str, float]] = {}
    for i, (name, scores) in enumerate(runs.items()):
        trained = _train_student(ctx, name, scores, opts.train, pairs)
        path = ctx.stage_dir / (f"{name}_scores.parquet")
        _score(ctx, trained, path, split=None if i == 0 else "test")
        model_dir = Path(trained["result"]["model_dir"])
        if i == 0:  # the primary student: its folder and scores are what export/serve/rank read
            (ctx.stage_dir / "student_scores.parquet").write_bytes(path.read_bytes())
            (ctx.stage_dir / "primary.txt").write_text(f"{model_dir}\n")
        row = decided_row(ctx, name, path, trained["result"]["predictions"], save_beside=model_dir)
        row["train_seconds"] = float(trained["result"]["seconds"])
        row["train_pairs"] = int(trained["result"]["counts"].get("train_rows", 0))
        rows[name] = row
        console.print(
            f"distill: {name} trained in {row['train_seconds']:.0f}s on {row['train_pairs']:,} pairs"
        )
    return rows


def primary_student(ctx: StageContext) -> Path:
    """The model folder of the distill stage's primary student."""
    marker = ctx.path_of("distill", "primary.txt")
    if not marker.exists():
        raise ConfigError(f"no trained student in {ctx.path_of('distill')}: run the distill stage first")
    return Path(marker.read_text().strip())
