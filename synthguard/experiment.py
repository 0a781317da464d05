"""The paper's comparison on one dataset: every defence trained, attacked and measured alike.

    result = run_experiment(frame, schema, ExperimentConfig(defenses=("none", "mixup")), epochs=60)
    write_experiment(result, "out/exp_ofp")      # results.md, results.json, roc_<defence>.png

For each defence the rows are split as a release splits them (a seeded 80/20 train/holdout):
one model is fitted on the training rows and its synthetic rows are scored against the holdout
(Table IV of Ji et al.: downstream accuracy, sdmetrics quality or Frechet distance); the audit
trains shadow models with the same recipe on halves of the training rows and attacks them with
LOGAN, LiRA and GAN-Leaks (Tables I-III: AUC with 95% CI and TPR at 0.1% FPR). When both `none`
and `mixup` run, the adaptive attack on the mixup models is scored four ways (Tables V-VI): a
single or a mixed query, against reference models trained with mixup or naturally. The masks
and targets of every audit come from the same seed, so the naturally trained shadows are the
mixup shadows' twins, trained on the same rows; with `none` among the defences, each other
defence's attack figures are also given minus no defence's, with paired intervals
(`paired_differences`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import __version__
from .attacks.lira import lira_scores
from .attacks.mixed_query import pair_membership
from .attacks.roc import compare_matrices, summarize_matrix
from .audit import AuditConfig, AuditResult, _derive, audit
from .errors import SynthguardError
from .gan.defenses import DEFENSES
from .io import staged_dir, write_text
from .release import measure_utility, split_holdout
from .schema import Schema
from .synthesizer import Synthesizer
from .versions import library_versions, machine

DEFAULT_DEFENSES = ("none", "mixup", "relaxloss", "pargan")
#: the attack columns of Tables I-III: (heading, audit attack name)
TABLE_ATTACKS = (("LOGAN", "logan"), ("LiRA", "lira"), ("LiRA offline", "lira_offline"),
                 ("GAN-Leaks (full black-box)", "ganleaks"), ("GAN-Leaks (white-box)", "ganleaks_wb"))
Stage = Callable[[str], None]


@dataclass
class ExperimentConfig:
    defenses: tuple[str, ...] = DEFAULT_DEFENSES
    n_shadows: int = 8
    n_targets: int = 250
    holdout_share: float = 0.2
    seed: int = 0
    workers: int | None = None
    backend: str = "local"
    scheduler: str | None = None
    n_bootstrap: int = 1000
    #: settings per defence, e.g. {"pargan": {"partitions": 4}}
    defense_params: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.defenses = tuple(self.defenses)
        unknown = [d for d in self.defenses if d not in DEFENSES]
        if unknown or not self.defenses:
            raise SynthguardError(f"unknown defence {unknown[0] if unknown else '(none given)'!r} "
                                  f"(choose from {', '.join(DEFENSES)})")
        if len(set(self.defenses)) != len(self.defenses):
            raise SynthguardError("each defence may appear only once")
        self.audit_config("none")  # shadow and target counts are checked now, not after a fit

    @property
    def compares_references(self) -> bool:
        """Whether the adaptive tables run: they need mixup victims and their natural twins."""
        return "none" in self.defenses and "mixup" in self.defenses

    def audit_config(self, defense: str) -> AuditConfig:
        """The audit of one defence: LOGAN, LiRA and GAN-Leaks up to the critic threat model, with the
        same targets and shadow design for every defence of the experiment."""
        return AuditConfig(
            n_shadows=self.n_shadows, n_targets=self.n_targets, attacks=("lira", "logan", "ganleaks"),
            threat_model="critic", seed=self.seed, workers=self.workers, backend=self.backend,
            scheduler=self.scheduler, n_bootstrap=self.n_bootstrap,
            # the naturally trained twins answer the mixed query too (Ji et al.'s baseRef), and so does
            # every other defence, so that all audits share one design (the records of a mixed pair
            # are in the same shadows): each defence is then paired with no defence record by record
            mixed_query=True if self.compares_references else None)


@dataclass
class DefenseRun:
    defense: str
    description: dict[str, Any]
    fit_seconds: float
    utility: dict[str, Any]
    audit: AuditResult


@dataclass
class ExperimentResult:
    dataset: str
    modality: str
    n_rows: int
    n_train: int
    config: ExperimentConfig
    recipe: dict[str, Any]
    runs: dict[str, DefenseRun]
    adaptive: dict[str, dict[str, Any]] | None
    seconds: float
    versions: dict[str, str]
    #: each defence's attack figures minus no defence's, paired (`paired_differences`); None
    #: without `none` among the defences
    differences: dict[str, dict[str, dict[str, Any]]] | None = None

    def to_dict(self) -> dict[str, Any]:
        runs = {}
        for name, run in self.runs.items():
            runs[name] = {
                "defense": run.description, "fit_seconds": round(run.fit_seconds, 2), "utility": run.utility,
                "audit_seconds": round(run.audit.seconds, 2),
                "attacks": {a: r.to_dict(include_scores=False) for a, r in run.audit.attacks.items()},
            }
        config = {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.config.__dict__.items()}
        return {"synthguard_version": __version__, "dataset": self.dataset, "modality": self.modality,
                "rows": self.n_rows, "train_rows": self.n_train, "config": config, "recipe": self.recipe,
                "runs": runs, "adaptive": self.adaptive, "differences": self.differences,
                "seconds": round(self.seconds, 1), "versions": self.versions}


def run_experiment(frame: pd.DataFrame, schema: Schema, config: ExperimentConfig | None = None, *,
                   dataset: str = "data", on_stage: Stage | None = None,
                   on_shadow: Callable[[int, int], None] | None = None, **recipe_options: Any) -> ExperimentResult:
    """Train, audit and measure every defence of `config` on a raw frame.

    `recipe_options` are Synthesizer settings shared by all defences (epochs, batch_size, ...)."""
    started = time.perf_counter()
    config = config or ExperimentConfig()
    stage = on_stage or (lambda _message: None)
    resolved = schema.resolve(list(frame.columns), dataset)
    parsed = schema.parse(frame, dataset)
    train_idx, holdout_idx = split_holdout(len(parsed), config.holdout_share, config.seed, resolved.entities(frame))
    train_raw = frame.iloc[train_idx].reset_index(drop=True)
    train, holdout = parsed.iloc[train_idx].reset_index(drop=True), parsed.iloc[holdout_idx].reset_index(drop=True)
    # every recipe first: a wrong setting of the last defence is an error before any training
    recipes = {name: Synthesizer(schema, defense=name, defense_params=config.defense_params.get(name),
                                 seed=config.seed, **recipe_options) for name in config.defenses}
    runs: dict[str, DefenseRun] = {}
    for name, recipe in recipes.items():
        stage(f"{name}: fitting on {len(train)} rows")
        clock = time.perf_counter()
        model = recipe.clone().fit_parsed(train, resolved)
        fit_seconds = time.perf_counter() - clock
        synthetic = model.sample(len(train), seed=config.seed, typed=True)
        stage(f"{name}: utility against {len(holdout)} held-out rows")
        _, utility = measure_utility(train, holdout, synthetic, resolved, config.seed)
        stage(f"{name}: audit with {config.n_shadows} shadow models")
        audited = audit(train_raw, recipe, schema, config.audit_config(name), on_shadow=on_shadow)
        runs[name] = DefenseRun(name, model.describe_defense(), fit_seconds, utility, audited)
    adaptive = None
    if config.compares_references:
        adaptive = adaptive_tables(runs["mixup"].audit, runs["none"].audit, config)
    shared = {k: v for k, v in recipe.get_params().items() if k not in ("defense", "alpha", "lambda_mode",
                                                                          "defense_params")}
    differences = paired_differences(runs, config) if "none" in runs and len(runs) > 1 else None
    return ExperimentResult(dataset, resolved.modality, len(parsed), len(train), config, shared, runs, adaptive,
                            time.perf_counter() - started, {**library_versions(), **machine()}, differences)


def paired_differences(runs: dict[str, DefenseRun], config: ExperimentConfig, reference: str = "none"
                       ) -> dict[str, dict[str, dict[str, Any]]]:
    """Each defence's AUC and TPRs minus the reference defence's, attack by attack, with intervals
    that pair the two: every defence is audited with the same seed, so with the same targets and
    the same membership of each shadow slot, and a record's scores under the two defences are
    resampled together (`attacks.roc.compare_matrices`). Two separate intervals would count the
    records' shared part twice. An attack whose scored units differ between the two (the mixed
    query's pairs when they were drawn differently) is left out."""
    base = runs[reference].audit
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for name, run in runs.items():
        if name == reference:
            continue
        cells = {}
        for attack, mine in run.audit.attacks.items():
            theirs = base.attacks.get(attack)
            if (theirs is None or mine.scores.shape != theirs.scores.shape
                    or not np.array_equal(mine.members, theirs.members) or not np.array_equal(mine.valid, theirs.valid)):
                continue
            found = compare_matrices(mine.scores, theirs.scores, mine.members, valid=mine.valid,
                                     n_bootstrap=config.n_bootstrap, seed=_derive(config.seed, 5))
            cells[attack] = found.to_dict()
        out[name] = cells
    return out


