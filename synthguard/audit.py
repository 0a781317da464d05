"""The privacy audit: attack the training procedure as the strongest published attackers would.

    result = audit(frame, recipe=Synthesizer(schema, defense="mixup", epochs=300), n_shadows=16)

K shadow models are trained with the release's exact recipe, each on a random half of the data
(every record in exactly half of them); settings a recipe chooses from the table's size (the
batch of `batch_size="auto"`) are those of a fit on the whole frame, the release model's. Every
shadow in turn is the victim and the others the attacker's references; each attack scores every
(victim, target record) pair, higher = more likely a member, and the pooled scores and true
memberships give one ROC per attack. A few real rows (`AuditConfig.population_rows`) go to no
shadow: RMIA compares targets with them.

A sequential audit (`AuditConfig.shadows_per_round`) trains the shadows in rounds and looks at the
attacks after each; the caller's `stop` rule may end it early. The looks share the 5% error of a
single look (`AuditConfig.looks`), so stopping early never raises an error rate.

A recipe that keeps checkpoints (`Synthesizer(checkpoints=...)`) is attacked at each of them with
the same shadows, targets and masks: `AuditResult.curve()` is the leakage over training, for the
training of one audit.

Attacks, by what the attacker holds (the threat model; each level includes the ones above it),
all from one registry (`synthguard.attacks.registry`, where a new attack registers):

* data       only synthetic rows: GAN-Leaks full black-box (nearest synthetic record) and its
             calibrated form, a DOMIAS-style density ratio, LOGAN black-box (a classifier of
             synthetic vs real rows), LiRA and RMIA on the nearest-record distance
* generator  the generator too: GAN-Leaks white-box (reconstruction by L-BFGS over z), LiRA and
             RMIA on its log loss
* critic     the critic too (the internal worst case): LiRA and RMIA on Ji et al.'s calibrated
             critic statistic (online and offline), LOGAN white-box (the raw critic score), and
             for mixup-trained recipes the paper's adaptive mixed-query LiRA over record pairs"""

from __future__ import annotations

import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from . import __version__
from .attacks.access import TableSized, mixes_records
from .attacks.mixed_query import pair_records
from .attacks.registry import THREAT_MODELS, Attack, ScoreInput, attacks, families
from .attacks.roc import RocSummary, summarize_matrix
from .attacks.shadows import MODEL_FILE, ShadowTask, at_checkpoint, balanced_masks, choose_targets, run_shadow
from .errors import SynthguardError
from .parallel import run_tasks
from .rundir import RunDirectory, fingerprint
from .schema import Schema
from .utility.features import fit_features

#: the two-sided confidence of an audit's intervals when it looks once
CONFIDENCE = 0.95
#: population rows reserved for RMIA when the audit chooses (at most this many, and a tenth of the rows)
POPULATION_ROWS = 250


