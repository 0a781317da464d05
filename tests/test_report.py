"""The HTML release report on real passports: verdict first, every check the gate wrote, escaped
user strings, embedded figures, no network.

The passports come from two real small releases (tests/conftest.py: `released`, a tiny mixup GAN
that a lenient policy passes; `refused`, a recipe that copies its rows), so the field and check
names the report reads are the ones `release()` and the gate write.
"""

from __future__ import annotations

import base64
import copy
import html
import json
import re
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from synthguard.passport import FileDigest, Passport
from synthguard.report import render_report, write_report

ROOT = Path(__file__).resolve().parents[1]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
EVIL = '<script>alert("x")</script>'


def figures_of(outcome) -> dict[str, Path]:
    """The figures a release wrote, by key, as paths in its folder."""
    return {key: outcome.out_dir / name for key, name in outcome.passport.figures.items()}


def loaded(outcome) -> dict:
    """The release's passport as a reader of release.json gets it."""
    return json.loads((outcome.out_dir / "release.json").read_text(encoding="utf-8"))


def _verdict(page: str) -> re.Match:
    match = re.search(r'<section id="verdict"[^>]*data-decision="([^"]*)"[^>]*>(.*?)</section>', page, re.S)
    assert match, "no verdict element"
    return match


def _text(fragment: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def _table(page: str, table_id: str) -> list[str]:
    body = re.search(rf'<table id="{table_id}"[^>]*>(.*?)</table>', page, re.S)
    assert body, f"no table {table_id}"
    return re.findall(r"<tr[^>]*>(.*?)</tr>", body.group(1), re.S)[1:]  # rows after the header


def test_the_page_is_the_one_release_wrote(released, refused):
    for outcome in (released, refused):
        written = (outcome.out_dir / "report.html").read_text(encoding="utf-8")
        assert render_report(outcome.passport, figures_of(outcome)) == written
        assert render_report(loaded(outcome), figures_of(outcome)) == written  # a loaded release.json too


def test_released_verdict_comes_first(released):
    passport = released.passport
    page = render_report(passport, figures_of(released))
    verdict = _verdict(page)
    assert verdict.group(1) == "released" and passport.decision == "released"
    assert "RELEASED" in verdict.group(2)
    assert f"All {len(passport.checks)} checks passed" in _text(verdict.group(2))
    assert {c.kind for c in passport.checks} == {"privacy", "utility", "disclosure"}
    assert page.index('id="verdict"') < page.index('id="checks"') < page.index('id="privacy"')
    assert page.index('id="privacy"') < page.index('id="utility"') < page.index('id="provenance"')
    assert ("No attack measurably beats chance" in page) == bool(passport.audit["at_chance"])
    assert passport.output is not None and passport.output.sha256 in page
    assert "No synthetic rows were written" not in page
    assert 'class="fail"' not in page
    # the lead: one line per threat model the audit covered, with the audit's size beside the policy's
    lead = re.findall(r'<li data-threat="([^"]+)">', page)
    assert lead == [line.threat_model for line in passport.privacy_summary] and len(lead) >= 1
    assert f"The audit ran {passport.audit_size.ran.shadows} shadow models" in _text(page)


def test_every_check_the_gate_wrote_is_a_row(released, refused):
    for outcome in (released, refused):
        page = render_report(outcome.passport, figures_of(outcome))
        rows = [_text(r) for r in _table(page, "checks-table")]
        assert len(rows) == len(outcome.passport.checks)
        for row, check in zip(rows, outcome.passport.checks, strict=True):
            assert row.startswith(f"{check.name} {check.kind}")
            assert ("FAIL" in row) is (not check.passed) and ("PASS" in row) is check.passed
            if not check.passed:
                assert check.advice and check.advice in row      # advice only where a check failed


def test_refused_names_each_failing_check(refused):
    passport = refused.passport
    page = render_report(passport, figures_of(refused))
    verdict = _verdict(page)
    assert verdict.group(1) == "refused" and passport.decision == "refused"
    sentence = _text(verdict.group(2))
    failed = passport.failed
    assert "REFUSED" in sentence
    assert f"{len(passport.checks) - len(failed)} of {len(passport.checks)} checks passed, {len(failed)} failed" \
        in sentence
    # what the memoriser must be refused for, by the names the gate gives its checks
    names = {c.name for c in failed}
    assert {"ganleaks: AUC, upper 95% bound", "lira: AUC, upper 95% bound",
            "synthetic rows identical to a training row"} <= names
    for check in passport.checks:
        assert (f"\u201c{check.name}\u201d" in sentence) is (not check.passed), check.name
    assert page.count('<td class="fail">FAIL</td>') == len(failed)
    assert "No synthetic rows were written" in page and passport.output is None
    assert "No attack measurably beats chance" not in page
    lead = re.findall(r'<li data-threat="[^"]+">.*?</li>', page, re.S)
    assert lead and all('class="fail">FAIL' in item for item in lead)  # every threat model's strongest attack


def test_attack_table_shows_every_attack_with_its_interval(released, refused):
    for outcome in (released, refused):
        audit = outcome.passport.audit
        page = render_report(outcome.passport, figures_of(outcome))
        rows = [_text(r) for r in _table(page, "attacks-table")]
        assert len(rows) == len(audit["attacks"])
        for row, (key, attack) in zip(rows, audit["attacks"].items(), strict=True):
            assert row.startswith(attack["name"]) and attack["threat"] in row
            lo, hi = attack["auc_ci"]
            assert f"{attack['auc']:.3f} [{lo:.3f}, {hi:.3f}]" in row
            assert ("worst" in row) is (key == audit["worst_attack"])
            too_few = attack["n_nonmembers"] < attack["negatives_needed"]["0.001"]
            assert (f"Only {attack['n_nonmembers']} non-members" in row) is too_few
        exposed = [_text(r) for r in _table(page, "exposed-table")]
        assert [row.split()[1] for row in exposed] == [str(r["row"]) for r in audit["exposed_records"]]
        assert all(1 <= r["row"] <= 400 for r in audit["exposed_records"])  # rows of the 400-row input


def test_utility_and_provenance_come_from_the_passport(released):
    passport = released.passport
    page = render_report(passport, figures_of(released))
    utility = _text("".join(_table(page, "utility-table")))
    assert "Quality score" in utility and "DWP mean absolute error" in utility
    down = passport.utility["downstream"]
    assert f"predicting {down['target']}" in _text(page)
    inputs = [_text(r) for r in _table(page, "inputs-table")]
    assert [row.split()[0] for row in inputs] == list(passport.inputs)
    assert passport.inputs["data"].sha256 in page and passport.inputs["policy"].sha256 in page
    assert f"<tr><th>defense</th><td>{passport.recipe['defense']}</td></tr>" in page   # the recipe as recorded
    assert f"<tr><th>train_rows</th><td>{passport.split.train_rows}</td></tr>" in page


def test_user_strings_are_escaped(refused):
    data = copy.deepcopy(loaded(refused))
    data["inputs"]["data"]["path"] = f"data/{EVIL}.csv"
    first_failed = next(c for c in data["checks"] if not c["passed"])
    first_failed["name"] = f"AUC of {EVIL}"
    data["utility"]["downstream"]["target"] = EVIL
    data["recipe"]["recipe"] = EVIL
    next(iter(data["audit"]["attacks"].values()))["description"] = EVIL
    for page in (render_report(data, figures_of(refused)),
                 render_report(replace(refused.passport, inputs={**refused.passport.inputs,
                                                                 "data": FileDigest(EVIL, "0" * 64, 1)}), {})):
        assert "<script" not in page.lower()
        assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    assert "AUC of &lt;script&gt;" in _verdict(render_report(data, {})).group(2)  # the failing check, named, escaped


def test_images_are_embedded_png_and_page_is_offline(released):
    figures = figures_of(released)
    assert set(figures) == {"roc", "dwp", "dwpre"}
    page = render_report(released.passport, figures)
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


def test_missing_optional_sections_do_not_crash(released, tmp_path):
    """A release.json of another version may lack a section: the page leaves it out, never raises."""
    full = loaded(released)
    for key in ("audit", "utility", "inputs", "output", "recipe", "split", "checks", "verdict", "privacy_summary",
                "audit_size", "error_rates", "started", "finished", "synthguard_version"):
        passport = copy.deepcopy(full)
        del passport[key]
        assert _verdict(render_report(passport, figures_of(released))).group(1) == "released"
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


def test_a_sequential_audit_says_what_each_look_left_open(released):
    passport = copy.deepcopy(loaded(released))
    ran = passport["audit_size"]["ran"]
    ran.update(most_shadows=16, looks=[
        {"shadows": 4, "confidence": 0.9875, "stopped": False,
         "open": ["lira_mixed: TPR at 0.1% FPR (upper 0.0131, 2,254 non-member scores)", EVIL]},
        {"shadows": 8, "confidence": 0.9875, "stopped": True}])
    page = render_report(passport, {})
    size = _text(re.search(r'<p class="note" id="audit-size">(.*?)</p>', page, re.S).group(1))
    assert "After 4 shadows 2 checks were still open: lira_mixed: TPR at 0.1% FPR (upper 0.0131" in size
    assert "After 8 shadows" not in size and EVIL not in page  # the last look decided; text is escaped


def test_write_report_is_atomic(released, tmp_path):
    target = tmp_path / "report.html"
    target.write_text("old")
    assert write_report(released.passport, figures_of(released), target) == target
    assert target.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html"]


def check_in_chromium(outcome, tmp_path: Path) -> tuple[str, Path]:
    """Render a release's report from its release.json and check it in real Chromium
    (scripts/check_report.py): every figure decoded. Returns the checker's output and screenshot."""
    if not shutil.which("chromium"):
        pytest.skip("chromium is not installed (Debian: apt-get install -y chromium)")
    figures = figures_of(outcome)
    report = write_report(Passport.load(outcome.out_dir / "release.json"), figures, tmp_path / "report.html")
    shot = tmp_path / "shot.png"
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "check_report.py"), str(report),
                           "--screenshot", str(shot)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr or done.stdout
    assert f"{len(figures)} <img> fully decoded" in done.stdout
    return done.stdout, shot


def test_report_in_real_browser(refused, tmp_path):
    _output, shot = check_in_chromium(refused, tmp_path)
    assert shot.read_bytes().startswith(PNG_MAGIC)