def adaptive_tables(mixup: AuditResult, natural: AuditResult, config: ExperimentConfig) -> dict[str, dict[str, Any]]:
    """LiRA against the mixup-trained victims, single and mixed query, with mixup-trained or
    naturally trained references (leave-one-out: a victim's own twin is never a reference)."""
    if not np.array_equal(mixup.membership, natural.membership) or not np.array_equal(mixup.targets, natural.targets):
        raise SynthguardError("the two audits do not share masks and targets; run them with the same seed")
    seed = _derive(config.seed, 4)
    member = mixup.membership
    cells: dict[str, dict[str, Any]] = {}
    single = mixup.statistics["critic_calibrated"]
    for refs, reference in (("mixup-trained references", None),
                            ("naturally trained references", natural.statistics["critic_calibrated"])):
        scores = lira_scores(single, member, seed=seed, references=reference)
        cells.setdefault("single query", {})[refs] = _summary(scores, member, np.ones_like(member), config)
    if mixup.pairs is not None and natural.pairs is not None:
        codes = pair_membership(member, *mixup.pairs)
        both, counted = codes == 1, codes >= 0
        mixed = mixup.statistics["mixed_query"]
        for refs, reference in (("mixup-trained references", None),
                                ("naturally trained references", natural.statistics["mixed_query"])):
            scores = lira_scores(mixed, both, seed=seed, valid=counted, references=reference)
            cells.setdefault("mixed query", {})[refs] = _summary(scores, both, counted, config)
    return cells


