"""The HTML release report: verdict first, escaped user strings, embedded figures, no network."""

from __future__ import annotations

import base64
import copy
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from matplotlib.figure import Figure

from synthguard.plots import plot_dwp, plot_dwpre, plot_roc
from synthguard.report import render_report, write_report

ROOT = Path(__file__).resolve().parents[1]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
EVIL = '<script>alert("x")</script>'


def _attack(name: str, threat: str, auc: float, n_nonmembers: int) -> dict:
    return {
        "name": name, "family": name, "threat": threat,
        "description": f"{name} attack on the {threat}'s outputs",
        "auc": auc, "auc_ci": [auc - 0.02, auc + 0.02], "balanced_accuracy": 0.52,
        "tpr_at": {"0.01": 0.012, "0.001": 0.002},
        "tpr_ci": {"0.01": [0.005, 0.02], "0.001": [0.0, 0.004]},
        "n_members": n_nonmembers, "n_nonmembers": n_nonmembers,
        "negatives_needed": {"0.01": 100, "0.001": 1000},
        "precision_at_n": 0.51, "confidence": 0.95, "n_bootstrap": 1000,
    }


def make_passport(decision: str = "released") -> dict:
    """A realistic release passport; `decision="refused"` fails one privacy and one utility check."""
    refused = decision == "refused"
    checks = [
        {"name": "lira AUC (upper 95% bound)", "kind": "privacy", "measured": 0.671 if refused else 0.534,
         "limit": 0.6, "comparison": "<=", "passed": not refused,
         "advice": "raise mixup alpha, train fewer epochs, or use the DP-SGD defense"},
        {"name": "logan TPR at 0.1% FPR (upper bound)", "kind": "privacy", "measured": 0.004,
         "limit": 0.01, "comparison": "<=", "passed": True, "advice": "lower the learning rate"},
        {"name": "exact copies of training rows", "kind": "privacy", "measured": 0.0, "limit": 0.0,
         "comparison": "<=", "passed": True, "advice": "deduplicate the input"},
        {"name": "quality score", "kind": "utility", "measured": 0.88, "limit": 0.8, "comparison": ">=",
         "passed": True, "advice": "train for more epochs"},
        {"name": "TSTR accuracy ratio", "kind": "utility", "measured": 0.71 if refused else 0.93,
         "limit": 0.85, "comparison": ">=", "passed": not refused,
         "advice": "lower mixup alpha or train for more epochs"},
    ]
    failed = [c["name"] for c in checks if not c["passed"]]
    return {
        "synthguard_version": "0.1.0", "python": "3.11.9", "decision": decision,
        "started": "2026-11-29T01:00:00Z", "finished": "2026-11-29T01:42:17Z",
        "inputs": {
            "data": {"path": "data/ofp.csv", "sha256": "a" * 64, "rows": 4406},
            "schema": {"path": "schemas/ofp.yaml", "sha256": "b" * 64},
            "policy": {"path": "policy.yaml", "sha256": "c" * 64},
        },
        "output": None if refused else {"path": "out/synthetic.parquet", "sha256": "d" * 64, "rows": 3525,
                                        "format": "parquet"},
        "recipe": {"defense": "mixup", "alpha": 1.0, "epochs": 300, "batch_size": 500, "seed": 0,
                   "generator_dims": [256, 256], "lr": 0.0002},
        "split": {"train_rows": 3525, "holdout_rows": 881, "seed": 0},
        "checks": checks,
        "verdict": {"passed": not refused, "failed": failed},
        "audit": {
            "config": {"n_shadows": 16, "n_targets": 500, "threat_model": "critic", "seed": 0},
            "at_chance": not refused, "worst_attack": "lira",
            "attacks": {"lira": _attack("lira", "critic", 0.651 if refused else 0.514, 4000),
                        "logan": _attack("logan", "critic", 0.51, 800)},
            "exposed_records": [{"row": 17, "score_gap": 1.2, "attack": "lira"},
                                {"row": 2203, "score_gap": 0.97, "attack": "lira"},
                                {"row": 5, "score_gap": 0.41, "attack": "lira"}],
        },
        "utility": {
            "quality": {"score": 0.88, "column_shapes": 0.9, "column_pair_trends": 0.85,
                        "notes": ["scored 20 of 40 columns (a seeded subset)"]},
            "dwp": {"mae": 0.02, "rmse": 0.031, "correlation": 0.99},
            "dwpre": {"mean_abs_gap": 0.05},
            "downstream": {"target": "privins", "model": "logistic regression",
                           "tstr": {"accuracy": 0.81, "auc": 0.84}, "trtr": {"accuracy": 0.87, "auc": 0.9},
                           "accuracy_ratio": 0.93, "auc_ratio": 0.93},
            "distance": {"exact_copy_rate": 0.0, "holdout_exact_copy_rate": 0.0,
                         "dcr_synthetic_median": 1.31, "dcr_holdout_median": 1.27,
                         "share_closer_than_holdout_p5": 0.048},
        },
    }


