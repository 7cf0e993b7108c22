"""bot.jobs: metrics read from job logs, their chart, and the job card's text."""

from __future__ import annotations

import math
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from huggingface_hub import JobInfo

from agent.tools.hardware import (
    LIST_PRICES_USD_PER_HOUR,
    UNKNOWN_FLAVOR_USD_PER_HOUR,
    CostEstimator,
)
from bot.clock import human_duration
from bot.jobs.card import (
    JobCard,
    card_from_job,
    card_lines,
    cost_so_far,
    elapsed,
    fit,
    format_usd,
    summary_text,
)
from bot.jobs.chart import axis_labels, build_figure, plotted, render_chart
from bot.jobs.logmetrics import ORDER_X, Metrics, parse_line, parse_metrics
from tests.standins.hub import DEFAULT_LOGS

ROOT = Path(__file__).resolve().parents[1]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def fake_clock(moment: datetime):
    return lambda: moment


# ── log formats ──────────────────────────────────────────────────────────


def test_json_lines():
    metrics = parse_metrics(
        [
            '{"step": 10, "loss": 1.23, "lr": 3e-5}',
            '{"step": 20, "loss": 0.98, "lr": 2e-5, "run": "abc", "ok": true}',
        ]
    )
    assert metrics.x_name == "step"
    assert metrics.series == {
        "loss": [(10.0, 1.23), (20.0, 0.98)],
        "lr": [(10.0, 3e-5), (20.0, 2e-5)],
    }  # strings and booleans are not metrics


def test_key_value_pairs():
    metrics = parse_metrics(
        ["step=10 loss=1.23 acc=0.91", "step=20 loss=1.01 acc=0.93", "step = 30, loss = 0.9"]
    )
    assert metrics.x_name == "step"
    assert metrics.series["loss"] == [(10.0, 1.23), (20.0, 1.01), (30.0, 0.9)]
    assert metrics.series["acc"] == [(10.0, 0.91), (20.0, 0.93)]


def test_colon_pairs_and_counters():
    metrics = parse_metrics(["Epoch 1/3 - loss: 1.5, val_acc: 0.61", "Epoch 2/3 - loss: 1.1"])
    assert metrics.x_name == "epoch"
    assert metrics.series == {"loss": [(1.0, 1.5), (2.0, 1.1)], "val_acc": [(1.0, 0.61)]}


def test_nanogpt_lines():
    metrics = parse_metrics(
        [
            "step 0: train loss 10.9876, val loss 10.9912",
            "iter 0: loss 10.9840, time 1234.56ms, mfu -100.00%",
            "iter 10: loss 3.2541, time 12.34ms, mfu 31.20%",
            "saving checkpoint to out",
            "step 20: train loss 2.5001, val loss 2.6012",
            "iter 20: loss 2.3456, time 12.10ms, mfu 31.45%",
        ]
    )
    assert metrics.x_name == "step"  # 'iter N' and 'step N' count the same steps
    assert metrics.series == {
        "train_loss": [(0.0, 10.9876), (20.0, 2.5001)],
        "val_loss": [(0.0, 10.9912), (20.0, 2.6012)],
        "loss": [(0.0, 10.984), (10.0, 3.2541), (20.0, 2.3456)],
        "time": [(0.0, 1234.56), (10.0, 12.34), (20.0, 12.1)],
        "mfu": [(0.0, -100.0), (10.0, 31.2), (20.0, 31.45)],
    }


def test_llm_c_lines():
    metrics = parse_metrics(
        [
            "step    1/74 | train loss 4.283895 | norm 11.2345 | lr 1.00e-05 | "
            "(1234.56 ms | 5000 tok/s)",
            "step    2/74 | loss 4.101000 (+nanz)| norm 9.8765 (+nanz)| lr 2.00e-05 | "
            "1153.55 ms | 21.5% bf16 MFU | 454425 tok/s",
            "val loss 4.0123",
        ]
    )
    assert metrics.x_name == "step"
    assert metrics.series == {
        "train_loss": [(1.0, 4.283895)],
        "norm": [(1.0, 11.2345), (2.0, 9.8765)],
        "lr": [(1.0, 1e-05), (2.0, 2e-05)],
        "loss": [(2.0, 4.101)],
        "val_loss": [(2.0, 4.0123)],  # a line without a step: the last one seen
    }