def _summary(scores: np.ndarray, members: np.ndarray, valid: np.ndarray, config: ExperimentConfig) -> dict[str, Any]:
    found = summarize_matrix(scores, members, valid=valid, n_bootstrap=config.n_bootstrap,
                             seed=_derive(config.seed, 4))
    return found.to_dict()



# ---- writing --------------------------------------------------------------------------------------
def write_experiment(result: ExperimentResult, out_dir: str | Path, command: str | None = None) -> Path:
    """Write results.md, results.json and one log-log ROC plot per defence into a new folder
    (staged: an interrupted write leaves nothing)."""
    out_dir = Path(out_dir)
    with staged_dir(out_dir) as staging:
        plots = {name: run.audit.write_roc_plot(staging / f"roc_{name}.png").name for name, run in result.runs.items()}
        data = {**result.to_dict(), "command": command, "plots": plots}
        write_text(staging / "results.json", json.dumps(data, indent=1, default=_plain))
        write_text(staging / "results.md", render_markdown(data))
    return out_dir


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _cell(attack: dict[str, Any] | None) -> str:
    if attack is None:
        return "n/a"
    lo, hi = attack["auc_ci"]
    return f"{attack['auc']:.3f} [{lo:.3f}, {hi:.3f}] / {attack['tpr_at']['0.001']:.4f}"


def _num(value: Any, digits: int = 3) -> str:
    return "n/a" if value is None or (isinstance(value, float) and not np.isfinite(value)) else f"{value:.{digits}f}"