def make_figures(folder: Path) -> dict[str, Path]:
    """Small real PNGs: a ROC from random scores, DWP / DWpre scatters and one sample grid."""
    rng = np.random.default_rng(0)
    members = np.repeat([True, False], 200)
    scores = rng.normal(size=400) + 0.3 * members
    figures = {
        "roc": plot_roc({"lira": (scores, members), "logan": (rng.normal(size=400), members)},
                        folder / "roc.png", inputs="scores"),
        "dwp": plot_dwp([(p, min(1.0, p + d)) for p, d in zip(rng.uniform(size=30), rng.normal(0, 0.03, 30))],
                        folder / "dwp.png"),
        "dwpre": plot_dwpre([(s, s - abs(g)) for s, g in zip(rng.uniform(0.3, 1, 12), rng.normal(0, 0.05, 12))],
                            folder / "dwpre.png"),
    }
    fig = Figure(figsize=(4, 2), dpi=60)
    for i in range(8):
        ax = fig.add_subplot(2, 4, i + 1)
        ax.imshow(rng.uniform(size=(8, 8)), cmap="gray")
        ax.set_axis_off()
    fig.savefig(folder / "samples_digits.png", format="png")
    figures["samples_digits"] = folder / "samples_digits.png"
    return figures


@pytest.fixture(scope="module")
def figures(tmp_path_factory) -> dict[str, Path]:
    return make_figures(tmp_path_factory.mktemp("figures"))


def _verdict(page: str) -> re.Match:
    match = re.search(r'<section id="verdict"[^>]*data-decision="([^"]*)"[^>]*>(.*?)</section>', page, re.S)
    assert match, "no verdict element"
    return match


def _text(fragment: str) -> str:
    import html
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def test_released_verdict_comes_first(figures):
    page = render_report(make_passport("released"), figures)
    verdict = _verdict(page)
    assert verdict.group(1) == "released"
    assert "RELEASED" in verdict.group(2)
    assert "All 5 checks passed" in _text(verdict.group(2))
    assert page.index('id="verdict"') < page.index('id="checks"') < page.index('id="privacy"')
    assert page.index('id="privacy"') < page.index('id="utility"') < page.index('id="provenance"')
    assert "No attack measurably beats chance" in page
    assert "d" * 64 in page                                   # output hash
    assert "No synthetic rows were written" not in page
    assert 'class="fail"' not in page


def test_refused_names_each_failing_check(figures):
    passport = make_passport("refused")
    page = render_report(passport, figures)
    verdict = _verdict(page)
    assert verdict.group(1) == "refused"
    sentence = _text(verdict.group(2))
    assert "REFUSED" in sentence and "3 of 5 checks passed, 2 failed" in sentence
    for check in passport["checks"]:
        assert (check["name"] in sentence) is (not check["passed"])
    assert page.count('class="fail">FAIL') == 2
    # advice only for the failed checks
    assert "raise mixup alpha" in page and "deduplicate the input" not in page
    assert "No synthetic rows were written" in page
    assert "No attack measurably beats chance" not in page


