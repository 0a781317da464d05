"""The tuned release's figures (privacy-utility frontier, leakage over training) and the report's
Tuning section, on a real small tuned release: two defence settings (none, mixup alpha 1) at
checkpoints of 2, 4 and 8 epochs, so six candidates.

A refusal and candidates without a utility value are drawn from the real `Tuning` changed with
`dataclasses.replace`, so the fields the figures and the page read are the ones `release()` writes.
"""

from __future__ import annotations

import base64
import copy
import html
import json
import re
import struct
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread

from synthguard.passport import Tuning
from synthguard.plots import plot_frontier, plot_leakage_curve
from synthguard.report import render_report
from synthguard.tuning import setting_label
from tests.test_report import check_in_chromium, figures_of

ROOT = Path(__file__).resolve().parents[1]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
EVIL = '<script>alert("x")</script>'


@pytest.fixture(scope="module")
def tuned(tuned_release):
    """The session's real tuned release (tests/conftest.py): 2 settings x checkpoints 2, 4 and 8."""
    outcome, _settings = tuned_release
    tuning = outcome.passport.tuning
    assert tuning is not None and len(tuning.candidates) == 6
    assert tuning.chosen is not None and outcome.passed, outcome.verdict.summary()
    return outcome


def _tuning(outcome) -> Tuning:
    assert outcome.passport.tuning is not None
    return outcome.passport.tuning


def _refusal(tuning: Tuning) -> Tuning:
    """The real tuning as a refusal: nothing chosen, the first candidate the closest, two candidates
    failed or untested, and one without a utility value."""
    candidates = list(tuning.candidates)
    candidates[1] = replace(candidates[1], utility=None)
    candidates[4] = replace(candidates[4], privacy="failed", passed=False)
    candidates[5] = replace(candidates[5], privacy="not tested", passed=False)
    return replace(tuning, candidates=tuple(candidates), chosen=None, closest=0)


def _png(path: Path) -> np.ndarray:
    """The decoded pixels of a PNG file, after checking its signature and header size."""
    data = path.read_bytes()
    assert data.startswith(PNG_MAGIC), f"{path.name} is not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    pixels = imread(path, format="png")
    assert pixels.shape[:2] == (height, width)
    return pixels


def _drawn_share(pixels: np.ndarray) -> float:
    """The share of pixels that are not white: a figure with nothing drawn is near 0."""
    return float(np.mean(np.any(pixels[..., :3] < 0.95, axis=-1)))


def _section(page: str) -> str:
    match = re.search(r'<h2 id="tuning">(.*?)(?=<h2 )', page, re.S)
    assert match, "no tuning section"
    return match.group(1)


def _rows(page: str) -> list[tuple[str, str]]:
    """(tr attributes, row text) of every candidate row of the tuning table."""
    body = re.search(r'<table id="tuning-table"[^>]*>.*?<tbody>(.*?)</tbody>', page, re.S)
    assert body, "no tuning table"
    return [(attrs, _text(row)) for attrs, row in re.findall(r"<tr([^>]*)>(.*?)</tr>", body.group(1), re.S)]


