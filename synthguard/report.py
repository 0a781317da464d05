"""The self-contained HTML release report: one page a data steward can read, archive and print.

`render_report(passport, figures)` turns a release passport (a `synthguard.passport.Passport`, or
the content of a ``release.json`` it wrote) and a dict of PNG figure paths into one HTML page:
figures embedded as base64 data URIs, inline CSS, no JavaScript and no external requests (a
Content-Security-Policy forbids them). Every string from the passport is escaped: column names
and paths are user input. The page reads the passport's JSON form (`Passport.to_dict`), the
field and check names the gate writes.

Layout: the verdict first (id="verdict", with a ``data-decision`` attribute), then the checks,
privacy (attacks, ROC, most exposed records), utility (metrics, DWP / DWpre scatters, sample
grids), and provenance (inputs and output with SHA-256, recipe, split, versions, timestamps).
Any section the passport lacks is left out or noted; a missing key never raises.
"""

from __future__ import annotations

import base64
import html
import json
import math
import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .io import write_text

if TYPE_CHECKING:
    from .passport import Passport

__all__ = ["render_report", "write_report"]

_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_MISSING = "\u2014"  # em dash for an absent value

# Figures the page places itself; any other key is shown under "Other figures".
_KNOWN_FIGURES = ("roc", "dwp", "dwpre", "frontier", "leakage_curve")
_FIGURE_TEXT = {
    "roc": ("Log-log ROC of each membership-inference attack",
            "True-positive rate against false-positive rate on log axes, so the low-FPR regime that "
            "matters for privacy is visible. The dashed diagonal is a guessing attacker."),
    "dwp": ("Dimension-wise probability (DWP) scatter",
            "Share of real training rows (x) and synthetic rows (y) holding each binary dimension; "
            "points on the diagonal are matched."),
    "dwpre": ("Dimension-wise prediction (DWpre) scatter",
              "Score of a model trained on real rows (x) and on synthetic rows (y), both tested on "
              "real holdout rows; points on the diagonal lose nothing."),
    "frontier": ("Privacy-utility frontier of the candidates",
                 "The strongest attack\u2019s AUC (left) and TPR at 1% FPR (right), with their intervals, against "
                 "the primary utility metric; one colour per defence setting, its checkpoints joined in order of "
                 "training and labelled with their epochs. Filled points pass every check, hollow ones fail or "
                 "were not tested; dashed lines are the policy\u2019s limits; the ring marks the candidate "
                 "written (or, for a refusal, the closest one)."),
    "leakage_curve": ("Leakage over training",
                      "The strongest attack\u2019s AUC and TPR at 1% FPR, with their intervals, at each "
                      "checkpoint of each defence setting, side by side; dashed lines are the policy\u2019s "
                      "limits."),
}

_COMPARISON = {"<=": "\u2264", ">=": "\u2265", "<": "<", ">": ">", "==": "=", "!=": "\u2260"}

_CSS = """
:root { --ok: #1b7a3a; --ok-bg: #e6f4ea; --bad: #b3261e; --bad-bg: #fce8e6; --muted: #5f6368;
        --line: #d5d8dc; --head: #f3f4f6; }
* { box-sizing: border-box; }
html { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
body { margin: 0; padding: 24px; font: 15px/1.45 -apple-system, "Segoe UI", "DejaVu Sans", Roboto,
       "Helvetica Neue", Arial, sans-serif; color: #202124; background: #fff; }
main { max-width: 1120px; margin: 0 auto; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 19px; margin: 36px 0 10px; padding-bottom: 4px; border-bottom: 2px solid var(--line); }
h3 { font-size: 16px; margin: 22px 0 8px; }
p { margin: 6px 0 10px; }
.subtitle { color: var(--muted); margin: 0 0 16px; }
.verdict { border-radius: 8px; padding: 18px 24px; margin: 8px 0 20px; border: 3px solid; }
.verdict .word { font-size: 44px; font-weight: 800; letter-spacing: 0.06em; line-height: 1.1; }
.verdict p { font-size: 17px; margin: 8px 0 0; }
.verdict.released { background: var(--ok-bg); border-color: var(--ok); color: var(--ok); }
.verdict.refused { background: var(--bad-bg); border-color: var(--bad); color: var(--bad); }
.verdict.unknown { background: var(--head); border-color: var(--muted); color: #202124; }
.verdict p, .verdict .warn { color: #202124; }
.warn { background: #fff4d6; border-left: 4px solid #d19a00; padding: 8px 12px; margin: 10px 0; }
#privacy-off { background: var(--bad-bg); border-left-color: var(--bad); color: var(--bad); }
.note { color: var(--muted); font-size: 13.5px; }
table { border-collapse: collapse; width: 100%; margin: 8px 0 14px; font-size: 14px; }
th, td { border: 1px solid var(--line); padding: 6px 9px; text-align: left; vertical-align: top; }
th { background: var(--head); font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.group th { background: #e8eaed; font-size: 13px; text-transform: uppercase; letter-spacing: 0.04em; }
tr.worst td { background: #fff8e1; }
table.kv, table.compact { width: auto; max-width: 100%; }
.compact td, .compact th { padding-left: 14px; padding-right: 14px; }
.kv td { min-width: 14em; }
.kv th { white-space: nowrap; }
#attacks-table td:first-child { min-width: 190px; }
#attacks-table .ci { display: block; }
.pass { color: var(--ok); font-weight: 700; background: var(--ok-bg); white-space: nowrap; }
.fail { color: var(--bad); font-weight: 700; background: var(--bad-bg); white-space: nowrap; }
.tag { display: inline-block; font-size: 11.5px; font-weight: 700; padding: 0 6px; border-radius: 3px;
       background: #d19a00; color: #fff; margin-left: 6px; vertical-align: 1px; }
.desc { display: block; color: var(--muted); font-size: 12.5px; }
code, .hash { font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 12.5px; }
.hash { word-break: break-all; }
.figures { display: flex; flex-wrap: wrap; gap: 18px; }
figure { margin: 8px 0 14px; flex: 1 1 420px; max-width: 100%; break-inside: avoid; page-break-inside: avoid; }
figure.wide { flex-basis: 100%; }
figure img { display: block; max-width: 100%; height: auto; margin: 0 auto; border: 1px solid var(--line); }
figure.wide img { max-width: 760px; width: 100%; }
figcaption { color: var(--muted); font-size: 13px; margin-top: 6px; }
figcaption b { color: #202124; }
ul.notes { margin: 4px 0 12px; padding-left: 22px; font-size: 13.5px; color: var(--muted); }
footer { margin-top: 40px; color: var(--muted); font-size: 12.5px; border-top: 1px solid var(--line); padding-top: 8px; }
@media print {
  body { padding: 0; font-size: 12px; }
  h2 { break-after: avoid; page-break-after: avoid; }
  table, tr { break-inside: avoid; page-break-inside: avoid; }
  .verdict .word { font-size: 34px; }
}
"""


