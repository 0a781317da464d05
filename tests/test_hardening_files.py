"""Issue 16, files and processes: no input is ever overwritten, no existing file without --overwrite,
no debris of killed runs, no orphaned workers, no YAML alias bombs, no forged model parts, and
one-line refusals of bad settings before any work."""

from __future__ import annotations

import io
import json
import os
import signal
import stat
import subprocess
import sys
import textwrap
import time
import warnings
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from synthguard.cli import app, run_estimate
from synthguard.errors import InputError, ModelFileError, OutputExistsError, SynthguardWarning
from synthguard.io import (
    _UMASK,
    check_new_dir,
    check_output_file,
    read_yaml,
    remove_stale_debris,
    safe_load_yaml_text,
    staged_dir,
    write_text,
)
from tests.conftest import OFP_SCHEMA, ROOT

runner = CliRunner()
TINY = ["--epochs", "1", "--batch-size", "64"]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def one_line_error(result, *fragments, code=1):
    assert result.exit_code == code, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error:"), lines[0]
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    assert "Traceback" not in result.output


def usage_error(result, fragment):
    assert result.exit_code == 2, result.output
    assert fragment in result.output
    assert "Traceback" not in result.output


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def model(tmp_path_factory, ofp_full):
    """A one-epoch model of 300 OFP rows, and the CSV it was fitted on."""
    folder = tmp_path_factory.mktemp("model")
    data = folder / "ofp.csv"
    ofp_full.iloc[:300].to_csv(data, index=False)
    path = folder / "m.sgm"
    result = invoke("fit", data, "--schema", OFP_SCHEMA, "-o", path, "--quiet", "--defense", "none", *TINY)
    assert result.exit_code == 0, result.output
    return path


# ---- 1. data loss: an input is never overwritten, an existing file only with --overwrite ------------
def test_fit_refuses_to_write_over_its_data_even_with_overwrite(tmp_path, ofp_csv):
    before = ofp_csv.read_bytes()
    one_line_error(invoke("fit", ofp_csv, "--schema", OFP_SCHEMA, "-o", ofp_csv, *TINY), "input", "never overwritten")
    one_line_error(invoke("fit", ofp_csv, "--schema", OFP_SCHEMA, "-o", ofp_csv, "--overwrite", *TINY), "input")
    assert ofp_csv.read_bytes() == before


def test_fit_refuses_to_write_over_its_schema(tmp_path, ofp_csv):
    schema = tmp_path / "s.yaml"
    schema.write_text(OFP_SCHEMA.read_text())
    before = schema.read_bytes()
    one_line_error(invoke("fit", ofp_csv, "-s", schema, "-o", schema, "--overwrite", *TINY), "input")
    assert schema.read_bytes() == before


@pytest.mark.parametrize("link", ["symlink", "hardlink"])
def test_an_input_under_another_name_is_still_an_input(tmp_path, ofp_csv, link):
    alias = tmp_path / "alias.sgm"
    (os.symlink if link == "symlink" else os.link)(ofp_csv, alias)
    before = ofp_csv.read_bytes()
    result = invoke("fit", ofp_csv, "--schema", OFP_SCHEMA, "-o", alias, "--overwrite", *TINY)
    one_line_error(result, "the input", str(ofp_csv))
    assert ofp_csv.read_bytes() == before


def test_fit_refuses_an_existing_output_unless_overwrite(tmp_path, ofp_csv):
    out = tmp_path / "m.sgm"
    out.write_bytes(b"precious")
    one_line_error(invoke("fit", ofp_csv, "--schema", OFP_SCHEMA, "-o", out, *TINY), "exists", "--overwrite")
    assert out.read_bytes() == b"precious"
    result = invoke("fit", ofp_csv, "--schema", OFP_SCHEMA, "-o", out, "--overwrite", "--quiet", *TINY)
    assert result.exit_code == 0, result.output
    assert zipfile.is_zipfile(out)


