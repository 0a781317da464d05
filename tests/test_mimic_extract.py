"""examples/mimic_extract.py on a hand-written MIMIC-III v1.4 fixture (exact file and column names).

The expected output below was worked out by hand from the fixture, not by running the extractor.
"""

from __future__ import annotations

import gzip
import importlib.util
import re
from pathlib import Path
from types import ModuleType

import pandas as pd
import pytest

from synthguard.io import read_table
from synthguard.schema import Schema

ROOT = Path(__file__).resolve().parents[1]


def _load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("mimic_extract", ROOT / "examples" / "mimic_extract.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


mimic_extract = _load_script()

# ---- the fixture -------------------------------------------------------------------------------
# subject: (GENDER, DOB, [(HADM_ID, ADMITTIME, ADMISSION_TYPE, ETHNICITY, HOSPITAL_EXPIRE_FLAG, [ICD9_CODE])])
PATIENTS: dict[int, tuple[str, str, list[tuple[int, str, str, str, int, list[str]]]]] = {
    10: ("M", "2100-01-01 00:00:00", [
        (1001, "2150-01-01 10:00:00", "EMERGENCY", "WHITE", 0, ["4019", "25000"]),
        (1002, "2151-06-01 09:00:00", "EMERGENCY", "WHITE", 0, ["4019", "42731"])]),  # 4019 again
    11: ("F", "2080-05-10 00:00:00", [
        (1011, "2140-05-10 00:00:00", "ELECTIVE", "BLACK/AFRICAN AMERICAN", 0, ["4011", "4019"])]),
    12: ("M", "1850-01-01 00:00:00", [  # aged out: DOB shifted 300 years
        (1021, "2150-01-01 00:00:00", "EMERGENCY", "WHITE", 1, ["0389", "99591", "5849"])]),
    13: ("F", "2150-05-05 00:00:00", [
        (1031, "2150-05-05 08:00:00", "NEWBORN", "HISPANIC OR LATINO", 0, ["V3000", "V053"])]),
    14: ("M", "2110-02-02 00:00:00", [
        (1041, "2135-02-02 00:00:00", "EMERGENCY", "ASIAN - CHINESE", 0, ["E8798", "99591"])]),
    15: ("F", "2090-03-03 00:00:00", [  # listed out of time order; died in the later admission
        (1052, "2160-03-03 00:00:00", "URGENT", "WHITE", 1, ["486", "42731"]),
        (1051, "2150-03-03 00:00:00", "ELECTIVE", "WHITE", 0, ["25001"])]),
    16: ("M", "2100-07-07 00:00:00", [  # ethnicity known only from the second admission
        (1061, "2140-07-07 00:00:00", "EMERGENCY", "UNKNOWN/NOT SPECIFIED", 0, ["4019"]),
        (1062, "2141-01-01 00:00:00", "EMERGENCY", "WHITE - RUSSIAN", 0, ["4019"])]),
    17: ("F", "2100-07-07 00:00:00", [  # one diagnosis row with an empty code
        (1071, "2130-07-07 00:00:00", "EMERGENCY", "UNABLE TO OBTAIN", 0, [""])]),
    18: ("M", "2100-01-01 00:00:00", [
        (1081, "2170-01-01 00:00:00", "URGENT", "AMERICAN INDIAN/ALASKA NATIVE", 0, ["486"])]),
    19: ("F", "2060-01-01 00:00:00", [  # a real 89.5-year-old: not capped
        (1091, "2149-07-02 00:00:00", "EMERGENCY", "WHITE", 1, ["486", "0389"])]),
    20: ("M", "2100-01-01 00:00:00", []),  # no admission: not in the output
    21: ("M", "2101-04-04 00:00:00", [
        (1211, "2150-04-04 00:00:00", "ELECTIVE", "PATIENT DECLINED TO ANSWER", 0, ["25000", "4019"])]),
    22: ("F", "2105-09-09 00:00:00", [
        (1221, "2160-09-09 00:00:00", "EMERGENCY", "WHITE - OTHER EUROPEAN", 0, ["42731", "5849"])]),
    23: ("M", "2120-12-12 00:00:00", [
        (1231, "2165-12-12 00:00:00", "EMERGENCY", "BLACK/HAITIAN", 1, ["0389", "486", "99591"])]),
    24: ("F", "2111-11-11 00:00:00", [
        (1241, "2144-11-11 00:00:00", "URGENT", "HISPANIC/LATINO - PUERTO RICAN", 0, ["E8497", "99591"])]),
    25: ("M", "2100-06-06 00:00:00", [
        (1251, "2177-06-06 00:00:00", "EMERGENCY", "ASIAN - ASIAN INDIAN", 0, ["4011", "42731"])]),
    26: ("F", "2130-08-08 00:00:00", [
        (1261, "2148-08-08 00:00:00", "EMERGENCY", "MULTI RACE ETHNICITY", 0, ["E8798"])]),
    27: ("M", "2180-01-15 00:00:00", [
        (1271, "2180-01-15 10:30:00", "NEWBORN", "WHITE", 0, ["V3000"])]),
    28: ("F", "2095-02-20 00:00:00", [
        (1281, "2163-02-20 00:00:00", "ELECTIVE", "OTHER", 0, ["25000", "4019", "42731"])]),
    29: ("F", "1800-05-05 00:00:00", [  # aged out
        (1291, "2105-05-05 00:00:00", "EMERGENCY", "WHITE", 0, ["4019", "42731", "5849"])]),
    30: ("M", "2100-10-10 00:00:00", [  # three admissions; a code twice in one; died in the last
        (1301, "2150-10-10 00:00:00", "EMERGENCY", "BLACK/AFRICAN AMERICAN", 0, ["25000", "4019", "25000"]),
        (1302, "2151-10-10 00:00:00", "EMERGENCY", "BLACK/AFRICAN AMERICAN", 0, ["25000", "5849"]),
        (1303, "2152-10-10 00:00:00", "URGENT", "BLACK/AFRICAN AMERICAN", 1, ["5849", "0389"])]),
    31: ("M", "2115-03-15 00:00:00", [  # no diagnosis rows at all
        (1311, "2150-03-15 00:00:00", "EMERGENCY", "SOUTH AMERICAN", 0, [])]),
    32: ("F", "2100-04-20 00:00:00", [
        (1321, "2142-04-20 00:00:00", "URGENT", "WHITE - BRAZILIAN", 0, ["486"])]),
    33: ("M", "2125-05-25 00:00:00", [
        (1331, "2190-05-25 00:00:00", "ELECTIVE", "ASIAN", 0, ["4019", "25001"])]),
    34: ("F", "2140-06-30 00:00:00", [
        (1341, "2161-06-30 00:00:00", "EMERGENCY", "BLACK/CAPE VERDEAN", 1, ["99591", "0389"])]),
    35: ("M", "2100-09-01 00:00:00", [
        (1351, "2182-09-01 00:00:00", "EMERGENCY", "HISPANIC/LATINO - DOMINICAN", 0, ["42731", "4019"])]),
    36: ("F", "2170-03-10 00:00:00", [
        (1361, "2170-03-10 09:00:00", "NEWBORN", "UNKNOWN/NOT SPECIFIED", 0, ["V053"])]),
    37: ("M", "2100-12-01 00:00:00", [
        (1371, "2157-12-01 00:00:00", "EMERGENCY", "WHITE", 0, ["5849", "25000"]),
        (1372, "2158-03-01 00:00:00", "EMERGENCY", "WHITE", 0, ["4019"])]),
    38: ("F", "2105-01-20 00:00:00", [
        (1381, "2143-01-20 00:00:00", "ELECTIVE", "PORTUGUESE", 0, ["4011"])]),
    39: ("M", "2100-02-14 00:00:00", [
        (1391, "2164-02-14 00:00:00", "URGENT", "NATIVE HAWAIIAN OR OTHER PACIFIC ISLANDER", 0, ["4019", "486"])]),
    40: ("F", "2100-03-30 00:00:00", [
        (1401, "2153-03-30 00:00:00", "EMERGENCY", "MIDDLE EASTERN", 0, ["25001", "42731"])]),
}

# ---- the expected output, by hand --------------------------------------------------------------
CODES_3 = ["038", "250", "401", "427", "486", "584", "995", "E849", "E879", "V05", "V30"]
# (gender, age, admission_type, ethnicity, mortality, one 0/1 per CODES_3 column), in SUBJECT_ID order
EXPECTED = [
    #                                                    038 250 401 427 486 584 995 E849 E879 V05 V30
    ("M", 50.0, "EMERGENCY", "WHITE", 0,    "0 1 1 1 0 0 0 0 0 0 0"),  # 10
    ("F", 60.0, "ELECTIVE", "BLACK", 0,     "0 0 1 0 0 0 0 0 0 0 0"),  # 11
    ("M", 91.4, "EMERGENCY", "WHITE", 1,    "1 0 0 0 0 1 1 0 0 0 0"),  # 12
    ("F", 0.0, "NEWBORN", "HISPANIC", 0,    "0 0 0 0 0 0 0 0 0 1 1"),  # 13
    ("M", 25.0, "EMERGENCY", "ASIAN", 0,    "0 0 0 0 0 0 1 0 1 0 0"),  # 14
    ("F", 60.0, "ELECTIVE", "WHITE", 1,     "0 1 0 1 1 0 0 0 0 0 0"),  # 15
    ("M", 40.0, "EMERGENCY", "WHITE", 0,    "0 0 1 0 0 0 0 0 0 0 0"),  # 16
    ("F", 30.0, "EMERGENCY", "UNKNOWN", 0,  "0 0 0 0 0 0 0 0 0 0 0"),  # 17
    ("M", 70.0, "URGENT", "OTHER", 0,       "0 0 0 0 1 0 0 0 0 0 0"),  # 18
    ("F", 89.5, "EMERGENCY", "WHITE", 1,    "1 0 0 0 1 0 0 0 0 0 0"),  # 19
    ("M", 49.0, "ELECTIVE", "UNKNOWN", 0,   "0 1 1 0 0 0 0 0 0 0 0"),  # 21
    ("F", 55.0, "EMERGENCY", "WHITE", 0,    "0 0 0 1 0 1 0 0 0 0 0"),  # 22
    ("M", 45.0, "EMERGENCY", "BLACK", 1,    "1 0 0 0 1 0 1 0 0 0 0"),  # 23
    ("F", 33.0, "URGENT", "HISPANIC", 0,    "0 0 0 0 0 0 1 1 0 0 0"),  # 24
    ("M", 77.0, "EMERGENCY", "ASIAN", 0,    "0 0 1 1 0 0 0 0 0 0 0"),  # 25
    ("F", 18.0, "EMERGENCY", "OTHER", 0,    "0 0 0 0 0 0 0 0 1 0 0"),  # 26
    ("M", 0.0, "NEWBORN", "WHITE", 0,       "0 0 0 0 0 0 0 0 0 0 1"),  # 27
    ("F", 68.0, "ELECTIVE", "OTHER", 0,     "0 1 1 1 0 0 0 0 0 0 0"),  # 28
    ("F", 91.4, "EMERGENCY", "WHITE", 0,    "0 0 1 1 0 1 0 0 0 0 0"),  # 29
    ("M", 50.0, "EMERGENCY", "BLACK", 1,    "1 1 1 0 0 1 0 0 0 0 0"),  # 30
    ("M", 35.0, "EMERGENCY", "OTHER", 0,    "0 0 0 0 0 0 0 0 0 0 0"),  # 31
    ("F", 42.0, "URGENT", "WHITE", 0,       "0 0 0 0 1 0 0 0 0 0 0"),  # 32
    ("M", 65.0, "ELECTIVE", "ASIAN", 0,     "0 1 1 0 0 0 0 0 0 0 0"),  # 33
    ("F", 21.0, "EMERGENCY", "BLACK", 1,    "1 0 0 0 0 0 1 0 0 0 0"),  # 34
    ("M", 82.0, "EMERGENCY", "HISPANIC", 0, "0 0 1 1 0 0 0 0 0 0 0"),  # 35
    ("F", 0.0, "NEWBORN", "UNKNOWN", 0,     "0 0 0 0 0 0 0 0 0 1 0"),  # 36
    ("M", 57.0, "EMERGENCY", "WHITE", 0,    "0 1 1 0 0 1 0 0 0 0 0"),  # 37
    ("F", 38.0, "ELECTIVE", "OTHER", 0,     "0 0 1 0 0 0 0 0 0 0 0"),  # 38
    ("M", 64.0, "URGENT", "OTHER", 0,       "0 0 1 0 1 0 0 0 0 0 0"),  # 39
    ("F", 53.0, "EMERGENCY", "OTHER", 0,    "0 1 0 1 0 0 0 0 0 0 0"),  # 40
]
DEMOGRAPHICS = ["gender", "age", "admission_type", "ethnicity", "mortality"]


# ---- writing the fixture in MIMIC's CSV dialect -----------------------------------------------
_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")


def _cell(value: object) -> str:
    """MIMIC's dump quotes text but not numbers, timestamps or empty cells."""
    if value is None or value == "":
        return ""
    if isinstance(value, int) or _TIMESTAMP.match(str(value)):
        return str(value)
    return '"' + str(value).replace('"', '""') + '"'


def _csv(header: list[str], rows: list[list[object]]) -> str:
    lines = [",".join(f'"{h}"' for h in header)]
    lines += [",".join(_cell(v) for v in row) for row in rows]
    return "\n".join(lines) + "\n"


def write_fixture(folder: Path, gzip_table: str = "DIAGNOSES_ICD") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    patients, admissions, diagnoses = [], [], []
    for subject, (gender, dob, stays) in PATIENTS.items():
        patients.append([len(patients) + 1, subject, gender, dob, None, None, None, 0])
        for hadm, admit, kind, ethnicity, expire, codes in stays:
            admissions.append([len(admissions) + 1, subject, hadm, admit, admit[:10] + " 23:00:00", None, kind,
                               "EMERGENCY ROOM ADMIT", "HOME", "Medicare", "ENGL", "CATHOLIC", "MARRIED", ethnicity,
                               None, None, "CHEST PAIN", expire, 1])
            for seq, code in enumerate(codes, start=1):
                diagnoses.append([len(diagnoses) + 1, subject, hadm, seq if code else None, code])
    tables = {
        "PATIENTS": _csv(["ROW_ID", "SUBJECT_ID", "GENDER", "DOB", "DOD", "DOD_HOSP", "DOD_SSN", "EXPIRE_FLAG"], patients),
        "ADMISSIONS": _csv(["ROW_ID", "SUBJECT_ID", "HADM_ID", "ADMITTIME", "DISCHTIME", "DEATHTIME", "ADMISSION_TYPE",
                            "ADMISSION_LOCATION", "DISCHARGE_LOCATION", "INSURANCE", "LANGUAGE", "RELIGION",
                            "MARITAL_STATUS", "ETHNICITY", "EDREGTIME", "EDOUTTIME", "DIAGNOSIS",
                            "HOSPITAL_EXPIRE_FLAG", "HAS_CHARTEVENTS_DATA"], admissions),
        "DIAGNOSES_ICD": _csv(["ROW_ID", "SUBJECT_ID", "HADM_ID", "SEQ_NUM", "ICD9_CODE"], diagnoses),
    }
    for name, text in tables.items():
        if name == gzip_table:
            (folder / f"{name}.csv.gz").write_bytes(gzip.compress(text.encode()))
        else:
            (folder / f"{name}.csv").write_text(text)
    return folder


@pytest.fixture
def mimic_dir(tmp_path: Path) -> Path:
    return write_fixture(tmp_path / "mimic")


def run(argv: list[str]) -> int:
    return mimic_extract.main([str(a) for a in argv])


def expected_frame(codes: list[str] = CODES_3) -> pd.DataFrame:
    rows = [list(r[:5]) + [int(b) for b in r[5].split()] for r in EXPECTED]
    frame = pd.DataFrame(rows, columns=DEMOGRAPHICS + [f"icd9_{c}" for c in CODES_3])
    return frame[DEMOGRAPHICS + [f"icd9_{c}" for c in codes]]


def read_output(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype={"gender": str, "admission_type": str, "ethnicity": str})


# ---- tests -------------------------------------------------------------------------------------
def test_fixture_is_in_mimic_format(mimic_dir: Path) -> None:
    assert sorted(p.name for p in mimic_dir.iterdir()) == ["ADMISSIONS.csv", "DIAGNOSES_ICD.csv.gz", "PATIENTS.csv"]
    first = (mimic_dir / "PATIENTS.csv").read_text().splitlines()[:2]
    assert first == ['"ROW_ID","SUBJECT_ID","GENDER","DOB","DOD","DOD_HOSP","DOD_SSN","EXPIRE_FLAG"',
                     '1,10,"M",2100-01-01 00:00:00,,,,0']
    assert len(PATIENTS) == 31 and len(EXPECTED) == 30


def test_extract_matches_hand_computed_matrix(mimic_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "mimic.csv"
    assert run([mimic_dir, "-o", out]) == 0
    assert "30 patients, 11 code columns" in capsys.readouterr().out
    got = read_output(out)
    assert list(got.columns) == DEMOGRAPHICS + [f"icd9_{c}" for c in CODES_3]
    pd.testing.assert_frame_equal(got, expected_frame(), check_dtype=False)
    # no identifier or date reaches the file
    text = out.read_text()
    assert "SUBJECT" not in text.upper() and "2150" not in text and "1001" not in text
    assert not list(tmp_path.glob(".mimic.csv.*"))  # the atomic write left no temporary file


def test_output_passes_the_schema(mimic_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "mimic.csv"
    assert run([mimic_dir, "-o", out]) == 0
    schema = Schema.load(ROOT / "schemas" / "mimic.yaml")
    assert schema.condition == "mortality"
    typed = schema.parse(read_table(out))
    assert typed.shape == (30, 5 + len(CODES_3))
    assert typed["mortality"].tolist() == [bool(r[4]) for r in EXPECTED]
    assert typed["icd9_E879"].tolist().count(True) == 2


def test_min_code_count_drops_rare_codes(mimic_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # patients per code: E849 1; E879, V05, V30 2; 038, 584, 995 5; 486 6; 250, 427 8; 401 13
    out = tmp_path / "mimic.csv"
    assert run([mimic_dir, "-o", out, "--min-code-count", 2]) == 0
    kept = [c for c in CODES_3 if c != "E849"]
    pd.testing.assert_frame_equal(read_output(out), expected_frame(kept), check_dtype=False)
    assert "1 rarer codes dropped" in capsys.readouterr().out
    assert run([mimic_dir, "-o", out, "--min-code-count", 6]) == 0
    assert list(read_output(out).columns[5:]) == ["icd9_250", "icd9_401", "icd9_427", "icd9_486"]


def test_full_codes(mimic_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "mimic.csv"
    assert run([mimic_dir, "-o", out, "--full-codes"]) == 0
    got = read_output(out)
    full = ["0389", "25000", "25001", "4011", "4019", "42731", "486", "5849", "99591", "E8497", "E8798", "V053", "V3000"]
    assert list(got.columns) == DEMOGRAPHICS + [f"icd9_{c}" for c in full]
    pd.testing.assert_frame_equal(got[DEMOGRAPHICS], expected_frame([])[DEMOGRAPHICS], check_dtype=False)
    row = {s: i for i, s in enumerate(s for s in PATIENTS if s != 20)}
    # 11 has both 4011 and 4019 (one column, icd9_401, when grouped); 25 has 4011 only
    assert got.loc[row[11], ["icd9_4011", "icd9_4019"]].tolist() == [1, 1]
    assert got.loc[row[25], ["icd9_4011", "icd9_4019"]].tolist() == [1, 0]
    assert got.loc[row[15], ["icd9_25000", "icd9_25001", "icd9_42731", "icd9_486"]].tolist() == [0, 1, 1, 1]
    assert got.loc[row[30]].iloc[5:].tolist() == [1, 1, 0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0]
    assert got.iloc[:, 5:].sum().tolist() == [5, 5, 3, 3, 11, 8, 6, 5, 5, 1, 2, 2, 2]
    assert run([mimic_dir, "-o", out, "--full-codes", "--min-code-count", 4]) == 0
    assert list(read_output(out).columns[5:]) == ["icd9_0389", "icd9_25000", "icd9_4019", "icd9_42731",
                                                  "icd9_486", "icd9_5849", "icd9_99591"]


def test_age_cap(mimic_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "mimic.csv"
    assert run([mimic_dir, "-o", out, "--age-cap", 90]) == 0
    ages = read_output(out)["age"].tolist()
    assert ages == [90.0 if a == 91.4 else a for a in (r[1] for r in EXPECTED)]
    assert ages.count(90.0) == 2 and 89.5 in ages  # the real 89.5-year-old is left alone
    assert "90.0" in out.read_text()
    with pytest.raises(SystemExit) as exc:
        run([mimic_dir, "-o", out, "--age-cap", 80])
    assert exc.value.code == 2


def test_mortality_first_admission_only(mimic_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "mimic.csv"
    assert run([mimic_dir, "-o", out, "--mortality", "first"]) == 0
    row = {s: i for i, s in enumerate(s for s in PATIENTS if s != 20)}
    expected = [r[4] for r in EXPECTED]
    expected[row[15]] = expected[row[30]] = 0  # they died in a later admission, not the first
    assert read_output(out)["mortality"].tolist() == expected


def test_every_table_may_be_gzipped_and_lower_case(tmp_path: Path) -> None:
    folder = write_fixture(tmp_path / "mimic", gzip_table="ADMISSIONS")
    path = folder / "PATIENTS.csv"
    lines = path.read_text().splitlines(keepends=True)
    path.write_text(lines[0].lower() + "".join(lines[1:]))  # the demo release uses lower-case headers
    out = tmp_path / "mimic.csv"
    assert run([folder, "-o", out]) == 0
    pd.testing.assert_frame_equal(read_output(out), expected_frame(), check_dtype=False)


def test_missing_table_is_one_line_error(mimic_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (mimic_dir / "ADMISSIONS.csv").unlink()
    out = tmp_path / "mimic.csv"
    assert run([mimic_dir, "-o", out]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("error: ") and "ADMISSIONS.csv" in err
    assert not out.exists()


def test_missing_folder_and_column_are_one_line_errors(mimic_dir: Path, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "mimic.csv"
    assert run([tmp_path / "nowhere", "-o", out]) == 1
    assert "MIMIC folder not found" in capsys.readouterr().err
    path = mimic_dir / "PATIENTS.csv"
    path.write_text(path.read_text().replace('"DOB"', '"BIRTH"', 1))
    assert run([mimic_dir, "-o", out]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "PATIENTS.csv: missing column DOB" in err


def test_bad_timestamp_names_the_row(mimic_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = mimic_dir / "ADMISSIONS.csv"
    path.write_text(path.read_text().replace("2140-05-10 00:00:00", "2140-13-10 00:00:00", 1))
    assert run([mimic_dir, "-o", tmp_path / "mimic.csv"]) == 1
    err = capsys.readouterr().err
    assert "ADMISSIONS.csv: ADMITTIME '2140-13-10 00:00:00' in data row 3" in err and err.count("\n") == 1


def test_script_runs_as_a_program(mimic_dir: Path, tmp_path: Path) -> None:
    import subprocess
    import sys

    out = tmp_path / "mimic.csv"
    done = subprocess.run([sys.executable, str(ROOT / "examples" / "mimic_extract.py"), str(mimic_dir), "-o", str(out)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert out.exists()
