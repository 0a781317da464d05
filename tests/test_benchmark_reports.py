"""How benchmark reports made apart are joined: `short_fits.py --merge` and `power_curve.py --copy-from`.

The benchmark's claims about synthguard before and after a change rest on these rules, so they are
tested on small hand-made reports with known differences."""

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from short_fits import merge_command, merged, sample_seed, scored_draws, seed_runs  # noqa: E402

MACHINE = {"cpu": "test", "cpu_capability": "none"}


def _report(path: Path, config: str, quality: list[float], code: dict | None = None) -> str:
    runs = [{"seed": seed, "length": 10, "config": config, "cpu_seconds": 1.0, "wall_seconds": 1.0,
             "load": [0.0, 0.0], "quality": q, "auc_y": 0.5 + q / 10} for seed, q in enumerate(quality)]
    path.write_text(json.dumps({"table": "t", "targets": ["y"], "lengths": [10], "seeds": list(range(len(quality))),
                                "threads": 1, "machine": MACHINE, "configs": [config], "runs": runs,
                                **({"code": code} if code else {})}))
    return str(path)


def test_two_versions_of_one_setting_pair_by_seed_once_one_is_renamed(tmp_path, capsys):
    old = _report(tmp_path / "old.json", "default", [0.80, 0.82, 0.84], {"commit": "aaa", "uncommitted_changes": False})
    new = _report(tmp_path / "new.json", "default", [0.81, 0.84, 0.87], {"commit": "bbb", "uncommitted_changes": True})
    # the same seed, length and setting with other figures: another fit, refused as it stands
    with pytest.raises(SystemExit, match="differs from an earlier file's"):
        merged([old, new])
    report = merged([old, f"{new}#default@after"])
    assert report["configs"] == ["default", "after"]
    row = next(r for r in report["summary"] if r["config"] == "after")
    # per seed +0.01, +0.02, +0.03: the paired mean difference is +0.02
    assert row["quality_difference"]["mean"] == pytest.approx(0.02)
    assert row["quality_difference"]["values"] == pytest.approx([0.01, 0.02, 0.03])
    renamed = [r for r in report["runs"] if r["config"] == "after"]
    assert len(renamed) == 3 and all(r["renamed_from"] == "default" for r in renamed)
    assert report["code"] == {old: {"commit": "aaa", "uncommitted_changes": False},
                              new: {"commit": "bbb", "uncommitted_changes": True}}
    # a merged report merged again keeps its parts' code, not a code of its own
    (tmp_path / "both.json").write_text(json.dumps(report))
    again = merged([str(tmp_path / "both.json")])
    assert again["code"] == report["code"]
    # and the commands that made it: its parts' runs, then the merge that wrote it; not a fitting
    # command made up from its settings (`--config "after"` names no setting a run was given)
    assert again["commands"] == [*report["commands"], merge_command(report["merged"], str(tmp_path / "both.json"))]
    assert not any('--config "after"' in c for c in again["commands"])
    capsys.readouterr()


def test_a_peer_with_its_own_length_is_fitted_once_per_seed_and_stands_at_every_length():
    configs = {"default": {}, "peer=tvae;epochs=300": {"peer": "tvae", "epochs": 300},
               "peer=ctgan": {"peer": "ctgan"}}
    fitted: list[tuple[str, int]] = []

    def fit(name: str, length: int) -> dict:
        fitted.append((name, length))
        return {"quality": len(fitted) / 10}

    runs = list(seed_runs(3, [60, 300], list(configs), configs, fit))
    # the peer at its own 300 epochs once; synthguard and the peer that follows the run's length at each
    assert fitted == [("default", 60), ("peer=tvae;epochs=300", 60), ("peer=ctgan", 60),
                      ("default", 300), ("peer=ctgan", 300)]
    assert [(r["length"], r["config"]) for r in runs] == [(length, name) for length in (60, 300) for name in configs]
    first, again = (r for r in runs if r["config"] == "peer=tvae;epochs=300")
    assert again["quality"] == first["quality"] == 0.2 and again["reused_from"] == 60 and "reused_from" not in first
    assert all(r["seed"] == 3 for r in runs)


def _at_length(path: str, length: int) -> str:
    report = json.loads(Path(path).read_text())
    report["lengths"] = [length]
    for run in report["runs"]:
        run["length"] = length
    Path(path).write_text(json.dumps(report))
    return path