def test_sample_refuses_an_existing_file_and_its_own_model(tmp_path, model):
    victim = tmp_path / "data.csv"
    victim.write_text("a,b\n1,2\n")
    one_line_error(invoke("sample", model, "-n", 5, "-o", victim), "exists", "--overwrite")
    assert victim.read_text() == "a,b\n1,2\n"
    before = model.read_bytes()
    copy = tmp_path / "m.sgm.csv"
    os.link(model, copy)  # the model under a table's name: still the input
    one_line_error(invoke("sample", model, "-n", 5, "-o", copy, "--overwrite"), "input")
    assert model.read_bytes() == before
    result = invoke("sample", model, "-n", 5, "-o", victim, "--overwrite", "--quiet")
    assert result.exit_code == 0, result.output
    assert len(victim.read_text().splitlines()) == 6


def test_schema_infer_refuses_to_write_over_its_data(tmp_path, ofp_csv):
    before = ofp_csv.read_bytes()
    one_line_error(invoke("schema", "infer", ofp_csv, "-o", ofp_csv, "--overwrite"), "input")
    assert ofp_csv.read_bytes() == before
    out = tmp_path / "s.yaml"
    out.write_text("# reviewed\n")
    one_line_error(invoke("schema", "infer", ofp_csv, "-o", out), "exists", "--overwrite")
    assert out.read_text() == "# reviewed\n"
    assert invoke("schema", "infer", ofp_csv, "-o", out, "--overwrite").exit_code == 0
    assert "columns:" in out.read_text()


def test_evaluate_refuses_outputs_that_are_inputs_or_exist(tmp_path, ofp_csv):
    synthetic = tmp_path / "syn.csv"
    synthetic.write_bytes(ofp_csv.read_bytes())
    before = snapshot(tmp_path)
    base = ["evaluate", ofp_csv, synthetic, "--schema", OFP_SCHEMA]
    one_line_error(invoke(*base, "-o", synthetic, "--overwrite"), "input")
    one_line_error(invoke(*base, "-o", OFP_SCHEMA, "--overwrite"), "input")
    existing = tmp_path / "u.json"
    existing.write_text("{}")
    one_line_error(invoke(*base, "-o", existing), "exists", "--overwrite")
    plots_file = tmp_path / "plots"
    plots_file.write_text("not a folder")
    one_line_error(invoke(*base, "--plots", plots_file), "not a folder")
    plots = tmp_path / "pl"
    plots.mkdir()
    (plots / "dwp.png").write_bytes(b"old plot")
    one_line_error(invoke(*base, "--plots", plots), "dwp.png", "exists", "--overwrite")
    assert snapshot(tmp_path) == {**before, "u.json": b"{}", "plots": b"not a folder", "pl/dwp.png": b"old plot"}


def test_evaluate_names_an_unknown_target(tmp_path, ofp_csv):
    result = invoke("evaluate", ofp_csv, ofp_csv, "--schema", OFP_SCHEMA, "--target", "nope", "-o", tmp_path / "u.json")
    one_line_error(result, "'nope'", "not a modelled column", "'ofp'")
    assert not (tmp_path / "u.json").exists()


def test_audit_refuses_outputs_that_are_inputs_or_exist(tmp_path, ofp_csv):
    before = ofp_csv.read_bytes()
    base = ["audit", ofp_csv, "--schema", OFP_SCHEMA, "--shadows", 4, "--targets", 10, *TINY]
    one_line_error(invoke(*base, "-o", ofp_csv, "--overwrite"), "input")
    existing = tmp_path / "a.json"
    existing.write_text("{}")
    one_line_error(invoke(*base, "-o", existing), "exists", "--overwrite")
    plots = tmp_path / "pl"
    plots.mkdir()
    (plots / "roc.png").write_bytes(b"old")
    one_line_error(invoke(*base, "--plots", plots), "roc.png", "exists")
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    one_line_error(invoke(*base, "--run-dir", run_dir, "-o", run_dir / "a.json"), "inside the input folder")
    assert ofp_csv.read_bytes() == before and existing.read_text() == "{}" and (plots / "roc.png").read_bytes() == b"old"