def test_known_metrics_followed_by_their_value_after_a_space():
    metrics = parse_metrics(
        ["epoch 1 loss 0.9 acc 0.61", "Epoch 2 Loss 0.7 val_acc 0.70; lr 3e-4", "eval loss 0.8"]
    )
    assert metrics.x_name == "epoch"
    assert metrics.series == {
        "loss": [(1.0, 0.9), (2.0, 0.7)],
        "acc": [(1.0, 0.61)],
        "val_acc": [(2.0, 0.7)],
        "lr": [(2.0, 3e-4)],
        "eval_loss": [(2.0, 0.8)],
    }


@pytest.mark.parametrize(
    "prose",
    [
        "loss of 3 files",
        "Warning: loss 3 files could not be read",
        "the lr 2 times lower than before",
        "accuracy 90 percent of the time",
        "iteration 5 started",  # a step, but no metric at it
        "time 12:00:01 now",
        "mylr 3, pre_loss 2",
    ],
)
def test_prose_with_metric_words_is_not_a_metric(prose):
    assert not parse_metrics([prose, prose])


def test_trainer_dict_reprs():
    metrics = parse_metrics(
        [
            "{'loss': 1.234, 'grad_norm': 0.5, 'learning_rate': 2e-05, 'epoch': 0.1}",
            "{'loss': 0.9, 'grad_norm': 0.4, 'learning_rate': 1e-05, 'epoch': 0.2}",
            "{'eval_loss': 1.0, 'eval_runtime': 3.5, 'epoch': 0.2}",
        ]
    )
    assert metrics.x_name == "epoch"
    assert metrics.series["loss"] == [(0.1, 1.234), (0.2, 0.9)]
    assert metrics.series["learning_rate"] == [(0.1, 2e-05), (0.2, 1e-05)]
    assert metrics.series["eval_loss"] == [(0.2, 1.0)]
    assert metrics.latest()["grad_norm"] == 0.4


def test_dict_reprs_are_never_evaluated(tmp_path):
    marker = tmp_path / "ran"
    line = f"{{'loss': __import__('pathlib').Path({str(marker)!r}).touch()}}"
    assert list(parse_line(line)) == []
    assert not marker.exists()


def test_noise_progress_bars_ansi_and_non_finite_values():
    log = [
        "Downloading shards: 100%|██████████| 2/2 [00:03<00:00,  1.52s/it]",
        "2025-03-01 12:00:00,123 - INFO - Running training, world_size=8 at 12:00:01",
        "INFO: 5 workers started on localhost:8080, see http://127.0.0.1:8080/x",
        "version 1.2.3.4 of the thing",
        "\x1b[32mstep=1\x1b[0m \x1b[1mloss=2.5\x1b[0m",
        "  5%|▌         | 5/100 [00:01<00:19]\r 10%|█         | 10/100 [00:02<00:18]"
        "\r{'loss': 2.0, 'epoch': 0.1, 'step': 2}",
        "step=3 loss=nan acc=inf",
        '{"step": 4, "loss": NaN, "acc": 0.5}',
        "{'step': 5, 'loss': nan, 'acc': 0.6}",
        "{'step': 6, 'loss': 1e999}",
        "{not a dict at all: [}",
        "Traceback (most recent call last):",
        "",
    ]
    metrics = parse_metrics(log)
    assert metrics.x_name == "step"
    assert metrics.series == {
        "loss": [(1.0, 2.5), (2.0, 2.0)],
        "acc": [(4.0, 0.5), (5.0, 0.6)],
    }
    assert metrics.lines_read == len(log)


def test_order_of_appearance_without_a_step():
    metrics = parse_metrics("loss=3.0\nsomething else\nloss=2.0 acc=0.5\nloss=1.0\n")
    assert metrics.x_name == ORDER_X
    assert metrics.series == {"loss": [(1.0, 3.0), (2.0, 2.0), (3.0, 1.0)], "acc": [(2.0, 0.5)]}