def test_attack_table_notes_too_few_negatives(figures):
    page = render_report(make_passport(), figures)
    table = re.search(r'<table id="attacks-table">(.*?)</table>', page, re.S).group(1)
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", table, re.S)[1:]
    lira, logan = (_text(r) for r in rows)
    assert "0.514 [0.494, 0.534]" in lira and "worst" in lira and "fewer than" not in lira
    assert "Only 800 non-members" in logan and "1000 needed" in logan
    exposed = _text(re.search(r'<table id="exposed-table".*?</table>', page, re.S).group(0))
    assert "17" in exposed and "2203" in exposed


def test_user_strings_are_escaped(figures):
    passport = make_passport("refused")
    passport["inputs"]["data"]["path"] = f"data/{EVIL}.csv"
    passport["checks"][0]["name"] = f"AUC of {EVIL}"
    passport["utility"]["downstream"]["target"] = EVIL
    passport["recipe"]["defense"] = EVIL
    passport["audit"]["attacks"]["lira"]["description"] = EVIL
    page = render_report(passport, figures)
    assert "<script" not in page.lower()
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    assert "AUC of &lt;script&gt;" in _verdict(page).group(2)  # the failing check, named and escaped


def test_images_are_embedded_png_and_page_is_offline(figures):
    page = render_report(make_passport(), figures)
    imgs = re.findall(r"<img [^>]*>", page)
    assert len(imgs) == len(figures)
    for key in figures:
        tag = next(t for t in imgs if f'id="fig-{key}"' in t)
        assert re.search(r'alt="[^"]+"', tag)
        data = re.search(r'src="data:image/png;base64,([^"]+)"', tag).group(1)
        assert base64.b64decode(data, validate=True) == figures[key].read_bytes()
        assert base64.b64decode(data).startswith(PNG_MAGIC)
    assert not re.search(r"https?://|//[a-z0-9.-]+\.[a-z]{2,}/", page, re.I)
    assert "<script" not in page and "<link" not in page and "@import" not in page
    assert "default-src 'none'" in page  # CSP: the browser fetches nothing even if a bug slipped in


def test_missing_optional_sections_do_not_crash(figures, tmp_path):
    full = make_passport("released")
    for key in ("audit", "utility", "inputs", "output", "recipe", "split", "checks", "verdict",
                "started", "finished", "synthguard_version"):
        passport = copy.deepcopy(full)
        del passport[key]
        assert _verdict(render_report(passport, figures)).group(1) == "released"
    # sparse nested parts, nulls, and a missing figure file
    passport = copy.deepcopy(full)
    passport["audit"] = {"attacks": {"x": {"auc": None}}, "exposed_records": None, "config": None}
    passport["utility"] = {"downstream": None, "quality": {"score": float("nan")}}
    passport["checks"] = [{"name": "bare"}, "not a check"]
    page = render_report(passport, {"roc": tmp_path / "absent.png"})
    assert "could not be read" in page
    page = render_report({}, {})
    assert 'data-decision="unknown"' in page and "No checks were recorded" in page
    # no decision: derived from the verdict
    passport = copy.deepcopy(full)
    del passport["decision"]
    passport["verdict"]["passed"] = False
    assert _verdict(render_report(passport, {})).group(1) == "refused"


def test_write_report_is_atomic(figures, tmp_path):
    target = tmp_path / "report.html"
    target.write_text("old")
    assert write_report(make_passport(), figures, target) == target
    assert target.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html"]


def test_report_in_real_browser(figures, tmp_path):
    if not shutil.which("chromium"):
        pytest.skip("chromium is not installed (Debian: apt-get install -y chromium)")
    report = write_report(make_passport("refused"), figures, tmp_path / "report.html")
    shot = tmp_path / "shot.png"
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "check_report.py"), str(report),
                           "--screenshot", str(shot)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr or done.stdout
    assert "4 <img> fully decoded" in done.stdout
    assert shot.read_bytes().startswith(PNG_MAGIC)