# Rules only a tuned release's page needs: added to its stylesheet alone, so an untuned page is
# byte for byte what it was before tuned releases existed.
_TUNING_CSS = """
tr.chosen td { background: var(--ok-bg); }
tr.chosen td:first-child { box-shadow: inset 4px 0 0 var(--ok); }
tr.closest td { background: var(--bad-bg); }
tr.closest td:first-child { box-shadow: inset 4px 0 0 var(--bad); }
.tag.chosen { background: var(--ok); }
.tag.closest { background: var(--bad); }
#tuning-table .ci { display: block; }
#tuning-figures figure.wide img { max-width: 100%; }
"""


# --------------------------------------------------------------------------------------------
# small helpers


def _e(value: Any) -> str:
    """Escaped text of any value (quotes too, so the result is also safe inside attributes)."""
    return html.escape("" if value is None else str(value), quote=True)


def _d(value: Any) -> Mapping[str, Any]:
    """`value` if it is a mapping, else an empty one: optional sections may be absent or null."""
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple)) else []


def _is_num(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _level(confidence: Any) -> str:
    """An interval's level as a percentage, e.g. 95% or 98.75%."""
    return f"{100 * float(confidence):.4g}%" if _is_num(confidence) else "95%"


def _fmt(value: Any, digits: int = 4) -> str:
    """A number as short readable text (already escaped); other values escaped as text."""
    if value is None:
        return _MISSING
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}" if abs(value) >= 10_000 else str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "n/a"
        if math.isinf(value):
            return "\u221e" if value > 0 else "\u2212\u221e"
        if value == 0:
            return "0"
        if value.is_integer() and abs(value) < 1e15:
            return _fmt(int(value))
        if abs(value) >= 1e5 or abs(value) < 1e-4:
            return f"{value:.{max(digits - 1, 1)}e}"
        text = f"{value:.{digits}g}" if abs(value) < 1 else f"{value:.{digits}f}".rstrip("0").rstrip(".")
        return text
    if isinstance(value, (list, tuple, Mapping)):
        return _e(json.dumps(value, default=str, ensure_ascii=False))
    return _e(value)


def _fixed(value: Any, places: int) -> str:
    return f"{value:.{places}f}" if _is_num(value) and math.isfinite(value) else _fmt(value)


def _interval(value: Any, ci: Any, places: int) -> str:
    text = _fixed(value, places)
    pair = _list(ci)
    if len(pair) == 2 and all(_is_num(v) for v in pair):
        text += f' <span class="note ci">[{_fixed(pair[0], places)}, {_fixed(pair[1], places)}]</span>'
    return text


def _by_fpr(mapping: Any, fpr: float) -> Any:
    """Look up an FPR-keyed entry whatever the key's spelling ("0.001", 0.001, "1e-3")."""
    for key, value in _d(mapping).items():
        try:
            if math.isclose(float(key), fpr, rel_tol=1e-9):
                return value
        except (TypeError, ValueError):
            continue
    return None


