"""The privacy audit: attack the training procedure as the strongest published attackers would.

    result = audit(frame, recipe=Synthesizer(schema, defense="mixup", epochs=300), n_shadows=16)

K shadow models are trained with the release's exact recipe, each on a random half of the data
(every record in exactly half of them). Every shadow in turn is the victim and the others the
attacker's references; each attack scores every (victim, target record) pair, higher = more
likely a member, and the pooled scores and true memberships give one ROC per attack.

Attacks, by what the attacker holds (the threat model; each level includes the ones above it):

* data       only synthetic rows: GAN-Leaks full black-box (nearest synthetic record) and its
             calibrated form, a DOMIAS-style density ratio, LOGAN black-box (a classifier of
             synthetic vs real rows), and LiRA on the nearest-record distance
* generator  the generator too: GAN-Leaks white-box (reconstruction by L-BFGS over z) and LiRA
             on its log loss
* critic     the critic too (the internal worst case): LiRA on Ji et al.'s calibrated critic
             statistic (online and offline), LOGAN white-box (the raw critic score), and for
             mixup-trained recipes the paper's adaptive mixed-query LiRA over record pairs
"""

from __future__ import annotations

import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from . import __version__
from .attacks.ganleaks import log_distance_statistic
from .attacks.mixed_query import pair_membership, pair_records
from .attacks.reconstruction import log_reconstruction_statistic
from .attacks.lira import lira_scores, out_reference_mean
from .attacks.roc import RocSummary, summarize_matrix
from .attacks.shadows import MODEL_FILE, ShadowTask, balanced_masks, choose_targets, run_shadow
from .errors import SynthguardError
from .parallel import run_tasks
from .rundir import RunDirectory, fingerprint
from .schema import Schema
from .utility.features import fit_features

THREAT_MODELS = ("data", "generator", "critic")


@dataclass(frozen=True)
class AttackSpec:
    name: str
    family: str
    threat: str           # the weakest threat model under which the attacker can run it
    description: str


ATTACKS: dict[str, AttackSpec] = {a.name: a for a in [
    AttackSpec("lira", "lira", "critic", "LiRA online, global variance, on D(x,y) minus the mean critic of m fakes"),
    AttackSpec("lira_offline", "lira", "critic", "LiRA offline (OUT models only, one-sided), same statistic"),
    AttackSpec("logan", "logan", "critic", "LOGAN white-box: the victim's critic D(x,y)"),
    AttackSpec("lira_mixed", "lira", "critic", "Ji et al.'s adaptive LiRA against mixup: critic statistic of "
               "mixed record pairs (pairs IN for models holding both, OUT for neither)"),
    AttackSpec("lira_gen", "lira", "generator", "LiRA online on -log GAN-Leaks white-box reconstruction loss"),
    AttackSpec("ganleaks_wb", "ganleaks", "generator", "GAN-Leaks white-box: -reconstruction loss (L-BFGS over z)"),
    AttackSpec("lira_dcr", "lira", "data", "LiRA online on -log distance to the nearest synthetic record"),
    AttackSpec("ganleaks", "ganleaks", "data", "GAN-Leaks full black-box: -distance to the nearest synthetic record"),
    AttackSpec("ganleaks_cal", "ganleaks", "data", "GAN-Leaks calibrated by reference models that did not see the record"),
    AttackSpec("domias", "domias", "data", "density ratio of synthetic to real reference rows (kNN, DOMIAS-style)"),
    AttackSpec("logan_bb", "logan", "data", "LOGAN black-box: classifier of synthetic vs real reference rows"),
]}
FAMILIES = ("lira", "logan", "ganleaks", "domias")


@dataclass
class AuditConfig:
    n_shadows: int = 16
    n_targets: int = 500
    attacks: tuple[str, ...] = FAMILIES
    threat_model: str = "critic"
    critic_fakes: int = 64
    synthetic_rows: int = 10_000
    seed: int = 0
    workers: int | None = None
    backend: str = "local"
    scheduler: str | None = None
    n_bootstrap: int = 1000
    #: score mixed record pairs (Ji et al.'s adaptive query): None = only for mixup recipes; True
    #: also for others (an experiment uses them as naturally trained references)
    mixed_query: bool | None = None
    #: keep each finished shadow here and resume from the ones already there (`synthguard.rundir`)
    run_dir: str | None = None

    def __post_init__(self) -> None:
        if self.run_dir is not None:
            self.run_dir = str(self.run_dir)  # a Path would not go into the audit's JSON
        if self.n_shadows < 4 or self.n_shadows % 2:
            raise SynthguardError(f"the number of shadow models must be even and at least 4, got {self.n_shadows}")
        if self.n_targets < 10:
            raise SynthguardError(f"the audit needs at least 10 target records, got {self.n_targets}")
        if self.threat_model not in THREAT_MODELS:
            raise SynthguardError(f"the threat model must be one of {', '.join(THREAT_MODELS)}, got {self.threat_model!r}")
        unknown = sorted(set(self.attacks) - set(FAMILIES))
        if unknown:
            raise SynthguardError(f"unknown attack {unknown[0]!r} (choose from {', '.join(FAMILIES)})")

    def scores_pairs(self, recipe: Any) -> bool:
        """Whether the audit scores mixed record pairs: for mixup recipes (or as `mixed_query` says),
        with at least 8 shadows (pairs count only for models holding both records or neither, about
        half of them: below 8 too few references remain on each side), and when lira_mixed is run."""
        wanted = self.mixed_query if self.mixed_query is not None else getattr(recipe, "defense", None) == "mixup"
        return bool(wanted) and self.n_shadows >= 8 and "lira_mixed" in {a.name for a in self.selected()}

    def selected(self) -> list[AttackSpec]:
        allowed = THREAT_MODELS[: THREAT_MODELS.index(self.threat_model) + 1]
        return [a for a in ATTACKS.values() if a.family in self.attacks and a.threat in allowed]