def render_markdown(data: dict[str, Any], heading_level: int = 1) -> str:
    """The experiment's tables as markdown, from its JSON form (so documents can be regenerated
    from saved results)."""
    h = "#" * heading_level
    cfg, recipe = data["config"], data["recipe"]
    lines = [f"{h} {data['dataset']}: defences compared", ""]
    lines += [f"{data['rows']} rows ({data['train_rows']} for training, the rest held out for utility); "
              f"{recipe.get('epochs')} epochs, batch {recipe.get('batch_size')}, seed {cfg['seed']}; audit: "
              f"{cfg['n_shadows']} shadow models on halves of the training rows, {cfg['n_targets']} target records "
              f"each, so every attack is scored on about {cfg['n_shadows'] * cfg['n_targets'] // 2} member and as "
              f"many non-member scores. Took {data['seconds']:.0f} s.", ""]
    if data.get("command"):
        lines += ["```", data["command"], "```", ""]
    lines += [f"{h}# Attacks (Tables I-III analogue)", "",
              "AUC [95% CI] / TPR at 0.1% FPR, pooled over every shadow as victim. An AUC below 0.5 is "
              "reported as measured.", ""]
    lines += ["| defence | " + " | ".join(head for head, _ in TABLE_ATTACKS) + " |",
              "|---" * (len(TABLE_ATTACKS) + 1) + "|"]
    for run in data["runs"].values():
        cells = [_cell(run["attacks"].get(attack)) for _, attack in TABLE_ATTACKS]
        lines.append(f"| {_defense_label(run['defense'])} | " + " | ".join(cells) + " |")
    lines += ["", f"{h}# Utility (Table IV analogue)", ""]
    lines += _utility_table(data)
    if data.get("adaptive"):
        lines += ["", f"{h}# Adaptive attack on the mixup models (Tables V-VI analogue)", "",
                  "LiRA against mixup-trained victims: AUC [95% CI] / TPR at 0.1% FPR. The mixed query scores "
                  "pairs of targets (lambda 0.2, 0.5, 0.8), IN when the victim held both, OUT when neither.", "",
                  "| query | mixup-trained references | naturally trained references |", "|---|---|---|"]
        for query, cells in data["adaptive"].items():
            lines.append(f"| {query} | {_cell(cells.get('mixup-trained references'))} | "
                         f"{_cell(cells.get('naturally trained references'))} |")
    if data.get("differences"):
        lines += ["", f"{h}# Each defence against no defence, paired", "",
                  "The defence's figure minus no defence's, with a 95% interval that pairs them: every defence "
                  "is audited on the same targets with the same shadow membership, so a record is resampled "
                  "under both at once (and the victims' spread is added). An interval wholly below 0: the "
                  "defence measurably lowers that attack.", "",
                  "| defence | attack | AUC | AUC difference [95% CI] | TPR at 1% FPR difference [95% CI] |",
                  "|---|---|---|---|---|"]
        for name, cells in data["differences"].items():
            for attack, d in cells.items():
                lo, hi = d["auc_ci"]
                tlo, thi = d["tpr_ci"]["0.01"]
                lines.append(f"| {_defense_label(data['runs'][name]['defense'])} | {attack} | {d['auc_a']:.3f} against "
                             f"{d['auc_b']:.3f} | {d['auc']:+.3f} [{lo:+.3f}, {hi:+.3f}] | {d['tpr_at']['0.01']:+.3f} "
                             f"[{tlo:+.3f}, {thi:+.3f}] |")
    lines += ["", f"{h}# Reading", ""] + _reading(data)
    lines += ["", "ROC curves (log-log): " + ", ".join(f"[{k}]({v})" for k, v in data.get("plots", {}).items()), ""]
    versions = ", ".join(f"{k} {v}" for k, v in data["versions"].items())
    lines += [f"Versions: {versions}.", ""]
    return "\n".join(lines)