def test_release_and_experiment_refuse_an_input_as_their_folder(tmp_path, ofp_csv):
    before = ofp_csv.read_bytes()
    one_line_error(invoke("release", ofp_csv, "--schema", OFP_SCHEMA, "-o", ofp_csv, *TINY), "input")
    one_line_error(invoke("experiment", ofp_csv, "--schema", OFP_SCHEMA, "-o", ofp_csv, *TINY), "input")
    run_dir = tmp_path / "run"
    # the run folder fills during the audit: as the release folder, the release would fail at the end
    one_line_error(invoke("release", ofp_csv, "--schema", OFP_SCHEMA, "-o", run_dir, "--run-dir", run_dir, *TINY),
                   "input")
    one_line_error(invoke("release", ofp_csv, "--schema", OFP_SCHEMA, "-o", tmp_path / "rel",
                          "--run-dir", tmp_path / "rel" / "run", *TINY), "holds the input")
    assert ofp_csv.read_bytes() == before
    assert not run_dir.exists() and not (tmp_path / "rel").exists()


def test_library_helper_words_name_no_flag(tmp_path):
    existing = tmp_path / "x.csv"
    existing.write_text("a\n1\n")
    with pytest.raises(OutputExistsError) as caught:
        check_output_file(existing, [])
    assert "--" not in str(caught.value)
    with pytest.raises(InputError) as caught:
        check_output_file(existing, [existing], overwrite=True)
    assert "--" not in str(caught.value)
    check_output_file(existing, [tmp_path / "other.csv"], overwrite=True)  # allowed


# ---- 2. debris of killed runs, and workers that die with their parent -----------------------------
def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_stale_debris_of_dead_processes_is_removed_and_nothing_else(tmp_path):
    dead, alive = _dead_pid(), os.getpid()
    stale_tmp = tmp_path / f".m.sgm.{dead}-0123abcd.tmp"
    stale_tmp.write_bytes(b"partial model")
    stale_dir = tmp_path / f".rel.staging-{dead}-0123abcd"
    stale_dir.mkdir()
    (stale_dir / "synthetic.csv").write_text("real-looking rows\n")
    live = tmp_path / f".m.sgm.{alive}-0123abcd.tmp"  # a run still writing
    live.write_bytes(b"in progress")
    others = [tmp_path / ".m.sgm.notes", tmp_path / f".other.sgm.{dead}-0123abcd.tmp", tmp_path / "m.sgm.bak"]
    for path in others:
        path.write_text("keep")
    assert remove_stale_debris(tmp_path / "m.sgm") == [stale_tmp]
    check_new_dir(tmp_path / "rel")
    assert not stale_tmp.exists() and not stale_dir.exists()
    assert live.exists() and all(p.exists() for p in others)


def test_the_next_cli_run_removes_debris_for_its_output(tmp_path, ofp_csv):
    debris = tmp_path / f".s.yaml.{_dead_pid()}-0123abcd.tmp"
    debris.write_text("half a schema")
    result = invoke("schema", "infer", ofp_csv, "-o", tmp_path / "s.yaml")
    assert result.exit_code == 0, result.output
    assert not debris.exists() and "removed" in result.stderr


KILL_DURING_WRITE = """
import os, signal, sys
sys.path.insert(0, {root!r})
import synthguard.io as sio

def die(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)

{body}
"""


def _run_killed(body: str, timeout: float = 240) -> None:
    script = KILL_DURING_WRITE.format(root=str(ROOT), body=textwrap.dedent(body))
    done = subprocess.run([sys.executable, "-c", script], env=ENV, capture_output=True, timeout=timeout)
    assert done.returncode == -signal.SIGKILL, done.stderr.decode()[-2000:]


