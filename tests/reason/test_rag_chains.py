"""``rag`` chains: five steps, label first, citing retrieved rule ids; conflicts; the API teacher, cost."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ecomrel.grades import DEFAULT_SCALE
from ecomrel.reason.chains import CHAIN_COLUMNS, build_chains
from ecomrel.reason.chains_config import ChainConfig, RagConfig, RetrieverConfig, TeacherConfig
from ecomrel.reason.rag_chains import (
    STEP_NAMES,
    chain_validity,
    cited_ids,
    correct_verdict,
    split_label,
    steps_present,
)
from ecomrel.reason.teacher import parse_verdict


def test_builtin_rag_chains_are_label_first_five_step_and_cite_retrieved_rules(mini_pairs):
    chains, report = build_chains(mini_pairs, kinds=["rag"], config=ChainConfig(on_conflict="drop"))
    assert list(chains.columns) == CHAIN_COLUMNS
    assert len(chains) == len(mini_pairs) and set(chains["kind"]) == {"rag"}
    for rec in chains.to_dict("records"):
        label, body = split_label(rec["target"])
        assert label == (rec["gold_grade"] if rec["status"] != "dropped" else rec["implied_grade"])
        assert all(steps_present(body)), body
        lines = body.splitlines()
        assert [ln.split(":")[0] for ln in lines] == [f"{i + 1}. {n}" for i, n in enumerate(STEP_NAMES)]
        retrieved = rec["rules_retrieved"].split(",")
        cited = rec["rules_fired"].split(",")
        assert cited and set(cited) <= set(retrieved), (cited, retrieved)
        assert parse_verdict(body) == label
    rag = report["rag"]
    counts = report["by_kind"]["rag"]
    assert counts["kept"] + counts["dropped"] == len(mini_pairs) and counts["corrected"] == 0
    assert counts["dropped"] == int((chains["implied_grade"] != chains["gold_grade"]).sum())
    assert rag["validity"]["label_first"] == 1.0 and rag["validity"]["five_steps"] == 1.0
    assert rag["validity"]["verdict_is_gold"] == pytest.approx(counts["kept"] / len(mini_pairs), abs=1e-4)
    assert rag["final_validity"]["all_valid"] == 1.0  # what is kept is valid
    assert rag["cost"]["teacher"] == "builtin" and rag["cost"]["seconds_per_1000_chains"] > 0


def test_correct_rewrites_the_verdict_and_counts(mini_pairs):
    cfg = ChainConfig(on_conflict="correct", rag=RagConfig(retriever=RetrieverConfig(k=3), prompt_rules=True))
    chains, report = build_chains(mini_pairs, kinds=["rag", "ra"], config=cfg)
    rag = chains[chains["kind"] == "rag"]
    assert report["by_kind"]["rag"]["corrected"] == int((rag["implied_grade"] != rag["gold_grade"]).sum()) > 0
    for rec in rag.to_dict("records"):
        label, body = split_label(rec["target"])
        assert label == rec["gold_grade"] == parse_verdict(body)
        assert all(steps_present(body)) and len(rec["rules_retrieved"].split(",")) <= 3
        assert rec["prompt_extra"].startswith("Relevance rules:")
    assert chain_validity(chains)["all_valid"] == 1.0
    assert set(chains["kind"]) == {"rag", "ra"}


def test_chain_text_helpers():
    body = "1. Query understanding: x [a.b].\n5. Verdict: exact: good. Rules: a.b, z."
    assert cited_ids(body, {"a.b", "z"}) == ["a.b", "z"] and cited_ids(body, {"q"}) == []
    assert steps_present(body) == [True, False, False, False, True]
    assert split_label("2\nbody") == (2, "body") and split_label("body") == (None, "body")
    fixed = correct_verdict(body, 1, 3, DEFAULT_SCALE)
    assert parse_verdict(fixed) == 1 and "5. Verdict: complement" in fixed and "[a.b]" in fixed


def test_rag_kind_is_registered():
    assert ChainConfig(kinds=["rag"]).kinds == ["rag"]
    assert ChainConfig().kinds == ["ee", "ra", "dr"]
    with pytest.raises(ValueError, match="unknown chain kind"):
        ChainConfig(kinds=["rga"])


# --- the OpenAI-compatible teacher ------------------------------------------------------------


class FakeRagServer:
    """Answers label-first five-step chains citing the first rule shown; reports token usage."""

    def __init__(self, usage: bool = True, label_first: bool = True) -> None:
        self.requests: list[dict] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.requests.append(body)
                user = body["messages"][-1]["content"]
                gold = user.split("The correct grade is: ")[1].split(" ")[0]
                rule = user.split("- [")[1].split("]")[0] if "- [" in user else "none"
                steps = "\n".join(
                    [
                        f"1. Query understanding: the query [{rule}].",
                        "2. Item understanding: the item.",
                        "3. Category match: same kind.",
                        "4. Attribute match: fine.",
                        f"5. Verdict: {gold}",
                    ]
                )
                text = f"{gold}\n{steps}" if label_first else steps
                payload: dict = {"choices": [{"message": {"role": "assistant", "content": text}}]}
                if usage:
                    payload["usage"] = {"prompt_tokens": 300, "completion_tokens": 60, "total_tokens": 360}
                data = json.dumps(payload).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def __enter__(self) -> FakeRagServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture()
def server() -> Iterator[FakeRagServer]:
    with FakeRagServer() as s:
        yield s


def _teacher(url: str, cache: str, **kw) -> TeacherConfig:
    return TeacherConfig(
        kind="openai",
        base_url=url,
        model="fake-rag",
        api_key_env="ECOMREL_TEST_KEY",
        timeout_s=5.0,
        max_retries=0,
        requests_per_second=1000.0,
        cache_dir=cache,
        price_per_1m_input_tokens=1.0,
        price_per_1m_output_tokens=4.0,
        **kw,
    )


def test_api_teacher_rag_chains_and_cost(server, tmp_path, mini_pairs):
    cfg = ChainConfig(teacher=_teacher(server.url, str(tmp_path / "cache")))
    chains, report = build_chains(mini_pairs, kinds=["rag"], config=cfg)
    n = len(mini_pairs)
    assert len(server.requests) == n and (chains["origin"] == "api").all()
    user = server.requests[0]["messages"][-1]["content"]
    assert "Relevance rules:" in user and "The correct grade is:" in user
    assert (chains["status"] == "kept").all()
    assert all(
        t.startswith(f"{g}\n1. Query understanding")
        for t, g in zip(chains["target"], chains["gold_grade"], strict=True)
    )
    rag = report["rag"]
    assert rag["validity"] == {
        "label_first": 1.0,
        "five_steps": 1.0,
        "verdict_is_gold": 1.0,
        "cites_retrieved": 1.0,
        "all_valid": 1.0,
    }
    cost = rag["cost"]
    assert cost["prompt_tokens"] == 300 * n and cost["completion_tokens"] == 60 * n
    assert cost["tokens_per_1000_chains"] == pytest.approx(360_000)
    # 1000 chains × (300 × 1 + 60 × 4) / 1e6
    assert cost["price_per_1000_chains"] == pytest.approx(0.54) and cost["responses_without_usage"] == 0
    # a second build is answered from the cache and costs the same tokens (read from the cached usage)
    _, again = build_chains(mini_pairs, kinds=["rag"], config=cfg)
    assert len(server.requests) == n and again["rag"]["cost"]["cache_hits"] == n
    assert again["rag"]["cost"]["prompt_tokens"] == 300 * n


def test_api_teacher_without_label_first_is_counted(tmp_path, mini_pairs):
    with FakeRagServer(usage=False, label_first=False) as s:
        cfg = ChainConfig(teacher=_teacher(s.url, str(tmp_path / "c")), on_conflict="correct")
        chains, report = build_chains(mini_pairs.head(4), kinds=["rag"], config=cfg)
    v = report["rag"]["validity"]
    assert v["label_first"] == 0.0 and v["verdict_is_gold"] == 1.0
    assert report["rag"]["cost"]["responses_without_usage"] == 4  # tokens estimated from characters
    # the written target is label-first all the same
    assert all(split_label(t)[0] == g for t, g in zip(chains["target"], chains["gold_grade"], strict=True))