@dataclass
class AuditConfig:
    #: shadow models: all of them (a fixed audit) or, with `shadows_per_round`, the most it trains
    n_shadows: int = 16
    n_targets: int = 500
    attacks: tuple[str, ...] = field(default_factory=families)
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
    #: a sequential audit: train the shadows in rounds of this many (even, at least 4) and look at
    #: the attacks after each round; None = one round of `n_shadows` (see `audit`'s `stop`)
    shadows_per_round: int | None = None
    #: real rows kept away from every shadow and scored as RMIA's population; None = the smaller
    #: of `POPULATION_ROWS` and a tenth of the rows when an RMIA attack is selected, else none
    population_rows: int | None = None
    #: the share of a single look's 5% error this audit may spend (1: all of it); a tuned release
    #: that audits several defence settings gives each its share, so that together they spend 5%
    error_share: float = 1.0

    def __post_init__(self) -> None:
        if self.run_dir is not None:
            self.run_dir = str(self.run_dir)  # a Path would not go into the audit's JSON
        self.attacks = tuple(self.attacks)
        problems = []
        if self.n_shadows < 4 or self.n_shadows % 2:
            problems.append(f"the number of shadow models must be even and at least 4, got {self.n_shadows}")
        if self.shadows_per_round is not None and (
                self.shadows_per_round < 4 or self.shadows_per_round % 2 or self.n_shadows % self.shadows_per_round):
            problems.append(f"shadows per round must be even, at least 4 and divide the {self.n_shadows} shadow "
                            f"models, got {self.shadows_per_round}")
        if self.n_targets < 10:
            problems.append(f"the audit needs at least 10 target records, got {self.n_targets}")
        if not 0 < self.error_share <= 1:
            problems.append(f"the error share must be in (0, 1], got {self.error_share!r}")
        if self.population_rows is not None and self.population_rows < 0:
            problems.append(f"population rows cannot be negative, got {self.population_rows}")
        if self.threat_model not in THREAT_MODELS:
            problems.append(f"the threat model must be one of {', '.join(THREAT_MODELS)}, got {self.threat_model!r}")
        unknown = sorted(set(self.attacks) - set(families()))
        if unknown:
            problems.append(f"unknown attack family {unknown[0]!r} (choose from {', '.join(families())})")
        if problems:
            raise SynthguardError("; ".join(problems))

    def scores_pairs(self, recipe: Any) -> bool:
        """Whether the audit scores mixed record pairs: for mixup recipes (or as `mixed_query` says),
        when lira_mixed is run. Both records of a pair go to the same shadows, so every pair is IN
        or OUT of every model, as a single record is."""
        wanted = self.mixed_query if self.mixed_query is not None else mixes_records(recipe)
        return bool(wanted) and "lira_mixed" in {a.name for a in self.selected()}

    def selected(self) -> list[Attack]:
        allowed = THREAT_MODELS[: THREAT_MODELS.index(self.threat_model) + 1]
        return [a for a in attacks().values() if a.family in self.attacks and a.threat in allowed]

    def n_population_rows(self, n_rows: int) -> int:
        """Population rows the audit reserves from `n_rows` (0 when no selected attack reads them; at
        most half of them)."""
        if not any(a.needs_population for a in self.selected()):
            return 0
        if self.population_rows is not None:
            return min(self.population_rows, n_rows // 2)
        return min(POPULATION_ROWS, n_rows // 10)

    def looks(self) -> list[tuple[int, float]]:
        """(shadows, two-sided confidence) at each look. The 5% error of a single look is spent
        over the looks in proportion to the shadows each adds (a Bonferroni split, linear in the
        information), so that however many looks an audit takes, an interval misses its side in at
        most 2.5% of audits overall (times `error_share`)."""
        step = self.shadows_per_round or self.n_shadows
        marks = list(range(step, self.n_shadows + 1, step))
        return [(k, 1.0 - (1.0 - CONFIDENCE) * self.error_share * step / self.n_shadows) for k in marks]


@dataclass
class AttackResult:
    spec: Attack
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
    #: population rows (0-based) no shadow trained on, RMIA's reference population
    population: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    population_statistics: dict[str, np.ndarray] = field(default_factory=dict)
    #: a sequential audit's looks: shadows, confidence, and whether it stopped there
    looks: list[dict[str, Any]] = field(default_factory=list)
    #: the training length of the models these attacks scored (None: the recipe does not say)
    epoch: int | None = None
    #: a recipe with checkpoints: the same audit at each earlier checkpoint (same shadows, targets
    #: and masks), by epoch; `curve()` lists them with this one
    checkpoints: dict[int, AuditResult] = field(default_factory=dict)

    def curve(self) -> list[tuple[int | None, AuditResult]]:
        """(epochs, the audit of the models at that length) for every checkpoint, in order, this
        audit (the last epoch) last."""
        return [*sorted(self.checkpoints.items()), (self.epoch, self)]

    @property
    def n_shadows(self) -> int:
        """Shadow models behind the attacks (a sequential audit may stop before the most)."""
        return int(self.membership.shape[0])

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
        return [{"row": int(row), "score_gap": float(gap[i]), "attack": result.spec.name} for row, i in zip(rows, order, strict=True)]

    def to_dict(self, include_scores: bool = True) -> dict[str, Any]:
        out = {
            "synthguard_version": __version__, "python": platform.python_version(),
            "config": {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.config.__dict__.items()},
            "recipe": self.recipe, "n_population": self.n_population, "seconds": round(self.seconds, 2),
            "targets_rows": self.input_rows(self.targets).tolist(),
            "attacks": {name: a.to_dict(include_scores) for name, a in self.attacks.items()},
            "worst_attack": self.worst.spec.name, "at_chance": self.at_chance,
            "exposed_records": self.exposed_records(), "n_shadows": self.n_shadows,
            "population_rows": self.input_rows(self.population).tolist(), "looks": self.looks,
            "epoch": self.epoch,
        }
        if self.checkpoints:  # the leakage curve: every checkpoint's attacks, without scores
            out["curve"] = [{"epoch": epoch, "worst_attack": result.worst.spec.name,
                             "attacks": {name: a.to_dict(include_scores=False) for name, a in result.attacks.items()}}
                            for epoch, result in self.curve()]
        if include_scores:
            out["membership"] = self.membership.astype(int).tolist()
        return out


def _derive(seed: int, *stream: int) -> int:
    return int(np.random.SeedSequence([seed, *stream]).generate_state(1)[0])


def one_row_each(entities: np.ndarray, seed: int) -> np.ndarray:
    """For entity codes 0..E-1 per row, one row of each entity drawn at random: (E,) row indices,
    entity e's row at position e."""
    order = np.random.default_rng(seed).permutation(len(entities))
    codes, first = np.unique(entities[order], return_index=True)
    if len(codes) != int(entities.max()) + 1:
        raise ValueError("entity codes must be 0..E-1, each used")
    return order[first]


def design_masks(config: AuditConfig, n_rows: int, targets: np.ndarray, population: np.ndarray,
                 pairs: tuple[np.ndarray, np.ndarray] | None) -> np.ndarray:
    """(shadows, rows) bool training masks. Each round of shadows is balanced on its own (every row
    in exactly half of the round's models), so any number of whole rounds is a balanced audit;
    both records of a mixed-query pair go to the same models; population rows go to none. With
    entities the "rows" here are persons (`audit` expands them to their rows)."""
    step = config.shadows_per_round or config.n_shadows
    masks = np.vstack([balanced_masks(step, n_rows, _derive(config.seed, 2, j))
                       for j in range(config.n_shadows // step)]) if config.shadows_per_round else \
        balanced_masks(config.n_shadows, n_rows, _derive(config.seed, 2))
    if pairs is not None:
        masks[:, targets[pairs[1]]] = masks[:, targets[pairs[0]]]
    masks[:, population] = False
    return masks


def audit(frame: pd.DataFrame, recipe: Any, schema: Schema | None = None, config: AuditConfig | None = None,
          on_shadow: Callable[[int, int], None] | None = None,
          stop: Callable[[AuditResult], bool] | None = None, **options: Any) -> AuditResult:
    """Audit a training recipe on a raw (or parsed) frame.

    Args:
        frame: the private table (raw cells are parsed by the schema).
        recipe: an unfitted `Synthesizer` (or any object with the same clone/fit_parsed/sample/
            critic_statistics methods) whose settings the release will use. Under the `data`
            threat model clone/fit_parsed/sample suffice (a generator without a critic).
        schema: defaults to the recipe's schema.
        config: audit settings; keyword `options` override its fields (n_shadows=8, ...) in a copy,
            so the caller's config is never changed.
        on_shadow: called with (shadows done, most shadows) for progress.
        stop: a sequential audit (`AuditConfig.shadows_per_round`) calls it with the result after
            each round but the last, its intervals at that look's confidence (`AuditConfig.looks`);
            True ends the audit there. The audit never decides: the caller's rule does (the release
            gate stops once its verdict is decided).
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
    # the unit of membership: a row, or with the schema's `entity` a person and all of its rows
    entities = resolved.entities(frame)
    unit = np.arange(n) if entities is None else entities
    n_units = n if entities is None else int(entities.max()) + 1
    if n_units < 20:
        raise SynthguardError(f"the audit needs at least 20 persons (entity {resolved.entity!r}), got {n_units}")
    sized = recipe.sized_for(n) if isinstance(recipe, TableSized) else None
    recipe = recipe if sized is None else sized  # settings chosen from the table's size: the release model's
    features = fit_features(parsed, resolved)
    population = features.transform(parsed)
    # RMIA's population is kept from every shadow; every other unit may be audited (the shadows'
    # reference rows exclude the scored rows' own fold: `synthguard.attacks.shadows`). A person is
    # audited through one of its rows, so that records are persons for the intervals too
    reserved = config.n_population_rows(n_units)
    n_targets = min(config.n_targets, n_units - reserved)
    representative = np.arange(n) if entities is None else one_row_each(entities, _derive(config.seed, 8))
    target_units = choose_targets(population[representative], n_targets, _derive(config.seed, 1))
    targets = representative[target_units]
    rest = np.setdiff1d(np.arange(n_units), target_units)
    population_units = np.sort(np.random.default_rng(_derive(config.seed, 6)).choice(
        rest, min(reserved, len(rest)), replace=False)) if reserved else np.zeros(0, dtype=np.int64)
    population_rows = population_units if entities is None else np.flatnonzero(np.isin(unit, population_units))
    pairs = pair_records(None, len(targets), _derive(config.seed, 5)) if config.scores_pairs(recipe) else None
    # a person's rows are in or out of a shadow's training together
    masks = design_masks(config, n_units, target_units, population_units, pairs)[:, unit]
    scored = np.concatenate([targets, population_rows])  # population rows are measured like targets
    keep = config.run_dir is not None
    tasks = [ShadowTask(k, _derive(config.seed, 3, k), recipe, parsed, resolved, features, population, masks[k],
                        scored, config.critic_fakes, config.synthetic_rows, pairs, config.threat_model, keep,
                        None if entities is None else unit)
             for k in range(config.n_shadows)]
    recipe_params = recipe.get_params() if hasattr(recipe, "get_params") else {"recipe": type(recipe).__name__}
    # the training lengths measured: a recipe's checkpoints and its last epoch (None: it does not say)
    epochs: tuple[Any, ...] = tuple(getattr(recipe, "checkpoint_epochs", ())) or (
        getattr(getattr(recipe, "config", None), "epochs", None),)
    results: list[dict[str, np.ndarray]] = []
    reused = 0
    looks: list[dict[str, Any]] = []
    schedule = config.looks()
    for j, (k, confidence) in enumerate(schedule):
        done = len(results)
        found, again = _run_shadows(tasks[done:k], config, recipe, resolved, parsed, pairs, tasks,
                                    _counting_from(on_shadow, done, len(tasks)))
        results += found
        reused += again
        stats, pop_stats = _split(results, len(targets), config.run_dir)
        membership = masks[:k, targets]
        at_epoch = {}
        for epoch in epochs:
            stats_e, pop_e = _at_epoch(stats, epoch, epochs), _at_epoch(pop_stats, epoch, epochs)
            params = recipe_params if epoch == epochs[-1] else {**recipe_params, "epochs": epoch, "checkpoints": None}
            scored_attacks = _score(stats_e, pop_e, membership, config, pairs, confidence)
            at_epoch[epoch] = AuditResult(config, params, targets, membership, scored_attacks,
                                          time.perf_counter() - started, n, stats_e, reused, pairs,
                                          population=population_rows, population_statistics=pop_e, looks=looks,
                                          epoch=epoch)
        result = at_epoch.pop(epochs[-1])
        result.checkpoints = at_epoch
        last = j == len(schedule) - 1
        stopped = last or (stop is not None and bool(stop(result)))
        looks.append({"shadows": k, "confidence": round(confidence, 6), "stopped": stopped,
                      "seconds": round(time.perf_counter() - started, 1)})
        if stopped:
            return result
    raise AssertionError("unreachable: the last look always stops")


def _at_epoch(stats: dict[str, np.ndarray], epoch: Any, epochs: tuple[Any, ...]) -> dict[str, np.ndarray]:
    """The statistics measured at one checkpoint, under their plain names (the last epoch's are
    stored under the plain names already)."""
    if epoch == epochs[-1]:
        return {name: v for name, v in stats.items() if "@" not in name}
    suffix = at_checkpoint("", epoch)
    return {name[: -len(suffix)]: v for name, v in stats.items() if name.endswith(suffix)}


def _split(results: list[dict[str, np.ndarray]], n_targets: int, run_dir: str | None
           ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Per statistic, (models, targets) and (models, population rows) arrays from the shadows'
    results (each scored the targets, then the population rows; `mixed_query` scores pairs)."""
    names = set(results[0])
    if any(set(r) != names for r in results):
        raise SynthguardError(f"{run_dir}: its shadows hold different statistics; delete it to start over")
    stacked = {name: np.stack([r[name] for r in results]) for name in results[0]}
    pairs = {name for name in stacked if name.split("@")[0] == "mixed_query"}  # scored per pair, not per row
    stats = {name: (v if name in pairs else v[:, :n_targets]) for name, v in stacked.items()}
    population = {name: v[:, n_targets:] for name, v in stacked.items() if name not in pairs and v.shape[1] > n_targets}
    return stats, population


def _counting_from(on_shadow: Callable[[int, int], None] | None, done: int, total: int
                   ) -> Callable[[int, int], None] | None:
    """`on_shadow` for a round that starts with `done` shadows already run (None stays None)."""
    if on_shadow is None:
        return None
    return lambda count, _most: on_shadow(done + count, total)


def _run_shadows(tasks: list[ShadowTask], config: AuditConfig, recipe: Any, resolved: Schema, parsed: pd.DataFrame,
                 pairs: tuple[np.ndarray, np.ndarray] | None, every_task: list[ShadowTask],
                 on_shadow: Callable[[int, int], None] | None) -> tuple[list[dict[str, np.ndarray]], int]:
    """The statistics of `tasks` (a round of the audit's `every_task`), in index order, and how many
    came from the run directory."""
    if config.run_dir is None:
        return run_tasks(run_shadow, tasks, backend=config.backend, workers=config.workers,
                         scheduler=config.scheduler, on_done=on_shadow), 0
    task = every_task[0]
    run = RunDirectory(config.run_dir, fingerprint(
        recipe=recipe, schema_yaml=resolved.to_yaml(), population=parsed, targets=task.targets,
        masks=np.stack([t.member for t in every_task]), pairs=pairs, shadow_seeds=[t.seed for t in every_task],
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


def _score(stats: dict[str, np.ndarray], population: dict[str, np.ndarray], membership: np.ndarray,
           config: AuditConfig, pairs: tuple[np.ndarray, np.ndarray] | None,
           confidence: float = CONFIDENCE) -> dict[str, AttackResult]:
    """Every selected attack the measurements allow, each summarised with intervals resampled by
    record and by victim model (`summarize_matrix`)."""
    seed = _derive(config.seed, 4)
    pair_membership = None if pairs is None else membership[:, pairs[0]]
    data = ScoreInput(stats, membership, seed, pair_membership, population)
    results = {}
    for spec in config.selected():
        if not spec.applies(data):
            continue  # e.g. the mixed query runs only against mixup-trained recipes
        out = spec.score(data)
        valid = np.isfinite(out.values) if out.valid is None else out.valid & np.isfinite(out.values)
        if out.members[valid].all() or not out.members[valid].any():
            continue  # too few models for this attack
        # scores are clustered by record (columns) and by victim model (rows): resample both
        summary = summarize_matrix(out.values, out.members, valid=valid, n_bootstrap=config.n_bootstrap, seed=seed,
                                   confidence=confidence)
        results[spec.name] = AttackResult(spec, out.values, summary, out.members, valid)
    return results


def _level(summary: RocSummary) -> str:
    """Nothing at the usual 95%; otherwise the interval's level, e.g. " (98.75%)"."""
    return "" if abs(summary.confidence - CONFIDENCE) < 1e-9 else f" ({100 * summary.confidence:.4g}%)"


def attack_table_rows(result: AuditResult) -> list[Sequence[str]]:
    """Rows for a printed table that fits 80 columns: attack, AUC [CI], TPR at 1% FPR [CI], and the
    upper bound of TPR at 0.1% FPR (95% intervals, or the last look's level in a sequential audit)."""
    rows: list[Sequence[str]] = []
    for name, attack in result.attacks.items():
        s = attack.summary
        rows.append((name, f"{s.auc:.3f} [{s.auc_ci[0]:.3f},{s.auc_ci[1]:.3f}]",
                     f"{s.tpr_at[0.01]:.3f} [{s.tpr_ci[0.01][0]:.3f},{s.tpr_ci[0.01][1]:.3f}]",
                     f"{s.tpr_at[0.001]:.4f} <={s.tpr_ci[0.001][1]:.4f}"))
    return rows


def headline(attack: AttackResult) -> str:
    """One line: an attack's AUC and TPR at 1% FPR with their intervals."""
    s = attack.summary
    return (f"{attack.spec.name}: AUC {s.auc:.3f} [{s.auc_ci[0]:.3f}, {s.auc_ci[1]:.3f}]{_level(s)}, "
            f"TPR at 1% FPR {s.tpr_at[0.01]:.3f} [{s.tpr_ci[0.01][0]:.3f}, {s.tpr_ci[0.01][1]:.3f}]")


def __getattr__(name: str) -> Any:
    # `ATTACKS` and `FAMILIES` read the registry when asked, so attacks registered later appear too
    if name == "ATTACKS":
        return attacks()
    if name == "FAMILIES":
        return families()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