def test_a_fit_killed_during_its_write_leaves_private_debris_the_next_fit_removes(tmp_path, ofp_csv):
    out = tmp_path / "m.sgm"
    _run_killed(f"""
        os.replace = die  # killed between writing the model and renaming it into place
        from synthguard.cli import app
        app(["fit", {str(ofp_csv)!r}, "--schema", {str(OFP_SCHEMA)!r}, "-o", {str(out)!r}, "--quiet",
             "--epochs", "1", "--batch-size", "64"])
    """)
    debris = [p for p in tmp_path.iterdir() if p.name.startswith(".m.sgm.")]
    assert len(debris) == 1 and not out.exists()
    assert stat.S_IMODE(debris[0].stat().st_mode) == 0o600  # nobody else can read a partial model
    result = invoke("fit", ofp_csv, "--schema", OFP_SCHEMA, "-o", out, *TINY)
    assert result.exit_code == 0, result.output
    assert "removed" in result.stderr
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_a_release_killed_while_staging_leaves_a_private_folder_the_next_run_removes(tmp_path):
    out = tmp_path / "rel"
    _run_killed(f"""
        with sio.staged_dir({str(out)!r}) as staging:
            sio.write_text(staging / "synthetic.csv", "240 real-looking rows\\n")
            die()
    """)
    debris = [p for p in tmp_path.iterdir() if p.name.startswith(".rel.staging-")]
    assert len(debris) == 1 and (debris[0] / "synthetic.csv").exists()
    assert stat.S_IMODE(debris[0].stat().st_mode) == 0o700
    with staged_dir(out) as staging:
        write_text(staging / "release.json", "{}")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rel"]
    assert stat.S_IMODE(out.stat().st_mode) == 0o777 & ~_UMASK  # the finished folder: the usual mode