@dataclass
class AttackResult:
    spec: AttackSpec
    scores: np.ndarray        # (models, targets) or (models, pairs), higher = more likely member
    summary: RocSummary
    members: np.ndarray       # bool, same shape: the truth the ROC was drawn against
    valid: np.ndarray         # bool, same shape: entries that count (all, except mixed pairs)

    def to_dict(self, include_scores: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.spec.name, "family": self.spec.family, "threat": self.spec.threat,
                               "description": self.spec.description, **self.summary.to_dict()}
        if include_scores:
            out["scores"] = [[None if np.isnan(v) else round(float(v), 6) for v in row] for row in self.scores]
        return out


@dataclass
class AuditResult:
    config: AuditConfig
    recipe: dict[str, Any]
    targets: np.ndarray       # population row indices (0-based) of the audited records
    membership: np.ndarray    # (models, targets) bool
    attacks: dict[str, AttackResult]
    seconds: float
    n_population: int
    statistics: dict[str, np.ndarray] = field(default_factory=dict)
    reused_shadows: int = 0   # shadows loaded from the run directory, not trained in this run
    pairs: tuple[np.ndarray, np.ndarray] | None = None   # target index pairs of the mixed query
    #: 1-based row number in the caller's input of each population row (default: its position);
    #: a release audits its training split and names records by their row in the input file
    row_numbers: np.ndarray | None = None

    def input_rows(self, population_index: np.ndarray) -> np.ndarray:
        """1-based input row numbers of population rows."""
        index = np.asarray(population_index, dtype=np.int64)
        return index + 1 if self.row_numbers is None else np.asarray(self.row_numbers)[index]

    @property
    def worst(self) -> AttackResult:
        return max(self.attacks.values(), key=lambda a: a.summary.auc)

    @property
    def worst_per_record(self) -> AttackResult:
        """The strongest attack that scores single records (pair attacks cannot name a record)."""
        per_record = [a for a in self.attacks.values() if a.scores.shape == self.membership.shape]
        return max(per_record, key=lambda a: a.summary.auc)

    def strongest_by_threat(self) -> dict[str, AttackResult]:
        """Per threat model the audit covers, the strongest attack open to that attacker (each
        level includes the attacks of the weaker ones): highest AUC, then highest TPR at 1% FPR."""
        levels = THREAT_MODELS[: THREAT_MODELS.index(self.config.threat_model) + 1]
        out = {}
        for level in levels:
            allowed = set(levels[: levels.index(level) + 1])
            open_to = [a for a in self.attacks.values() if a.spec.threat in allowed]
            if open_to:
                out[level] = max(open_to, key=lambda a: (a.summary.auc, a.summary.tpr_at.get(0.01, 0.0)))
        return out

    @property
    def at_chance(self) -> bool:
        """True when every attack's 95% AUC interval contains 0.5 (or lies below it)."""
        return all(a.summary.auc_ci[0] <= 0.5 for a in self.attacks.values())

    def write_roc_plot(self, path: Any) -> Any:
        """A log-log ROC of every attack, pooled over victims, as a PNG."""
        from .plots import plot_roc

        curves = {name: (a.scores[a.valid], a.members[a.valid]) for name, a in self.attacks.items()}
        return plot_roc(curves, path, title="Membership inference (pooled over victims)", inputs="scores")

    def exposed_records(self, attack: str | None = None, top: int = 10) -> list[dict[str, Any]]:
        """The records an attack separates best: mean score as a member minus as a non-member,
        with 1-based data row numbers (as `schema check` reports rows)."""
        result = self.attacks[attack] if attack else self.worst_per_record
        member = self.membership
        gap = (np.where(member, result.scores, 0).sum(0) / np.maximum(member.sum(0), 1)
               - np.where(~member, result.scores, 0).sum(0) / np.maximum((~member).sum(0), 1))
        order = np.argsort(-gap, kind="stable")[:top]
        rows = self.input_rows(self.targets[order])
        return [{"row": int(row), "score_gap": float(gap[i]), "attack": result.spec.name} for row, i in zip(rows, order)]

    def to_dict(self, include_scores: bool = True) -> dict[str, Any]:
        out = {
            "synthguard_version": __version__, "python": platform.python_version(),
            "config": {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.config.__dict__.items()},
            "recipe": self.recipe, "n_population": self.n_population, "seconds": round(self.seconds, 2),
            "targets_rows": self.input_rows(self.targets).tolist(),
            "attacks": {name: a.to_dict(include_scores) for name, a in self.attacks.items()},
            "worst_attack": self.worst.spec.name, "at_chance": self.at_chance,
            "exposed_records": self.exposed_records(),
        }
        if include_scores:
            out["membership"] = self.membership.astype(int).tolist()
        return out