def _slug(key: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", key).strip("-") or "figure"


def _exact(value: Any) -> str:
    """A recorded setting as written (1.0 stays 1.0, 0.0002 is not rounded), escaped."""
    if isinstance(value, str):
        return _e(value)
    if value is None or isinstance(value, (bool, int, float, list, tuple, Mapping)):
        try:
            return _e(json.dumps(value, ensure_ascii=False, default=str))
        except ValueError:  # circular
            return _e(repr(value))
    return _e(value)


def _kv_table(rows: Iterable[tuple[str, Any]], cls: str = "kv") -> str:
    body = "".join(f"<tr><th>{_e(k)}</th><td>{_exact(v)}</td></tr>" for k, v in rows)
    return f'<table class="{cls}">{body}</table>' if body else ""


def _notes(items: Any) -> str:
    notes = [n for n in _list(items) if n not in (None, "")]
    return '<ul class="notes">' + "".join(f"<li>{_e(n)}</li>" for n in notes) + "</ul>" if notes else ""


# --------------------------------------------------------------------------------------------
# figures


def _figure(key: str, path: Any, title: str, caption: str = "", wide: bool = False) -> str:
    fig_id = f"fig-{_slug(key)}"
    cls = ' class="wide"' if wide else ""
    try:
        data = Path(path).read_bytes()
    except (OSError, TypeError, ValueError) as err:
        reason = err.strerror if isinstance(err, OSError) and err.strerror else type(err).__name__
        return (f'<figure{cls}><p class="warn">Figure {_e(title)} could not be read from '
                f"<code>{_e(path)}</code> ({_e(reason)}).</p></figure>")
    if not data.startswith(_PNG_MAGIC):
        return (f'<figure{cls}><p class="warn">Figure {_e(title)} at <code>{_e(path)}</code> is not '
                "a PNG file and was left out.</p></figure>")
    uri = "data:image/png;base64," + base64.b64encode(data).decode("ascii")
    text = f"<b>{_e(title)}.</b> {_e(caption)}" if caption else f"<b>{_e(title)}</b>"
    return (f'<figure{cls}><img id="{_e(fig_id)}" src="{uri}" alt="{_e(title)}">'
            f"<figcaption>{text}</figcaption></figure>")


# --------------------------------------------------------------------------------------------
# sections


def _checks(passport: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [c for c in _list(passport.get("checks")) if isinstance(c, Mapping)]


def _failed_names(passport: Mapping[str, Any]) -> list[str]:
    names = [str(c.get("name", "(unnamed check)")) for c in _checks(passport) if c.get("passed") is False]
    for name in _list(_d(passport.get("verdict")).get("failed")):
        if str(name) not in names:
            names.append(str(name))
    return names


def _decision(passport: Mapping[str, Any]) -> str:
    decision = str(passport.get("decision") or "").strip().lower()
    if decision in ("released", "refused"):
        return decision
    passed = _d(passport.get("verdict")).get("passed")
    if decision == "" and isinstance(passed, bool):
        return "released" if passed else "refused"
    return decision or "unknown"


def _join(names: list[str]) -> str:
    quoted = [f"\u201c{_e(n)}\u201d" for n in names]
    if len(quoted) <= 2:
        return " and ".join(quoted)
    return ", ".join(quoted[:-1]) + " and " + quoted[-1]


def _verdict_section(passport: Mapping[str, Any]) -> str:
    decision = _decision(passport)
    checks = _checks(passport)
    n_total = len(checks)
    n_failed_checks = sum(1 for c in checks if c.get("passed") is False)
    n_passed = sum(1 for c in checks if c.get("passed") is True)
    failed = _failed_names(passport)
    cls = decision if decision in ("released", "refused") else "unknown"
    word = decision.upper() if decision in ("released", "refused") else f"DECISION: {decision.upper()}"

    if n_total == 0:
        counted = "No checks were recorded."
    elif n_failed_checks == 0:
        counted = f"All {n_total} check{'s' if n_total != 1 else ''} passed."
    else:
        counted = f"{n_passed} of {n_total} checks passed, {n_failed_checks} failed."
    if decision == "refused":
        if failed:
            sentence = (f"Synthetic data was not released. {counted} "
                        f"Failed: {_join(failed)}.")
        else:
            sentence = f"Synthetic data was not released. {counted}"
    elif decision == "released":
        sentence = f"Synthetic data was released. {counted}"
    else:
        sentence = counted + (f" Failed: {_join(failed)}." if failed else "")
    reason = _d(passport.get("verdict")).get("reason") or passport.get("reason")
    if reason:
        sentence += f" Reason: {_e(reason)}."

    warn = ""
    if decision == "released" and failed:
        warn = '<p class="warn">The passport says released, yet some checks failed: review before use.</p>'
    elif decision == "refused" and not failed and n_total:
        warn = '<p class="warn">The passport says refused, yet no check is marked as failed.</p>'
    return (f'<section id="verdict" class="verdict {cls}" data-decision="{_e(decision)}">'
            f'<div class="word">{_e(word)}</div><p>{sentence}</p>{warn}</section>')


def _lead_section(passport: Mapping[str, Any]) -> str:
    """One privacy line per threat model (its strongest attack, AUC and TPR at 1% FPR with intervals,
    pass or fail), the audit that ran beside the one the policy requires, and the verdict's error
    rates; a policy that switched the privacy checks off is said in red."""
    lines = [x for x in _list(passport.get("privacy_summary")) if isinstance(x, Mapping)]
    out = []
    if _d(passport.get("verdict")).get("privacy_enforced") is False:
        out.append('<p class="warn" id="privacy-off"><b>The policy switched the privacy checks off:</b> the attacks '
                   "below were measured but did not decide this release.</p>")
    if lines:
        items = []
        for x in lines:
            passed = x.get("passed")
            mark = ('<span class="pass">pass</span>' if passed is True else
                    '<span class="fail">FAIL</span>' if passed is False else "")
            items.append(f'<li data-threat="{_e(x.get("threat_model"))}"><b>{_e(x.get("threat_model"))}</b> threat '
                         f"model: {mark} {_e(x.get('line'))}</li>")
        out.append('<ul id="privacy-lead">' + "".join(items) + "</ul>")
    size = _d(passport.get("audit_size"))
    ran, need = _d(size.get("ran")), _d(size.get("required_by_policy"))
    if ran:
        looks = [look for look in _list(ran.get("looks")) if isinstance(look, Mapping)]
        sequential = ""
        # sequential: the first look came before the most shadows (its intervals are then at a
        # higher level than a single look's 95%: the looks share its error)
        if _is_num(ran.get("most_shadows")) and looks and _is_num(looks[0].get("shadows")) \
                and _is_num(looks[0].get("confidence")) and looks[0]["shadows"] < ran["most_shadows"]:
            sequential = (f" It was sequential: rounds of shadows up to {_fmt(ran.get('most_shadows'))}, the verdict "
                          f"looked at after each ({len(looks)} look{'s' if len(looks) != 1 else ''}, intervals at "
                          f"{_level(looks[0]['confidence'])} each, so the looks together keep a single look's "
                          "error), stopping once more shadows could not change it.")
            for look in looks:
                left = [str(c) for c in _list(look.get("open"))]
                if left:
                    shown = "; ".join(left[:3]) + (f"; and {len(left) - 3} more" if len(left) > 3 else "")
                    sequential += (f" After {_fmt(look.get('shadows'))} shadows {len(left)} check"
                                   f"{'s were' if len(left) != 1 else ' was'} still open: {_e(shown)}.")
        out.append(f'<p class="note" id="audit-size">The audit ran {_fmt(ran.get("shadows"))} shadow models over '
                   f'{_fmt(ran.get("targets"))} records ({_e(ran.get("threat_model"))} threat model); the policy '
                   f'requires at least {_fmt(need.get("shadows"))} and {_fmt(need.get("targets"))}.{sequential}</p>')
    rates = _d(passport.get("error_rates"))
    if rates:
        measured = _d(rates.get("measured"))
        refusal = _d(measured.get("false_refusal"))
        text = (f"False release (true leakage at a limit, released): at most "
                f"{_fmt(rates.get('false_release_bound'))} per limit, by construction.")
        if refusal and measured.get("applies_to_this_audit"):
            text += (f" False refusal (a recipe at chance refused): {_fmt(refusal.get('verdict_if_independent'))} "
                     f"by simulation at this policy and audit size.")
        out.append(f'<p class="note" id="error-rates">{_e(text)}</p>')
    if not out:
        return ""
    return '<section id="lead">' + "".join(out) + "</section>"


def _checks_section(passport: Mapping[str, Any]) -> str:
    checks = _checks(passport)
    if not checks:
        return '<h2 id="checks">Checks</h2><p class="note">The passport records no checks.</p>'
    rows = []
    for c in checks:
        passed = c.get("passed")
        status = ('<td class="pass">PASS</td>' if passed is True else
                  '<td class="fail">FAIL</td>' if passed is False else f"<td>{_MISSING}</td>")
        comp = c.get("comparison")
        comp_text = _e(_COMPARISON.get(str(comp), comp)) if comp is not None else ""
        limit = f"{comp_text} {_fmt(c.get('limit'))}".strip() if "limit" in c else _MISSING
        advice = _e(c.get("advice") or "") if passed is False else ""
        rows.append(f"<tr><td>{_e(c.get('name', '(unnamed check)'))}</td><td>{_e(c.get('kind', ''))}</td>"
                    f'<td class="num">{_fmt(c.get("measured"))}</td><td class="num">{limit}</td>'
                    f"{status}<td>{advice}</td></tr>")
    return ('<h2 id="checks">Checks</h2>'
            '<table id="checks-table"><thead><tr><th>Check</th><th>Kind</th><th class="num">Measured</th>'
            '<th class="num">Limit</th><th>Result</th><th>Advice</th></tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table>")


def _candidate_label(candidate: Mapping[str, Any]) -> str:
    from .tuning import setting_label

    alpha: Any = candidate.get("alpha")
    return setting_label(str(candidate.get("defense", "?")), float(alpha) if _is_num(alpha) else None)


def _candidate_failed(candidate: Mapping[str, Any]) -> list[str]:
    """The names of a candidate's failed enforced checks: as recorded, or from its checks."""
    if isinstance(candidate.get("failed"), (list, tuple)):
        return [str(name) for name in candidate["failed"]]
    return [str(c.get("name", "(unnamed check)")) for c in _list(candidate.get("checks"))
            if isinstance(c, Mapping) and c.get("passed") is False and c.get("enforced", True) is not False]


def _index(value: Any, size: int) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < size else None


def _tuning_settings_table(settings: list[Mapping[str, Any]]) -> str:
    """Each defence setting's audit: its shadows, records, share of the error, looks and interval level."""
    rows = []
    for s in settings:
        looks = [look for look in _list(s.get("looks")) if isinstance(look, Mapping)]
        level = _level(looks[-1].get("confidence")) if looks and _is_num(looks[-1].get("confidence")) else _MISSING
        most = s.get("most_shadows")
        shadows = _fmt(s.get("shadows")) + (f' <span class="note">of at most {_fmt(most)}</span>'
                                            if _is_num(most) and most != s.get("shadows") else "")
        share: Any = s.get("error_share")
        rows.append(f"<tr><td>{_e(s.get('label') or _candidate_label(s))}</td><td class=\"num\">{shadows}</td>"
                    f'<td class="num">{_fmt(s.get("targets"))}</td>'
                    f'<td class="num">{_fixed(share * 100, 1) + "%" if _is_num(share) else _MISSING}</td>'
                    f'<td class="num">{len(looks) if looks else _MISSING}</td><td class="num">{level}</td>'
                    f'<td class="num">{_fmt(s.get("audit_seconds"))}</td></tr>')
    if not rows:
        return ""
    return ('<h3>Audit of each defence setting</h3><table id="tuning-settings" class="compact"><thead><tr>'
            '<th>Defence setting</th><th class="num">Shadow models</th><th class="num">Audited records</th>'
            '<th class="num">Share of the error</th><th class="num">Looks</th><th class="num">Interval level</th>'
            f'<th class="num">Audit seconds</th></tr></thead><tbody>{"".join(rows)}</tbody></table>')


def _tuning_section(passport: Mapping[str, Any], figures: Mapping[str, Any]) -> str:
    """A tuned release's comparison: the primary metric, how the choice keeps the error rate of one
    verdict, each defence setting's audit, one row per candidate (defence setting x checkpoint) with
    its privacy state, result, utility and strongest attack, the chosen row (or for a refusal the
    closest) marked, and the frontier and leakage figures. Empty for an untuned release."""
    tuning = _d(passport.get("tuning"))
    if not tuning:
        return ""
    candidates = [c if isinstance(c, Mapping) else {} for c in _list(tuning.get("candidates"))]
    chosen = _index(tuning.get("chosen"), len(candidates))
    closest = _index(tuning.get("closest"), len(candidates)) if chosen is None else None
    metric = str(tuning.get("metric") or "utility")
    better = "lower" if tuning.get("higher_is_better") is False else "higher"
    settings = [s for s in _list(tuning.get("settings")) if isinstance(s, Mapping)]
    out = ['<h2 id="tuning">Tuning: defence settings \u00d7 checkpoints</h2>']

    n_passed = sum(1 for c in candidates if c.get("passed") is True)
    epochs = sorted({c["epochs"] for c in candidates if _is_num(c.get("epochs"))})
    labels = list(dict.fromkeys(_candidate_label(c) for c in candidates))
    compared = (f"This release compared {len(candidates)} candidate{'s' if len(candidates) != 1 else ''}: "
                f"{len(labels)} defence setting{'s' if len(labels) != 1 else ''} ({', '.join(map(_e, labels))}) "
                f"at checkpoints of {', '.join(_fmt(e) for e in epochs)} epochs; {n_passed} passed every check.")
    if chosen is not None:
        c = candidates[chosen]
        outcome = (f" It wrote the passing candidate with the best {_e(metric)}: <b>{_e(_candidate_label(c))}</b> at "
                   f"<b>{_fmt(c.get('epochs'))} epochs</b> ({_e(metric)} {_fmt(c.get('utility'))}).")
    elif closest is not None:
        c = candidates[closest]
        outcome = (f" No candidate passed every check, so nothing was written; the closest was "
                   f"<b>{_e(_candidate_label(c))}</b> at <b>{_fmt(c.get('epochs'))} epochs</b>.")
    else:
        outcome = " No candidate was chosen."
    subject = "the chosen candidate" if chosen is not None else "the closest candidate"
    out.append(f'<p id="tuning-summary">{compared}{outcome} The checks, privacy and utility sections of this '
               f"page describe {subject}.</p>")
    description = f": {_e(tuning['metric_description'])}" if tuning.get("metric_description") else ""
    out.append(f'<p id="tuning-metric">Primary utility metric, {better} is better: <b>{_e(metric)}</b>'
               f"{description}.</p>")
    if tuning.get("method"):
        out.append(f'<p class="note" id="tuning-method"><b>How the error rate is kept:</b> {_e(tuning["method"])}.</p>')
    out.append(_tuning_settings_table(settings))

    rows = []
    for i, c in enumerate(candidates):
        strongest = _d(c.get("strongest"))
        state = str(c.get("privacy") or _MISSING)
        state_cls = {"passed": ' class="pass"', "failed": ' class="fail"'}.get(state, "")
        passed = c.get("passed")
        result = ('<td class="pass">PASS</td>' if passed is True else
                  '<td class="fail">FAIL</td>' if passed is False else f"<td>{_MISSING}</td>")
        failed = _candidate_failed(c)
        first = f' <span class="desc">first: {_e(failed[0])}</span>' if failed else ""
        tag, cls = "", ""
        if i == chosen:
            tag, cls = '<span class="tag chosen">chosen</span>', ' class="chosen"'
        elif i == closest:
            tag, cls = '<span class="tag closest">closest (refused)</span>', ' class="closest"'
        attack = f'<span class="desc">{_e(strongest["attack"])}</span>' if strongest.get("attack") else ""
        rows.append(
            f'<tr{cls} data-candidate="{i}"><td>{_e(_candidate_label(c))}{tag}</td>'
            f'<td class="num">{_fmt(c.get("epochs"))}</td><td{state_cls}>{_e(state)}</td>{result}'
            f'<td class="num">{_fmt(c.get("utility"))}</td>'
            f'<td class="num">{_interval(strongest.get("auc"), strongest.get("auc_ci"), 3)}{attack}</td>'
            f'<td class="num">{_interval(strongest.get("tpr_at_1pct"), strongest.get("tpr_at_1pct_ci"), 4)}</td>'
            f"<td>{len(failed)}{first}</td></tr>")
    if rows:
        out.append('<h3>Every candidate</h3><p class="note">Privacy: the fixed-sequence test of the setting\u2019s '
                   "checkpoints, from the shortest training (none is tested after the first that fails). Result: "
                   "every enforced check of the policy at that checkpoint. The strongest attack\u2019s intervals "
                   "are at its setting\u2019s level (above).</p>"
                   '<table id="tuning-table"><thead><tr><th>Defence setting</th><th class="num">Epochs</th>'
                   f'<th>Privacy</th><th>Result</th><th class="num">{_e(metric)}</th>'
                   '<th class="num">Strongest attack: AUC [CI]</th><th class="num">TPR @ 1% FPR [CI]</th>'
                   f'<th>Failed checks</th></tr></thead><tbody>{"".join(rows)}</tbody></table>')
    else:
        out.append('<p class="note">The passport records no candidates.</p>')
    shown = [_figure(k, figures[k], *_FIGURE_TEXT[k], wide=True) for k in ("frontier", "leakage_curve")
             if k in figures]
    if shown:
        out.append(f'<div class="figures" id="tuning-figures">{"".join(shown)}</div>')
    return "".join(out)


def _attack_rows(audit: Mapping[str, Any]) -> str:
    worst = audit.get("worst_attack")
    rows = []
    for key, attack in _d(audit.get("attacks")).items():
        a = _d(attack)
        name = a.get("name") or key
        tag = '<span class="tag">worst</span>' if worst is not None and str(name) == str(worst) else ""
        desc = f'<span class="desc">{_e(a["description"])}</span>' if a.get("description") else ""
        n_neg = a.get("n_nonmembers")
        needed_1 = _by_fpr(a.get("negatives_needed"), 0.01)
        needed_01 = _by_fpr(a.get("negatives_needed"), 0.001)
        notes = []
        if _is_num(n_neg) and _is_num(needed_01) and n_neg < needed_01:
            notes.append(f"Only {_fmt(n_neg)} non-members, fewer than the {_fmt(needed_01)} needed to resolve "
                         "0.1% FPR: TPR@0.1% is really a TPR at zero false positives.")
        if _is_num(n_neg) and _is_num(needed_1) and n_neg < needed_1:
            notes.append(f"Fewer than the {_fmt(needed_1)} non-members needed to resolve 1% FPR.")
        n_mem = a.get("n_members")
        counts = _fmt(n_neg) + (f' <span class="note ci">{_fmt(n_mem)} members</span>' if n_mem is not None else "")
        row_cls = ' class="worst"' if tag else ""
        rows.append(
            f'<tr{row_cls}><td><b>{_e(name)}</b>{tag}{desc}</td>'
            f"<td>{_e(a.get('threat', _MISSING))}</td>"
            f'<td class="num">{_interval(a.get("auc"), a.get("auc_ci"), 3)}</td>'
            f'<td class="num">{_interval(_by_fpr(a.get("tpr_at"), 0.01), _by_fpr(a.get("tpr_ci"), 0.01), 4)}</td>'
            f'<td class="num">{_interval(_by_fpr(a.get("tpr_at"), 0.001), _by_fpr(a.get("tpr_ci"), 0.001), 4)}</td>'
            f'<td class="num">{counts}</td><td>{" ".join(notes)}</td></tr>')
    return "".join(rows)


def _privacy_section(passport: Mapping[str, Any], figures: Mapping[str, Any]) -> str:
    audit = _d(passport.get("audit"))
    if not audit and "roc" not in figures:
        return '<h2 id="privacy">Privacy</h2><p class="note">No privacy audit was recorded.</p>'
    out = ['<h2 id="privacy">Privacy: membership-inference audit</h2>']
    config = _d(audit.get("config"))
    if config:
        bits = []
        trained = audit.get("n_shadows", config.get("n_shadows"))
        if _is_num(trained):
            bits.append(f"{_fmt(trained)} shadow models")
        if _is_num(config.get("n_targets")):
            bits.append(f"{_fmt(config['n_targets'])} audited records")
        if config.get("threat_model"):
            bits.append(f"threat model \u201c{_e(config['threat_model'])}\u201d")
        if bits:
            listed = ", ".join(bits[:-1]) + " and " + bits[-1] if len(bits) > 1 else bits[0]
            out.append(f"<p>The audit used {listed}"
                       ". Each attack guesses, record by record, whether a record was in a model's training "
                       "data; AUC 0.5 is guessing.</p>")
    attacks = [a for a in _d(audit.get("attacks")).values() if isinstance(a, Mapping)]
    level = _level(attacks[0].get("confidence") if attacks else None)
    if audit.get("at_chance") is True:
        out.append(f'<p id="at-chance"><b>No attack measurably beats chance:</b> every attack\u2019s {level} '
                   "AUC interval contains 0.5.</p>")
    rows = _attack_rows(audit)
    if rows:
        out.append('<table id="attacks-table"><thead><tr><th>Attack</th><th>Threat model</th>'
                   f'<th class="num">AUC [{level} CI]</th><th class="num">TPR @ 1% FPR [CI]</th>'
                   '<th class="num">TPR @ 0.1% FPR [CI]</th><th class="num">Non-members</th><th>Note</th>'
                   f"</tr></thead><tbody>{rows}</tbody></table>")
    if "roc" in figures:
        title, caption = _FIGURE_TEXT["roc"]
        out.append(f'<div class="figures">{_figure("roc", figures["roc"], title, caption, wide=True)}</div>')
    exposed = [r for r in _list(audit.get("exposed_records")) if isinstance(r, Mapping)]
    if exposed:
        body = "".join(f'<tr><td class="num">{i}</td><td class="num">{_fmt(r.get("row"))}</td>'
                       f'<td class="num">{_fixed(r.get("score_gap"), 4)}</td><td>{_e(r.get("attack", ""))}</td></tr>'
                       for i, r in enumerate(exposed, 1))
        out.append('<h3>Most exposed records</h3><p class="note">Row numbers are 1-based data rows of the '
                   "input table. The score gap is the attack\u2019s mean score for the record when it was a "
                   "member minus when it was not: the larger, the more the model gives the record away.</p>"
                   '<table id="exposed-table" class="compact"><thead><tr><th class="num">#</th>'
                   '<th class="num">Row</th><th class="num">Score gap</th><th>Attack</th></tr></thead>'
                   f"<tbody>{body}</tbody></table>")
    extra = [(k, v) for k, v in config.items() if k not in ("n_shadows", "n_targets", "threat_model")]
    if extra:
        out.append("<h3>Audit settings</h3>" + _kv_table(extra))
    return "".join(out)


# (section key, field, label, meaning)
_UTILITY_ROWS: tuple[tuple[str, str, str, str], ...] = (
    ("quality", "score", "Quality score", "sdmetrics overall quality, 0\u20131, higher is better"),
    ("quality", "column_shapes", "Column shapes", "marginal distributions, 0\u20131"),
    ("quality", "column_pair_trends", "Column pair trends", "pairwise relations, 0\u20131"),
    ("dwp", "mae", "DWP mean absolute error", "gap in each binary dimension\u2019s share, lower is better"),
    ("dwp", "rmse", "DWP root mean squared error", "lower is better"),
    ("dwp", "correlation", "DWP correlation", "real vs synthetic shares, 1 is perfect"),
    ("dwpre", "mean_abs_gap", "DWpre mean absolute gap", "real-trained minus synthetic-trained score, lower is better"),
    ("dwpre", "sum_sq_gap", "DWpre sum of squared gaps", "lower is better"),
    ("dwpre", "mean_synthetic_score", "DWpre mean synthetic-trained score", "higher is better"),
    ("downstream", "accuracy_ratio", "Downstream accuracy ratio", "TSTR / TRTR accuracy, 1 is no loss"),
    ("downstream", "auc_ratio", "Downstream AUC ratio", "TSTR / TRTR AUC, 1 is no loss"),
    ("downstream", "r2_ratio", "Downstream R\u00b2 ratio", "TSTR / TRTR R\u00b2, 1 is no loss"),
    ("distance", "exact_copy_rate", "Exact copies of training rows", "share of synthetic rows"),
    ("distance", "holdout_exact_copy_rate", "Exact copies, holdout baseline", "share of holdout rows equal to a training row"),
    ("distance", "dcr_synthetic_median", "Median distance to closest record, synthetic", "compare with the holdout median"),
    ("distance", "dcr_holdout_median", "Median distance to closest record, holdout", "the natural baseline"),
    ("distance", "dcr_synthetic_p5", "5th-percentile DCR, synthetic", ""),
    ("distance", "dcr_holdout_p5", "5th-percentile DCR, holdout", ""),
    ("distance", "share_closer_than_holdout_p5", "Synthetic rows closer than the holdout\u2019s 5th percentile",
     "about 0.05 when synthetic rows are no closer than unseen real rows"),
)
_GROUPS = {"quality": "Quality", "dwp": "Dimension-wise probability", "dwpre": "Dimension-wise prediction",
           "downstream": "Downstream model", "distance": "Distance to training rows"}


def _downstream_table(down: Mapping[str, Any]) -> str:
    tstr, trtr = _d(down.get("tstr")), _d(down.get("trtr"))
    metrics = [m for m in ("accuracy", "f1_macro", "auc", "r2") if _is_num(tstr.get(m)) or _is_num(trtr.get(m))]
    if not metrics:
        return ""
    labels = {"accuracy": "Accuracy", "f1_macro": "F1 (macro)", "auc": "AUC", "r2": "R\u00b2"}
    body = "".join(f'<tr><th>{labels[m]}</th><td class="num">{_fmt(tstr.get(m))}</td>'
                   f'<td class="num">{_fmt(trtr.get(m))}</td></tr>' for m in metrics)
    target = f" predicting <code>{_e(down['target'])}</code>" if down.get("target") is not None else ""
    model = f" ({_e(down['model'])})" if down.get("model") else ""
    return (f"<h3>Downstream model{target}{model}</h3>"
            '<p class="note">TSTR: trained on synthetic rows; TRTR: trained on real training rows; both '
            "tested on real holdout rows.</p>"
            '<table id="downstream-table" class="compact"><thead><tr><th>Metric</th><th class="num">TSTR</th>'
            f'<th class="num">TRTR</th></tr></thead><tbody>{body}</tbody></table>')


def _utility_section(passport: Mapping[str, Any], figures: Mapping[str, Any]) -> str:
    utility = _d(passport.get("utility"))
    samples = sorted(k for k in figures if str(k).startswith("samples"))
    if not utility and not any(k in figures for k in ("dwp", "dwpre")) and not samples:
        return '<h2 id="utility">Utility</h2><p class="note">No utility evaluation was recorded.</p>'
    out = ['<h2 id="utility">Utility</h2>']
    rows: list[str] = []
    notes: list[Any] = []
    for group, label in _GROUPS.items():
        section = _d(utility.get(group))
        known = [(f, lab, mean) for g, f, lab, mean in _UTILITY_ROWS if g == group and f in section]
        known_fields = {f for g, f, _, _ in _UTILITY_ROWS if g == group}
        extra = [(f, f, "") for f, v in section.items()
                 if f not in known_fields and (_is_num(v) or v is None or isinstance(v, bool))
                 and f not in ("seed", "n_test", "max_rows", "subset", "pairs_scored", "pairs_total")]
        if group == "downstream":
            extra = []  # shown in its own table
        if known or extra:
            rows.append(f'<tr class="group"><th colspan="3">{_e(label)}</th></tr>')
            rows.extend(f'<tr><td>{_e(lab)}</td><td class="num">{_fmt(section[f])}</td>'
                        f'<td class="note">{_e(mean)}</td></tr>' for f, lab, mean in known + extra)
        notes.extend(f"{label}: {n}" for n in _list(section.get("notes")) if n not in (None, ""))
    if rows:
        out.append('<table id="utility-table"><thead><tr><th>Metric</th><th class="num">Value</th>'
                   f"<th>Reads as</th></tr></thead><tbody>{''.join(rows)}</tbody></table>")
    out.append(_downstream_table(_d(utility.get("downstream"))))
    out.append(_notes(notes))
    scatter = [_figure(k, figures[k], *_FIGURE_TEXT[k]) for k in ("dwp", "dwpre") if k in figures]
    if scatter:
        out.append(f'<div class="figures">{"".join(scatter)}</div>')
    if samples:
        out.append("<h3>Generated samples</h3>")
        grid = [_figure(k, figures[k], str(k).replace("_", " ").replace("-", " "),
                        "Images drawn from the generator, per class.") for k in samples]
        out.append(f'<div class="figures">{"".join(grid)}</div>')
    return "".join(out)


def _other_figures(figures: Mapping[str, Any]) -> str:
    keys = [k for k in figures if k not in _KNOWN_FIGURES and not str(k).startswith("samples")]
    if not keys:
        return ""
    body = "".join(_figure(str(k), figures[k], str(k)) for k in keys)
    return f'<h2 id="other-figures">Other figures</h2><div class="figures">{body}</div>'


def _duration(started: Any, finished: Any) -> str | None:
    try:
        a = datetime.fromisoformat(str(started).replace("Z", "+00:00"))
        b = datetime.fromisoformat(str(finished).replace("Z", "+00:00"))
        seconds = int((b - a).total_seconds())
    except (TypeError, ValueError):
        return None
    if seconds < 0:
        return None
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h} h {m:02d} min {s:02d} s" if h else f"{m} min {s:02d} s"


def _provenance_section(passport: Mapping[str, Any]) -> str:
    out = ['<h2 id="provenance">Provenance</h2>']
    inputs = _d(passport.get("inputs"))
    if inputs:
        body = []
        for role, item in inputs.items():
            i = _d(item) if isinstance(item, Mapping) else {"path": item}
            body.append(f"<tr><td>{_e(role)}</td><td><code>{_e(i.get('path', _MISSING))}</code></td>"
                        f'<td class="num">{_fmt(i.get("rows")) if "rows" in i else ""}</td>'
                        f'<td class="hash">{_e(i.get("sha256", _MISSING))}</td></tr>')
        out.append('<h3>Inputs</h3><table id="inputs-table"><thead><tr><th>Input</th><th>Path</th>'
                   f'<th class="num">Rows</th><th>SHA-256</th></tr></thead><tbody>{"".join(body)}</tbody></table>')
    out.append("<h3>Output</h3>")
    output = passport.get("output")
    if isinstance(output, Mapping) and output:
        o = _d(output)
        out.append('<table id="output-table"><thead><tr><th>Path</th><th>Format</th><th class="num">Rows</th>'
                   f'<th>SHA-256</th></tr></thead><tbody><tr><td><code>{_e(o.get("path", _MISSING))}</code></td>'
                   f'<td>{_e(o.get("format", _MISSING))}</td><td class="num">{_fmt(o.get("rows"))}</td>'
                   f'<td class="hash">{_e(o.get("sha256", _MISSING))}</td></tr></tbody></table>')
    elif _decision(passport) == "refused" or output is None and "output" in passport:
        out.append('<p id="no-output">No synthetic rows were written.</p>')
    else:
        out.append('<p class="note">The passport does not record an output file.</p>')
    recipe = _d(passport.get("recipe"))
    if recipe:
        out.append("<h3>Recipe</h3>" + _kv_table(recipe.items()))
    split = _d(passport.get("split"))
    if split:
        out.append("<h3>Train / holdout split</h3>" + _kv_table(split.items()))
    versions: list[tuple[str, Any]] = []
    if passport.get("synthguard_version") is not None:
        versions.append(("synthguard", passport["synthguard_version"]))
    if passport.get("python") is not None:
        versions.append(("python", passport["python"]))
    versions.extend((str(k), v) for k, v in _d(passport.get("versions")).items())
    times = [(label, passport[key]) for key, label in (("started", "started"), ("finished", "finished"))
             if passport.get(key) is not None]
    took = _duration(passport.get("started"), passport.get("finished"))
    if took:
        times.append(("duration", took))
    if versions or times:
        out.append("<h3>Versions and timestamps</h3>" + _kv_table(versions + times))
    return "".join(out)


# --------------------------------------------------------------------------------------------
# public API


def _json_form(passport: Passport | Mapping[str, Any]) -> Mapping[str, Any]:
    """The passport as ``release.json`` holds it: a `Passport`'s `to_dict`, a loaded file as it is."""
    to_dict = getattr(passport, "to_dict", None)
    return _d(to_dict() if callable(to_dict) else passport)


def render_report(passport: Passport | Mapping[str, Any], figures: Mapping[str, Path] | None = None) -> str:
    """Render a release passport (a `Passport`, or a loaded ``release.json``) and its figures (PNG
    paths by figure key) as one self-contained HTML page."""
    passport = _json_form(passport)
    figures = dict(figures or {})
    decision = _decision(passport)
    data = _d(_d(passport.get("inputs")).get("data"))
    source = f" for <code>{_e(data['path'])}</code>" if data.get("path") else ""
    when = f" \u00b7 finished {_e(passport['finished'])}" if passport.get("finished") else ""
    version = f" \u00b7 synthguard {_e(passport['synthguard_version'])}" if passport.get("synthguard_version") else ""
    tuned = bool(_d(passport.get("tuning")))
    csp = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{csp}">',  # a constant, no double quotes
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>synthguard release report: {_e(decision)}</title>",
        f"<style>{_CSS}{_TUNING_CSS if tuned else ''}</style></head><body><main>",
        f'<h1>synthguard release report</h1><p class="subtitle">Synthetic data{source}{version}{when}</p>',
        _verdict_section(passport),
        _lead_section(passport),
        _checks_section(passport),
        _tuning_section(passport, figures),
        _privacy_section(passport, figures),
        _utility_section(passport, figures),
        _other_figures(figures),
        _provenance_section(passport),
        "<footer>This page is self-contained: figures are embedded and nothing is fetched from a network. "
        "The release passport (release.json) holds the same figures in machine-readable form.</footer>",
        "</main></body></html>",
    ]
    return "\n".join(p for p in parts if p) + "\n"


def write_report(passport: Passport | Mapping[str, Any], figures: Mapping[str, Path] | None,
                 path: str | Path) -> Path:
    """Render the report and write it to ``path`` atomically; return the path."""
    path = Path(path)
    write_text(path, render_report(passport, figures))
    return path