def _children(pid: int) -> dict[int, str]:
    """Live (not zombie) processes whose parent is `pid`, with their command lines."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid and fields[0] != "Z":
                found[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, IndexError, ValueError):
            continue
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc")
def test_audit_workers_die_with_a_killed_parent(tmp_path, ofp_csv):
    shm_before = set(os.listdir("/dev/shm")) if Path("/dev/shm").is_dir() else set()
    parent = subprocess.Popen(
        [sys.executable, "-m", "synthguard.cli", "audit", str(ofp_csv), "--schema", str(OFP_SCHEMA),
         "--shadows", "4", "--targets", "10", "--workers", "2", "--epochs", "5000", "--batch-size", "64", "--quiet"],
        env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        workers: dict[int, str] = {}
        while time.monotonic() < deadline and parent.poll() is None:
            workers = {p: c for p, c in _children(parent.pid).items() if "resource_tracker" not in c}
            if len(workers) >= 2:
                break
            time.sleep(0.2)
        assert len(workers) >= 2, f"no workers appeared (parent exit {parent.poll()})"
        time.sleep(3)  # the workers import and start their shadows
        tracker = [p for p, c in _children(parent.pid).items() if "resource_tracker" in c]
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(_alive(p) for p in [*workers, *tracker]):
            time.sleep(0.2)
        assert not [p for p in workers if _alive(p)], "workers outlived their parent"
        assert not [p for p in tracker if _alive(p)], "the resource tracker outlived the workers"
        left = {n for n in set(os.listdir("/dev/shm")) - shm_before if str(parent.pid) in n} \
            if Path("/dev/shm").is_dir() else set()
        assert not left, left
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()


def _warn_in_worker(task: int) -> int:
    warnings.warn("a shadow warning", SynthguardWarning, stacklevel=1)
    return task * 2


def test_worker_warnings_come_back_to_the_parent_once_each(capfd):
    from synthguard.parallel import run_tasks

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        results = run_tasks(_warn_in_worker, list(range(4)), workers=2)
    assert results == [0, 2, 4, 6]
    ours = [w for w in caught if w.category is SynthguardWarning]
    assert [str(w.message) for w in ours] == ["a shadow warning"]
    assert "a shadow warning" not in capfd.readouterr().err  # not printed raw by a worker


# ---- 3. YAML alias bombs ----------------------------------------------------------------------------
BOMB = "\n".join(["a: &a [x, x, x, x, x, x, x, x, x]"]
                 + [f"{k}: &{k} [{', '.join(['*' + p] * 9)}]" for p, k in zip("abcde", "bcdef", strict=True)]) + "\n"


def test_yaml_aliases_are_refused_everywhere_yaml_is_read(tmp_path, ofp_csv):
    with pytest.raises(InputError, match="aliases"):
        safe_load_yaml_text(BOMB, "bomb")
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(BOMB)
    with pytest.raises(InputError, match="bomb.yaml: YAML aliases"):
        read_yaml(bomb, "schema")
    one_line_error(invoke("fit", ofp_csv, "--schema", bomb, "-o", tmp_path / "m.sgm", *TINY), "aliases")
    one_line_error(invoke("schema", "check", ofp_csv, "--schema", bomb), "aliases")
    one_line_error(invoke("release", ofp_csv, "--schema", OFP_SCHEMA, "--policy", bomb, "-o", tmp_path / "r", *TINY),
                   "aliases")
    with pytest.raises(InputError, match="nested too deeply"):
        safe_load_yaml_text("[" * 50_000, "deep")
    assert not (tmp_path / "m.sgm").exists() and not (tmp_path / "r").exists()


# ---- 4. forged model parts with recomputed hashes ----------------------------------------------------
def _forge(model: Path, out: Path, part: str, data: bytes) -> Path:
    with zipfile.ZipFile(model) as zf:
        parts = {n: zf.read(n) for n in zf.namelist()}
    manifest = json.loads(parts["manifest.json"])
    parts[part] = data
    import hashlib

    manifest["files"][part] = hashlib.sha256(data).hexdigest()
    parts["manifest.json"] = json.dumps(manifest).encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, content in parts.items():
            zf.writestr(name, content)
    out.write_bytes(buffer.getvalue())
    return out


def _safetensors(header: dict, body: bytes) -> bytes:
    raw = json.dumps(header).encode()
    return len(raw).to_bytes(8, "little") + raw + body


@pytest.mark.parametrize(("part", "data", "fragment"), [
    ("generator.safetensors", b"\x10\x00\x00\x00\x00\x00\x00\x00garbage-garbage-", "not a safetensors buffer"),
    ("generator.safetensors", b"\xff" * 64, "bad header length"),
    ("generator.safetensors", _safetensors({"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 64]}}, b"\0" * 16),
     "offsets outside the data"),
    ("generator.safetensors", _safetensors({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}},
                                           b"\0\0\xc0\x7f" * 2), "non-finite"),
    ("critic.safetensors", _safetensors({"w": {"dtype": "Q9", "shape": [1], "data_offsets": [0, 1]}}, b"\0"),
     "unknown dtype"),
    ("encoder.json", b"{not json", "not valid JSON"),
    ("schema.yaml", BOMB.encode(), "aliases"),
])
def test_forged_model_parts_are_one_line_model_file_errors(tmp_path, model, part, data, fragment):
    from synthguard.synthesizer import Synthesizer

    forged = _forge(model, tmp_path / "f.sgm", part, data)
    with pytest.raises(ModelFileError, match=fragment):
        Synthesizer.load(forged)
    one_line_error(invoke("sample", forged, "-n", 5, "-o", tmp_path / "s.csv"), "f.sgm", part, fragment)
    assert not (tmp_path / "s.csv").exists()


def test_a_well_formed_forgery_of_the_wrong_shape_is_a_model_file_error(tmp_path, model):
    from synthguard.synthesizer import Synthesizer

    forged = _forge(model, tmp_path / "f.sgm", "generator.safetensors",
                    _safetensors({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}, b"\0" * 8))
    with pytest.raises(ModelFileError):
        Synthesizer.load(forged)


# ---- 5 and 8. settings and tables refused before any work -------------------------------------------
@pytest.mark.parametrize(("args", "fragment"), [
    (["--seed", "-1"], "--seed"),
    (["--seed", str(2**40)], "--seed"),
    (["--epochs", "0"], "--epochs"),
    (["--batch-size", "0"], "--batch-size"),
    (["--threads", "0"], "--threads"),
])
def test_fit_settings_out_of_range_are_usage_errors(tmp_path, ofp_csv, args, fragment):
    usage_error(invoke("fit", ofp_csv, "--schema", OFP_SCHEMA, "-o", tmp_path / "m.sgm", *args), fragment)
    assert list(tmp_path.iterdir()) == [ofp_csv]


@pytest.mark.parametrize(("command", "args", "fragment"), [
    ("audit", ["--shadows", "2"], "--shadows"),
    ("audit", ["--targets", "-5"], "--targets"),
    ("audit", ["--workers", "0"], "--workers"),
    ("release", ["--shadows", "2", "-o", "rel"], "--shadows"),
    ("release", ["--targets", "-5", "-o", "rel"], "--targets"),
    ("release", ["--epochs", "0", "-o", "rel"], "--epochs"),
])
def test_audit_and_release_settings_out_of_range_are_usage_errors(tmp_path, ofp_csv, command, args, fragment):
    args = [str(tmp_path / a) if a == "rel" else a for a in args]
    usage_error(invoke(command, ofp_csv, "--schema", OFP_SCHEMA, *args), fragment)
    assert list(tmp_path.iterdir()) == [ofp_csv]


def test_sample_refuses_an_absurd_row_count_before_loading(tmp_path, model):
    one_line_error(invoke("sample", model, "-n", 100_000_000_000, "-o", tmp_path / "s.csv"), "10,000,000")
    usage_error(invoke("sample", model, "-n", 5, "-o", tmp_path / "s.csv", "--seed", "-1"), "--seed")
    assert list(tmp_path.iterdir()) == []


def test_a_semicolon_csv_is_named_as_such(tmp_path):
    data = tmp_path / "semi.csv"
    data.write_text("age;sex;income\n70;m;1000\n71;f;2000\n72;m;1500\n73;f;1200\n")
    one_line_error(invoke("fit", data, "-o", tmp_path / "m.sgm", *TINY), "semi.csv", "`;`-delimited")
    one_line_error(invoke("schema", "infer", data), "`;`-delimited")
    tabs = tmp_path / "tabs.csv"
    tabs.write_text("age\tsex\n70\tm\n71\tf\n")
    one_line_error(invoke("schema", "infer", tabs), "tab-delimited")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["semi.csv", "tabs.csv"]


def test_a_table_with_nothing_to_model_is_refused(tmp_path):
    data = tmp_path / "ids.csv"
    data.write_text("pid,zip\n" + "".join(f"{i},{10000 + i % 3}\n" for i in range(40)))
    schema = tmp_path / "s.yaml"
    schema.write_text("format_version: 1\ncolumns:\n  - {name: pid, type: id}\n"
                      "  - {name: zip, type: categorical, sensitive: true}\n")
    one_line_error(invoke("fit", data, "--schema", schema, "-o", tmp_path / "m.sgm", *TINY), "ids.csv",
                   "no column to model")
    assert not (tmp_path / "m.sgm").exists()


# ---- 7. progress in a log file, and the whole run's estimate ------------------------------------------
def test_progress_without_a_terminal_is_plain_lines(tmp_path, ofp_csv):
    result = invoke("fit", ofp_csv, "--schema", OFP_SCHEMA, "-o", tmp_path / "m.sgm", "--epochs", "3",
                    "--batch-size", "64")
    assert result.exit_code == 0, result.output
    assert "training: epoch 3/3" in result.stderr and "elapsed" in result.stderr
    assert "estimated time: about" in result.stderr
    quiet = invoke("fit", ofp_csv, "--schema", OFP_SCHEMA, "-o", tmp_path / "q.sgm", "--quiet", *TINY)
    assert quiet.exit_code == 0 and quiet.stderr == ""


def test_the_estimate_covers_the_shadows():
    # 2 s/epoch x 10 epochs x (1 + 16 shadows x 0.5 / 2 workers) = 100 s
    line = run_estimate(2.0, 10, shadows=16, workers=2)
    assert "1m40s" in line and "16 shadow models on 2 worker(s)" in line
    assert "20s" in run_estimate(2.0, 10)
    # a sequential audit of rounds of 4: from 4 shadows (2 s x 10 x 2 = 40 s) to all 16
    ranged = run_estimate(2.0, 10, shadows=16, workers=2, first_round=4)
    assert "40s to 1m40s" in ranged and "4 to 16 shadow models" in ranged