def _derive(seed: int, *stream: int) -> int:
    return int(np.random.SeedSequence([seed, *stream]).generate_state(1)[0])


def audit(frame: pd.DataFrame, recipe: Any, schema: Schema | None = None, config: AuditConfig | None = None,
          on_shadow: Callable[[int, int], None] | None = None, **options: Any) -> AuditResult:
    """Audit a training recipe on a raw (or parsed) frame.

    Args:
        frame: the private table (raw cells are parsed by the schema).
        recipe: an unfitted `Synthesizer` (or any object with the same clone/fit_parsed/sample/
            critic_statistics methods) whose settings the release will use. Under the `data`
            threat model clone/fit_parsed/sample suffice (a generator without a critic).
        schema: defaults to the recipe's schema.
        config: audit settings; keyword `options` override its fields (n_shadows=8, ...) in a copy,
            so the caller's config is never changed.
        on_shadow: called with (shadows done, total) for progress.
    """
    started = time.perf_counter()
    config = replace(config or AuditConfig(), **options)  # a copy, validated again by __post_init__
    schema = schema or getattr(recipe, "schema", None)
    if schema is None:
        raise SynthguardError("the audit needs a schema")
    resolved = schema.resolve(list(frame.columns))
    parsed = schema.parse(frame)
    n = len(parsed)
    if n < 20:
        raise SynthguardError(f"the audit needs at least 20 rows, got {n}")
    features = fit_features(parsed, resolved)
    population = features.transform(parsed)
    # keep at least half the rows out of the targets, so every shadow has real reference rows
    n_targets = min(config.n_targets, n // 2)
    targets = choose_targets(population, n_targets, _derive(config.seed, 1))
    masks = balanced_masks(config.n_shadows, n, _derive(config.seed, 2))
    pairs = pair_records(None, len(targets), _derive(config.seed, 5)) if config.scores_pairs(recipe) else None
    keep = config.run_dir is not None
    tasks = [ShadowTask(k, _derive(config.seed, 3, k), recipe, parsed, resolved, features, population, masks[k],
                        targets, config.critic_fakes, config.synthetic_rows, pairs, config.threat_model, keep)
             for k in range(config.n_shadows)]
    results, reused = _run_shadows(tasks, config, recipe, resolved, parsed, pairs, on_shadow)
    names = set(results[0])
    if any(set(r) != names for r in results):
        raise SynthguardError(f"{config.run_dir}: its shadows hold different statistics; delete it to start over")
    stats = {name: np.stack([r[name] for r in results]) for name in results[0]}
    membership = masks[:, targets]
    attacks = _score(stats, membership, config, pairs)
    recipe_params = recipe.get_params() if hasattr(recipe, "get_params") else {"recipe": type(recipe).__name__}
    return AuditResult(config, recipe_params, targets, membership, attacks, time.perf_counter() - started, n, stats,
                       reused, pairs)


def _run_shadows(tasks: list[ShadowTask], config: AuditConfig, recipe: Any, resolved: Schema, parsed: pd.DataFrame,
                 pairs: tuple[np.ndarray, np.ndarray] | None,
                 on_shadow: Callable[[int, int], None] | None) -> tuple[list[dict[str, np.ndarray]], int]:
    """Every shadow's statistics, in index order, and how many came from the run directory."""
    if config.run_dir is None:
        return run_tasks(run_shadow, tasks, backend=config.backend, workers=config.workers,
                         scheduler=config.scheduler, on_done=on_shadow), 0
    task = tasks[0]
    run = RunDirectory(config.run_dir, fingerprint(
        recipe=recipe, schema_yaml=resolved.to_yaml(), population=parsed, targets=task.targets,
        masks=np.stack([t.member for t in tasks]), pairs=pairs, shadow_seeds=[t.seed for t in tasks],
        settings={"seed": config.seed, "n_shadows": config.n_shadows, "n_targets": len(task.targets),
                  "threat_model": config.threat_model, "critic_fakes": config.critic_fakes,
                  "synthetic_rows": config.synthetic_rows}))
    done: dict[int, dict[str, np.ndarray]] = {}
    for t in tasks:
        found = run.load(t.index)
        if found is not None:
            done[t.index] = found
    reused = len(done)
    pending = [t for t in tasks if t.index not in done]
    if on_shadow is not None and reused:
        on_shadow(reused, len(tasks))

    def kept(position: int, result: dict[str, np.ndarray]) -> None:
        # on disk as soon as it arrives: an interruption loses only the shadows still training
        index = pending[position].index
        model_file = result.pop(MODEL_FILE, None)
        run.save(index, result, None if model_file is None else model_file.tobytes())
        done[index] = result

    def progress(count: int, total: int) -> None:
        if on_shadow is not None:
            on_shadow(reused + count, len(tasks))

    if pending:
        run_tasks(run_shadow, pending, backend=config.backend, workers=config.workers, scheduler=config.scheduler,
                  on_done=progress, on_result=kept)
    return [done[t.index] for t in tasks], reused


def _score(stats: dict[str, np.ndarray], membership: np.ndarray, config: AuditConfig,
           pairs: tuple[np.ndarray, np.ndarray] | None) -> dict[str, AttackResult]:
    seed = _derive(config.seed, 4)
    log_d = log_distance_statistic(stats["nn_distance"])
    every = np.ones_like(membership)
    scorers: dict[str, Callable[[], tuple[np.ndarray, np.ndarray, np.ndarray]]] = {
        "lira": lambda: (lira_scores(stats["critic_calibrated"], membership, seed=seed), membership, every),
        "lira_offline": lambda: (lira_scores(stats["critic_calibrated"], membership, online=False, seed=seed),
                                 membership, every),
        "logan": lambda: (stats["critic"], membership, every),
        "lira_gen": lambda: (lira_scores(log_reconstruction_statistic(stats["reconstruction"]), membership, seed=seed),
                             membership, every),
        "ganleaks_wb": lambda: (-stats["reconstruction"], membership, every),
        "lira_dcr": lambda: (lira_scores(log_d, membership, seed=seed), membership, every),
        "ganleaks": lambda: (-stats["nn_distance"], membership, every),
        "ganleaks_cal": lambda: (log_d - out_reference_mean(log_d, membership, seed=seed), membership, every),
        "domias": lambda: (stats["density_ratio"], membership, every),
        "logan_bb": lambda: (stats["blackbox"], membership, every),
    }
    if pairs is not None:
        codes = pair_membership(membership, *pairs)
        both, counted = codes == 1, codes >= 0
        scorers["lira_mixed"] = lambda: (lira_scores(stats["mixed_query"], both, seed=seed, valid=counted), both, counted)
    results = {}
    for spec in config.selected():
        if spec.name not in scorers:
            continue  # the mixed query runs only against mixup-trained recipes
        scores, members, valid = scorers[spec.name]()
        valid = valid & np.isfinite(scores)
        if members[valid].all() or not members[valid].any():
            continue  # too few models for this attack (the mixed query needs pairs IN and OUT)
        # scores are clustered by record (columns) and by victim model (rows): resample both
        summary = summarize_matrix(scores, members, valid=valid, n_bootstrap=config.n_bootstrap, seed=seed)
        results[spec.name] = AttackResult(spec, scores, summary, members, valid)
    return results


def attack_table_rows(result: AuditResult) -> list[Sequence[str]]:
    """Rows for a printed table that fits 80 columns: attack, AUC [95% CI], TPR at 1% FPR [95% CI],
    and the upper bound of TPR at 0.1% FPR."""
    rows = []
    for name, attack in result.attacks.items():
        s = attack.summary
        rows.append((name, f"{s.auc:.3f} [{s.auc_ci[0]:.3f},{s.auc_ci[1]:.3f}]",
                     f"{s.tpr_at[0.01]:.3f} [{s.tpr_ci[0.01][0]:.3f},{s.tpr_ci[0.01][1]:.3f}]",
                     f"{s.tpr_at[0.001]:.4f} <={s.tpr_ci[0.001][1]:.4f}"))
    return rows


def headline(attack: AttackResult) -> str:
    """One line: an attack's AUC and TPR at 1% FPR with their 95% intervals."""
    s = attack.summary
    return (f"{attack.spec.name}: AUC {s.auc:.3f} [{s.auc_ci[0]:.3f}, {s.auc_ci[1]:.3f}], "
            f"TPR at 1% FPR {s.tpr_at[0.01]:.3f} [{s.tpr_ci[0.01][0]:.3f}, {s.tpr_ci[0.01][1]:.3f}]")