def _strongest(run: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The table attack with the highest AUC (the adaptive pair attack is read separately)."""
    found = {name: run["attacks"][name] for _, name in TABLE_ATTACKS if name in run["attacks"]}
    name = max(found, key=lambda k: found[k]["auc"])
    return name, found[name]


def _utility_headline(run: dict[str, Any], modality: str) -> tuple[str, float | None]:
    """The downstream figure Table IV leads with: TSTR accuracy, or the image classifier's."""
    down = run["utility"].get("downstream") or {}
    if modality == "image":
        return "downstream accuracy", down.get("accuracy_trained_on_synthetic")
    return "TSTR accuracy", (down.get("tstr") or {}).get("accuracy")


def _reading(data: dict[str, Any]) -> list[str]:
    """Sentences computed from the numbers above (never written by hand): the strongest attack
    per defence, whether it beats chance, and what each defence changes against `none`."""
    runs = data["runs"]
    lines = []
    for name, run in runs.items():
        attack, found = _strongest(run)
        lo, hi = found["auc_ci"]
        verdict = "above chance" if lo > 0.5 else "not distinguishable from chance"
        metric, value = _utility_headline(run, data["modality"])
        lines.append(f"- {name}: strongest attack {attack}, AUC {found['auc']:.3f} [{lo:.3f}, {hi:.3f}], {verdict}; "
                     f"{metric} {_num(value)}.")
    if "none" in runs:
        base_attack, base = _strongest(runs["none"])
        base_excess = base["auc"] - 0.5
        _, base_utility = _utility_headline(runs["none"], data["modality"])
        for name, run in runs.items():
            if name == "none":
                continue
            attack, found = _strongest(run)
            excess = found["auc"] - 0.5
            if base["auc_ci"][0] <= 0.5:
                effect = ("the undefended model is not measurably attackable at this scale, so this run cannot show "
                          "a privacy gain")
            elif excess >= base_excess:
                effect = f"it does NOT lower the strongest attack ({found['auc']:.3f} vs {base['auc']:.3f} undefended)"
            else:
                share = 100 * (1 - max(excess, 0.0) / base_excess)
                effect = (f"it removes {share:.0f}% of the undefended model's excess AUC over 0.5 "
                          f"({base['auc']:.3f} -> {found['auc']:.3f})")
            paired = ((data.get("differences") or {}).get(name) or {}).get(base_attack)
            if paired is not None:
                # the undefended model's strongest attack, on this defence, paired record by record
                lo, hi = paired["auc_ci"]
                measured = "measurably lower" if hi < 0 else ("measurably higher" if lo > 0 else "not measurably different")
                effect += (f"; on {base_attack} the defence minus none is {paired['auc']:+.3f} [{lo:+.3f}, {hi:+.3f}] "
                           f"(paired), {measured}")
            elif (base["auc_ci"][0] > 0.5 and found["auc_ci"][0] <= base["auc_ci"][1]
                  and found["auc_ci"][1] >= base["auc_ci"][0]):
                effect += "; the 95% intervals overlap, so the difference is not measurable at this scale"
            _, value = _utility_headline(run, data["modality"])
            change = "" if value is None or base_utility is None else \
                f"; {_utility_headline(run, data['modality'])[0]} {value - base_utility:+.3f} against none"
            lines.append(f"- {name} against none: {effect}{change}.")
    adaptive = data.get("adaptive") or {}
    mixed = adaptive.get("mixed query", {})
    single = adaptive.get("single query", {})
    if mixed and single:
        best = max(((q, r, c) for q, cells in adaptive.items() for r, c in cells.items()), key=lambda t: t[2]["auc"])
        lines.append(f"- Adaptive attack on mixup: the strongest combination is the {best[0]} with {best[1]} "
                     f"(AUC {best[2]['auc']:.3f}, CI [{best[2]['auc_ci'][0]:.3f}, {best[2]['auc_ci'][1]:.3f}]).")
    return lines


def _defense_label(described: dict[str, Any]) -> str:
    settings = ", ".join(f"{k}={v}" for k, v in described.items() if k != "name")
    return described["name"] + (f" ({settings})" if settings else "")


def _utility_table(data: dict[str, Any]) -> list[str]:
    if data["modality"] == "image":
        lines = ["| defence | fit s | downstream accuracy (real-trained) | Frechet distance (train vs holdout) |",
                 "|---|---|---|---|"]
        for run in data["runs"].values():
            u = run["utility"]
            down, fd = u["downstream"], u["frechet"]
            lines.append(f"| {_defense_label(run['defense'])} | {run['fit_seconds']:.0f} | "
                         f"{_num(down['accuracy_trained_on_synthetic'])} ({_num(down['accuracy_trained_on_real'])}) | "
                         f"{_num(fd['synthetic_vs_holdout'], 2)} ({_num(fd['train_vs_holdout'], 2)}) |")
        return lines
    lines = ["| defence | fit s | quality | TSTR accuracy (TRTR) | TSTR AUC (TRTR) | DWP MAE | DWpre gap | "
             "exact copies |", "|---|---|---|---|---|---|---|---|"]
    for run in data["runs"].values():
        u = run["utility"]
        down = u.get("downstream") or {}
        tstr, trtr = down.get("tstr") or {}, down.get("trtr") or {}
        lines.append(f"| {_defense_label(run['defense'])} | {run['fit_seconds']:.0f} | {_num(u['quality']['score'])} | "
                     f"{_num(tstr.get('accuracy'))} ({_num(trtr.get('accuracy'))}) | "
                     f"{_num(tstr.get('auc'))} ({_num(trtr.get('auc'))}) | {_num(u['dwp']['mae'], 4)} | "
                     f"{_num(u['dwpre']['mean_abs_gap'])} | {_num(u['distance']['exact_copy_rate'], 4)} |")
    return lines


__all__ = ["DEFAULT_DEFENSES", "ExperimentConfig", "ExperimentResult", "adaptive_tables", "paired_differences",
           "render_markdown", "run_experiment", "write_experiment"]