def test_a_step_carries_over_to_later_lines():
    metrics = parse_metrics(["Epoch 1/2", "loss: 0.8", "Epoch 2/2", "loss: 0.5, acc: 0.7"])
    assert metrics.x_name == "epoch"
    assert metrics.series == {"loss": [(1.0, 0.8), (2.0, 0.5)], "acc": [(2.0, 0.7)]}


def test_nothing_to_find():
    metrics = parse_metrics(["Installing dependencies", "Hello", "Done."])
    assert not metrics and metrics.series == {} and metrics.names == []


def test_the_hub_stand_in_logs_carry_metrics():
    metrics = parse_metrics(DEFAULT_LOGS)
    assert metrics.x_name == "step"
    assert metrics.series["loss"] == [(1.0, 2.10), (2.0, 1.40), (3.0, 0.90)]
    assert metrics.series["learning_rate"] == [(1.0, 2e-05), (2.0, 1e-05)]
    assert metrics.latest()["grad_norm"] == 1.1


# ── huge logs ────────────────────────────────────────────────────────────


def huge_log(count: int):
    for step in range(1, count + 1):
        if step % 7 == 0:
            yield f" {step % 100}%|███ | {step}/{count} [00:01<00:19]"
        yield f"step={step} loss={1000.0 / step:.6f} acc={step / count:.6f}"


def test_a_100k_line_log_stays_bounded():
    metrics = parse_metrics(huge_log(100_000), max_points=300)
    assert metrics.x_name == "step"
    assert metrics.lines_read > 100_000
    for name in ("loss", "acc"):
        points = metrics.series[name]
        assert 150 <= len(points) <= 300
        assert points[0][0] == 1.0 and points[-1][0] == 100_000.0  # first and last kept
        xs = [x for x, _ in points]
        assert xs == sorted(xs) and len(set(xs)) == len(xs)
    assert metrics.latest() == {"loss": 0.01, "acc": 1.0}


def test_only_the_last_lines_are_read():
    lines = [f"step={i} loss={i}" for i in range(1, 1001)]
    metrics = parse_metrics(lines, max_lines=100)
    assert metrics.lines_read == 100
    assert metrics.series["loss"][0] == (901.0, 901.0)
    generated = parse_metrics((line for line in lines), max_lines=100)
    assert generated.series == metrics.series


def test_long_lines_and_many_keys_are_bounded():
    wide = " ".join(f"m{i}=1.0" for i in range(500))
    deep_json = '{"a": ' + "[" * 1990 + "]" * 1990 + "}"
    deep_dict = "{'a': " + "(" * 1990 + ")" * 1990 + "}"
    assert list(parse_line(deep_json)) == [] and list(parse_line(deep_dict)) == []
    metrics = parse_metrics([wide, "x" * 1_000_000 + " loss=1", "{" * 5000 + "}" * 5000])
    assert 0 < len(metrics.series) <= 32
    assert "loss" not in metrics.series  # past the characters read of a line


# ── chart ────────────────────────────────────────────────────────────────


def test_chart_is_a_png_with_a_plot_per_metric():
    metrics = parse_metrics(DEFAULT_LOGS)
    figure = build_figure(metrics, "Job abc123")
    assert axis_labels(figure) == [
        ("step", "loss"),
        ("step", "learning_rate"),
        ("step", "grad_norm"),
    ]
    assert figure.get_suptitle() == "Job abc123"
    png = render_chart(metrics, "Job abc123")
    assert png.startswith(PNG_MAGIC) and len(png) > 1000


def test_chart_keeps_six_plots_and_names_the_rest():
    series = {f"m{i}": [(1.0, float(i)), (2.0, float(i + 1))] for i in range(9)}
    series["single"] = [(1.0, 5.0)]
    metrics = Metrics(x_name="epoch", series=series)
    shown, left_out = plotted(metrics)
    assert shown == [f"m{i}" for i in range(6)]
    assert left_out == ["m6", "m7", "m8", "single"]  # one-point series come last
    figure = build_figure(metrics, "Job big")
    assert axis_labels(figure) == [("epoch", f"m{i}") for i in range(6)]
    assert "+4 more not shown: m6, m7, m8, single" in figure.get_supxlabel()