def test_a_merged_peer_of_its_own_length_pairs_with_a_short_fit_made_later(tmp_path, capsys):
    short = _report(tmp_path / "short.json", "default", [0.80, 0.90])  # 10 epochs
    peer = _at_length(_report(tmp_path / "peer.json", "peer=tvae;epochs=300", [0.70, 0.75]), 300)
    report = merged([short, peer])
    row = next(r for r in report["summary"] if r["length"] == 10 and r["config"] == "peer=tvae;epochs=300")
    assert row["quality_difference"]["values"] == pytest.approx([-0.10, -0.15])
    carried = [r for r in report["runs"] if r["config"] != "default" and r["length"] == 10]
    assert len(carried) == 2 and all(r["reused_from"] == 300 for r in carried)
    # a peer that trains for the run's length is another fit at another length: never carried
    plain = _at_length(_report(tmp_path / "plain.json", "peer=tvae", [0.70, 0.75]), 300)
    with pytest.raises(SystemExit, match="has seed 0 at 300 epochs, which `default` lacks"):
        merged([short, plain])
    # nor is a seed that synthguard's runs do not have
    more = _at_length(_report(tmp_path / "more.json", "peer=tvae;epochs=300", [0.70, 0.75, 0.72]), 300)
    with pytest.raises(SystemExit, match="has seed 2, which `default` lacks at every length"):
        merged([short, more])
    capsys.readouterr()


def test_a_rename_without_a_name_or_of_an_unknown_setting_is_refused(tmp_path):
    old = _report(tmp_path / "old.json", "default", [0.8, 0.9])
    with pytest.raises(SystemExit, match="needs a name after @"):
        merged([old, f"{old}#default@"])
    with pytest.raises(SystemExit, match="has no setting 'n_critic=3'"):
        merged([old, f"{old}#n_critic=3@x"])


def test_an_earlier_audit_is_copied_whole_and_never_over_another(tmp_path, capsys):
    import numpy as np
    from power_curve import copy_audits, copy_request, scores_dir

    source = tmp_path / "before.json"
    source.write_text(json.dumps({"medexp": {"population": 10, "attacks": {"lira": {}},
                                             "paired_against": {"recipe": "x"}}}))
    scores_dir(source).mkdir()
    scores = {"lira.scores": np.arange(6.0).reshape(2, 3), "lira.members": np.array([[1, 0, 1], [0, 1, 0]])}
    np.savez_compressed(scores_dir(source) / "medexp.npz", **scores)
    out = tmp_path / "after.json"
    found: dict = {"medexp": {"population": 10, "attacks": {}}}
    request = copy_request(f"{source}#medexp=medexp-before")
    copy_audits(found, [request], out)
    copied = found["medexp-before"]
    assert copied["population"] == 10 and "paired_against" not in copied  # its pairing was the other report's
    assert copied["copied_from"]["recipe"] == "medexp" and copied["copied_from"]["report"].endswith("before.json")
    assert json.loads(out.read_text()) == found
    with np.load(scores_dir(out) / "medexp-before.npz") as f:
        assert all(np.array_equal(f[k], v) for k, v in scores.items())
    copy_audits(found, [request], out)  # the same copy again: allowed, the same entry
    assert found["medexp-before"] == copied
    with pytest.raises(SystemExit, match="already holds an audit 'medexp'"):
        copy_audits(found, [copy_request(f"{source}#medexp=medexp")], out)
    with pytest.raises(SystemExit, match="has no audit 'ofp'"):
        copy_request(f"{source}#ofp=x")
    with pytest.raises(SystemExit, match="expected REPORT#LABEL=NEW"):
        copy_request(f"{source}#medexp")
    capsys.readouterr()


def test_several_samples_of_a_fit_are_averaged_and_the_first_is_the_one_scored_before():
    """`--samples K`: the first release keeps the sample seed every earlier report scored (seed +
    1000), so K = 1 is those reports' figure; the others get seeds of their own, and the run's
    figures are the means, each sample's kept beside them."""
    asked: list[int] = []

    def sample(at: int) -> int:
        asked.append(at)
        return at

    def scorer(rows: int) -> dict:  # figures that tell the samples apart, and a key a run does not keep
        return {"quality": rows % 7 / 10, "auc_y": rows % 5 / 10, "score_seconds": 1.0}

    one = scored_draws(sample, scorer, 3, 1)
    assert asked == [1003] and one == {"quality": 1003 % 7 / 10, "auc_y": 1003 % 5 / 10}
    asked.clear()
    three = scored_draws(sample, scorer, 3, 3)
    assert asked[0] == 1003 and len(set(asked)) == 3 and asked == [sample_seed(3, j) for j in range(3)]
    assert three["samples"] == 3 and three["draws"][0] == one
    for key in ("quality", "auc_y"):
        assert three[key] == pytest.approx(sum(d[key] for d in three["draws"]) / 3)