def _text(fragment: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


# ---- figures ------------------------------------------------------------------------------------
def test_tuned_release_writes_both_figures_as_sensible_pngs(tuned):
    figures = figures_of(tuned)
    assert {"frontier", "leakage_curve"} <= set(figures)
    for key in ("frontier", "leakage_curve"):
        pixels = _png(figures[key])
        height, width = pixels.shape[:2]
        assert width >= 1000 and 400 <= height <= width, (key, width, height)   # two panels side by side
        assert _drawn_share(pixels) > 0.03, key


def test_plots_draw_a_refusal_and_candidates_without_utility(tuned, tmp_path):
    refusal = _refusal(_tuning(tuned))
    policy = tuned.passport.policy
    frontier = plot_frontier(refusal, policy, tmp_path / "frontier.png")
    curve = plot_leakage_curve(refusal, tmp_path / "curve.png")
    for path in (frontier, curve):
        assert _drawn_share(_png(path)) > 0.03
    # the refusal is drawn differently from the release (the ring moves and turns red; points go hollow)
    assert frontier.read_bytes() != (tuned.out_dir / "frontier.png").read_bytes()
    assert curve.read_bytes() != (tuned.out_dir / "leakage_curve.png").read_bytes()
    # no candidate with a utility value, and the marked one among them: an empty frontier, still a figure
    none_measured = replace(refusal, candidates=tuple(replace(c, utility=None) for c in refusal.candidates))
    assert _drawn_share(_png(plot_frontier(none_measured, policy, tmp_path / "empty.png"))) > 0.01
    assert sorted(p.name for p in tmp_path.iterdir()) == ["curve.png", "empty.png", "frontier.png"]  # atomic


def test_plots_read_the_json_form_as_the_typed_one(tuned, tmp_path):
    tuning, policy = _tuning(tuned), tuned.passport.policy
    typed = plot_frontier(tuning, policy, tmp_path / "typed.png").read_bytes()
    assert plot_frontier(tuning.to_dict(), policy.to_dict(), tmp_path / "json.png").read_bytes() == typed


def test_leakage_limits_come_from_the_checks_without_a_policy(tuned, tmp_path):
    tuning, policy = _tuning(tuned), tuned.passport.policy
    from_checks = plot_leakage_curve(tuning, tmp_path / "checks.png").read_bytes()
    assert plot_leakage_curve(tuning, tmp_path / "policy.png", policy=policy).read_bytes() == from_checks
    no_limits = {"privacy": {"max_auc": None, "max_tpr_at_1pct_fpr": None}}
    assert plot_leakage_curve(tuning, tmp_path / "none.png", policy=no_limits).read_bytes() != from_checks


# ---- the report's Tuning section --------------------------------------------------------------
def test_report_lists_every_candidate_and_marks_the_chosen(tuned):
    tuning = _tuning(tuned)
    page = (tuned.out_dir / "report.html").read_text(encoding="utf-8")
    assert page == render_report(tuned.passport, figures_of(tuned))   # the page the release wrote
    rows = _rows(page)
    assert len(rows) == len(tuning.candidates) == 6
    for i, ((attrs, text), c) in enumerate(zip(rows, tuning.candidates, strict=True)):
        assert f'data-candidate="{i}"' in attrs
        assert text.startswith(f"{setting_label(c.defense, c.alpha)}")
        lo, hi = c.strongest.auc_ci
        assert f" {c.epochs} {c.privacy} {'PASS' if c.passed else 'FAIL'} " in text
        assert f"{c.strongest.auc:.3f} [{lo:.3f}, {hi:.3f}] {c.strongest.attack}" in text
        assert f"{c.strongest.tpr_at_1pct:.4f}" in text
        assert text.endswith(f" {len(c.failed)}" + (f" first: {c.failed[0].name}" if c.failed else ""))
        assert ('class="chosen"' in attrs) is (i == tuning.chosen) and ("chosen" in text) is (i == tuning.chosen)
    assert 'class="closest"' not in page
    summary = _text(re.search(r'<p id="tuning-summary">(.*?)</p>', page, re.S).group(1))
    chosen = tuning.candidates[tuning.chosen]
    assert f"{setting_label(chosen.defense, chosen.alpha)} at {chosen.epochs} epochs" in summary


def test_tuning_section_states_metric_method_and_each_setting_audit(tuned):
    tuning = _tuning(tuned)
    section = _section(render_report(tuned.passport, figures_of(tuned)))
    text = _text(section)
    assert f"Primary utility metric, higher is better: {tuning.metric} : {tuning.metric_description}" in text
    assert f"How the error rate is kept: {tuning.method}" in text
    body = re.search(r'<table id="tuning-settings"[^>]*>.*?<tbody>(.*?)</tbody>', section, re.S).group(1)
    settings = [_text(r) for r in re.findall(r"<tr>(.*?)</tr>", body, re.S)]
    assert len(settings) == len(tuning.settings) == 2
    for row, s in zip(settings, tuning.settings, strict=True):
        assert row.startswith(f"{s['label']} {s['shadows']} {s['targets']} {100 * s['error_share']:.1f}% ")


def test_tuning_figures_are_embedded_in_the_section(tuned):
    figures = figures_of(tuned)
    page = render_report(tuned.passport, figures)
    section = _section(page)
    for key in ("frontier", "leakage_curve"):
        tag = re.search(rf'<img id="fig-{key}"[^>]*>', section)
        assert tag, key
        data = re.search(r'src="data:image/png;base64,([^"]+)"', tag.group(0)).group(1)
        assert base64.b64decode(data, validate=True) == figures[key].read_bytes()
        assert page.count(f'id="fig-{key}"') == 1     # not repeated under "Other figures"
    assert 'id="other-figures"' not in page


def test_a_refused_tuning_marks_the_closest_row(tuned):
    data = tuned.passport.to_dict()
    data["tuning"] = _refusal(_tuning(tuned)).to_dict()
    page = render_report(data, figures_of(tuned))
    rows = _rows(page)
    marked = [(i, attrs, text) for i, (attrs, text) in enumerate(rows) if "class=" in attrs]
    assert [(i, "closest (refused)" in text) for i, _, text in marked] == [(0, True)]
    assert 'class="closest"' in marked[0][1] and 'class="chosen"' not in page
    assert " 4 passed PASS \u2014 " in rows[1][1]          # no utility value: a dash
    assert " 4 failed FAIL " in rows[4][1] and " 8 not tested FAIL " in rows[5][1]
    summary = _text(re.search(r'<p id="tuning-summary">(.*?)</p>', page, re.S).group(1))
    assert "No candidate passed every check, so nothing was written; the closest was none at 2 epochs" in summary


def test_tuning_strings_are_escaped(tuned):
    data = copy.deepcopy(tuned.passport.to_dict())
    data["tuning"]["metric"] = EVIL
    data["tuning"]["metric_description"] = EVIL
    data["tuning"]["method"] = EVIL
    data["tuning"]["settings"][0]["label"] = EVIL
    data["tuning"]["candidates"][0]["strongest"]["attack"] = EVIL
    data["tuning"]["candidates"][1]["failed"] = [EVIL]
    page = render_report(data, figures_of(tuned))
    assert "<script" not in page.lower()
    assert _section(page).count("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;") >= 6


def test_a_passport_without_tuning_gets_no_tuning_section(tuned):
    data = json.loads((tuned.out_dir / "release.json").read_text(encoding="utf-8"))
    figures = {k: v for k, v in figures_of(tuned).items() if k not in ("frontier", "leakage_curve")}
    tuned_page = render_report(data, figures)
    assert 'id="tuning"' in tuned_page and "tr.chosen" in tuned_page
    data["tuning"] = None
    untuned = render_report(data, figures)
    del data["tuning"]
    assert render_report(data, figures) == untuned
    assert "tuning" not in untuned.lower() and "tr.chosen" not in untuned and "candidate" not in untuned


def test_tuned_report_in_real_browser(tuned, tmp_path):
    output, _shot = check_in_chromium(tuned, tmp_path)
    assert "fig-frontier" in output and "fig-leakage_curve" in output