def test_chart_needs_a_metric():
    with pytest.raises(ValueError, match="no metrics"):
        render_chart(parse_metrics(["nothing here"]), "Job empty")


def test_the_package_imports_no_platform_and_no_pyplot():
    code = (
        "import sys\n"
        "from bot.jobs import card, chart, logmetrics\n"
        "assert 'matplotlib' not in sys.modules\n"
        "m = logmetrics.parse_metrics(['step=1 loss=2', 'step=2 loss=1'])\n"
        "assert chart.render_chart(m, 'Job x').startswith(b'\\x89PNG')\n"
        "banned = {'slack_sdk', 'slack_bolt', 'discord', 'redis', 'fakeredis', 'matplotlib.pyplot'}\n"
        "print(sorted(banned & set(sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


# ── card ─────────────────────────────────────────────────────────────────


def job_info(stage: str, *, flavor: str = "a10g-small", message: str | None = None, **extra):
    return JobInfo(
        id="job42",
        createdAt="2025-03-01T11:58:00.000Z",
        flavor=flavor,
        status={"stage": stage, "message": message},
        owner={"id": "u1", "name": "tester", "type": "user"},
        endpoint="https://hub.example",
        **extra,
    )


def card(status: str, **fields) -> JobCard:
    values = {
        "job_id": "job42",
        "url": "https://hub.example/jobs/tester/job42",
        "flavor": "a10g-small",
        "status": status,
        "hourly_usd": 1.0,
        "started_at": T0,
        "log_tail": ("loading", "step 1/3 loss=2.10", "step 2/3 loss=1.40"),
        **fields,
    }
    return JobCard(**values)


def test_elapsed_and_cost_so_far():
    running = card("RUNNING", hourly_usd=1.5)
    clock = fake_clock(T0 + timedelta(hours=1, minutes=2))
    assert elapsed(running, clock) == timedelta(hours=1, minutes=2)
    assert cost_so_far(running, clock) == pytest.approx(1.55)
    ended = card("COMPLETED", hourly_usd=3.0, ended_at=T0 + timedelta(minutes=30))
    later = fake_clock(T0 + timedelta(days=3))
    assert elapsed(ended, later) == timedelta(minutes=30)  # the end, not the clock
    assert cost_so_far(ended, later) == pytest.approx(1.5)
    queued = card("SCHEDULING", started_at=None)
    assert elapsed(queued, later) == timedelta(0) and cost_so_far(queued, later) == 0
    naive = card("RUNNING", started_at=T0.replace(tzinfo=None))
    assert elapsed(naive, clock) == timedelta(hours=1, minutes=2)


def test_human_duration_and_money():
    assert human_duration(timedelta(hours=1, minutes=2, seconds=59)) == "1 h 02 min"
    assert human_duration(45.9) == "45 s"
    assert human_duration(timedelta(minutes=12, seconds=30)) == "12 min"
    assert human_duration(timedelta(days=2, hours=3, minutes=4)) == "2 d 03 h"
    assert human_duration(-5) == "0 s"
    assert [format_usd(x) for x in (0, 0.004, 1.554, 1234.5)] == [
        "$0.00",
        "<$0.01",
        "$1.55",
        "$1,234.50",
    ]


def test_card_from_a_hub_job_uses_the_price_table():
    clock = fake_clock(T0)
    running = card_from_job(job_info("RUNNING"), log_tail=["a", "b"], clock=clock)
    assert running.hourly_usd == LIST_PRICES_USD_PER_HOUR["a10g-small"]
    assert running.url == "https://hub.example/jobs/tester/job42"
    assert running.started_at == datetime(2025, 3, 1, 11, 58, tzinfo=UTC)
    assert running.ended_at is None and not running.finished
    assert running.log_tail == ("a", "b")
    assert cost_so_far(running, clock) == pytest.approx(1.0 * 2 / 60)

    queued = card_from_job(job_info("SCHEDULING"), clock=clock)
    assert queued.started_at is None and queued.word == "queued"

    done = card_from_job(
        job_info("COMPLETED", durations={"totalSecs": 600}),
        prices=CostEstimator({"a10g-small": 6.0}),
        latest={"loss": 0.9},
        clock=fake_clock(T0 + timedelta(hours=5)),
    )
    assert done.finished and done.ended_at == datetime(2025, 3, 1, 12, 8, tzinfo=UTC)
    assert cost_so_far(done) == pytest.approx(1.0)  # 10 min at $6/h, whatever the time
    assert done.latest == (("loss", 0.9),)

    unknown = card_from_job(job_info("ERROR", flavor="z9", message="exit code 1"), clock=clock)
    assert unknown.hourly_usd == UNKNOWN_FLAVOR_USD_PER_HOUR
    assert unknown.finished and unknown.ended_at == T0 and unknown.message == "exit code 1"


CLOCK = fake_clock(T0 + timedelta(hours=1, minutes=2))


def test_running_card_lines():
    lines = card_lines(
        card("RUNNING", hourly_usd=1.5, latest=(("loss", 1.4), ("acc", 0.5))),
        budget=2000,
        clock=CLOCK,
    )
    assert lines == [
        "🏃 Job job42 running · a10g-small",
        "⏱ 1 h 02 min · 💰 ~$1.55 so far ($1.50/h)",
        "📈 loss 1.4 · acc 0.5",
        "https://hub.example/jobs/tester/job42",
        "```",
        "loading",
        "step 1/3 loss=2.10",
        "step 2/3 loss=1.40",
        "```",
    ]


def test_queued_card_lines():
    lines = card_lines(card("SCHEDULING", started_at=None, log_tail=()), budget=500, clock=CLOCK)
    assert lines == [
        "⏳ Job job42 queued · a10g-small",
        "⏱ waiting for hardware · 💰 $1.00/h",
        "https://hub.example/jobs/tester/job42",
    ]


def test_completed_card_and_summary():
    done = card(
        "COMPLETED",
        ended_at=T0 + timedelta(minutes=30),
        repos=("https://hub.example/tester/tiny-model",),
        latest=(("loss", 0.9),),
    )
    lines = card_lines(done, budget=2000, clock=CLOCK)
    assert lines[:3] == [
        "✅ Job job42 completed · a10g-small",
        "⏱ ran 30 min · 💰 ~$0.50 ($1.00/h)",
        "📈 loss 0.9",
    ]
    assert "📦 Wrote https://hub.example/tester/tiny-model" in lines
    text = summary_text(done, budget=2000, clock=CLOCK)
    assert text.splitlines()[0] == (
        "✅ Job job42 completed · a10g-small · after 30 min · 💰 ~$0.50"
    )
    assert "Page: https://hub.example/jobs/tester/job42" in text
    assert text.endswith("```\nloading\nstep 1/3 loss=2.10\nstep 2/3 loss=1.40\n```")


def test_failed_summary_gives_the_reason_and_more_log():
    log = tuple(f"line {i}" for i in range(30)) + ("RuntimeError: CUDA out of memory",)
    failed = card(
        "ERROR",
        ended_at=T0 + timedelta(minutes=5),
        message="Job failed with exit code 1\nmore detail",
        log_tail=log,
    )
    text = summary_text(failed, budget=4000, clock=CLOCK)
    first = text.splitlines()[0]
    assert (
        first
        == "❌ Job job42 failed: Job failed with exit code 1 · a10g-small · after 5 min · 💰 ~$0.08"
    )
    assert "more detail" not in text
    block = text.split("```\n", 1)[1]
    assert block.splitlines()[-2] == "RuntimeError: CUDA out of memory"
    assert len(block.splitlines()) - 1 == 15 and "line 15" not in block


def test_cancelled_card_and_summary():
    cancelled = card("CANCELED", ended_at=T0 + timedelta(minutes=1, seconds=30))
    lines = card_lines(cancelled, budget=2000, clock=CLOCK)
    assert lines[0] == "🛑 Job job42 canceled · a10g-small"
    assert lines[1] == "⏱ ran 1 min · 💰 ~$0.03 ($1.00/h)"
    never = card("CANCELED", started_at=None, ended_at=T0)
    assert summary_text(never, budget=500, clock=CLOCK).splitlines()[0] == (
        "🛑 Job job42 canceled · a10g-small · never started"
    )


@pytest.mark.parametrize("budget", [1, 10, 40, 90, 120, 150, 200, 260, 5000])
def test_text_stays_within_the_budget(budget):
    noisy = card(
        "RUNNING",
        log_tail=tuple(f"step {i} " + "x" * 300 for i in range(20)) + ("```rm -rf```",),
        repos=tuple(f"https://hub.example/tester/repo{i}" for i in range(8)),
    )
    lines = card_lines(noisy, budget=budget, clock=CLOCK)
    text = "\n".join(lines)
    assert 0 < len(text) <= budget
    assert summary_text(noisy, budget=budget, clock=CLOCK)
    assert len(summary_text(noisy, budget=budget, clock=CLOCK)) <= budget
    if "```" in lines:  # a whole block: opened, closed, nothing inside closes it
        start = lines.index("```")
        assert lines[-1] == "```" and "```" not in lines[start + 1 : -1]
        assert all(len(line) <= 160 for line in lines[start + 1 : -1])
    if budget == 5000:
        assert lines[-2] == "'''rm -rf'''"  # the newest log line, defused
        assert "📦 … and 3 more repos" in lines


def test_the_newest_log_lines_are_kept():
    lines = fit(["head"], [f"log {i}" for i in range(10)], budget=len("head\n```\nlog 9\n```"))
    assert lines == ["head", "```", "log 9", "```"]
    assert fit([], ["a", "b"], budget=len("```\na\nb\n```")) == ["```", "a", "b", "```"]
    assert fit([], ["a", "b"], budget=len("```\na\nb\n```") - 1) == ["```", "b", "```"]
    assert fit(["head"], ["log"], budget=6) == ["head"]  # no room for a block
    with pytest.raises(ValueError):
        fit(["head"], [], budget=0)
    assert math.isclose(cost_so_far(card("RUNNING"), CLOCK), 62 / 60)


# ── the room: repos a job wrote, settings of the sweeper ─────────────────


def test_the_repos_a_job_wrote_are_read_from_its_log():
    from bot.jobs.room import written_repos

    hub = "https://hub.example"
    lines = [
        f"Pushed to {hub}/tester/tiny-model/commit/3f2a1b",
        f"see {hub}/jobs/tester/abc and {hub}/api/models/x/y",  # not repos
        f"Uploaded {hub}/datasets/tester/clean-data/tree/main.",
        f"again {hub}/tester/tiny-model",
        "elsewhere https://other.example/tester/nope",
    ]
    assert written_repos(lines, hub + "/") == [
        f"{hub}/tester/tiny-model",
        f"{hub}/datasets/tester/clean-data",
    ]


@pytest.mark.parametrize(
    ("text", "seconds"), [("90", 90), ("90s", 90), ("30m", 1800), ("1.5h", 5400), ("2d", 172800)]
)
def test_durations_in_settings(text, seconds):
    from bot.settings import parse_duration

    assert parse_duration(text) == seconds


def test_a_bad_duration_or_an_expiry_before_the_reminder_is_refused():
    from pydantic import ValidationError

    from bot.settings import Settings

    with pytest.raises(ValidationError, match="not a duration"):
        Settings(_env_file=None, approval_remind_after="soon")
    with pytest.raises(ValidationError, match="longer than APPROVAL_REMIND_AFTER"):
        Settings(_env_file=None, approval_remind_after="2h", approval_expire_after="1h")
    defaults = Settings(_env_file=None)
    assert (defaults.approval_remind_after, defaults.approval_expire_after) == (3600, 86400)
