"""Turn a MIMIC-III v1.4 folder into one table for `synthguard fit`: one row per patient.

Usage::

    python examples/mimic_extract.py MIMIC_DIR -o mimic.csv [--full-codes] [--min-code-count N]
                                     [--age-cap 91.4] [--mortality any|first]

It reads PATIENTS, ADMISSIONS and DIAGNOSES_ICD (``NAME.csv`` or ``NAME.csv.gz``; file and column
names in any case) and writes, for every patient with at least one admission:

* ``gender``          M/F, from PATIENTS.
* ``age``             years from DOB to the first admission's ADMITTIME (days / 365.25, one decimal).
                      MIMIC moves the DOB of patients older than 89 back by 300 years; every age of 90
                      or more is reported as ``--age-cap`` (default 91.4, the median of the hidden
                      ages that MIMIC documents; 90 is the other usual choice).
* ``admission_type``  ADMISSION_TYPE of the first admission (ELECTIVE, EMERGENCY, NEWBORN, URGENT).
* ``ethnicity``       ETHNICITY grouped by its leading word into WHITE, BLACK, HISPANIC, ASIAN, OTHER
                      and UNKNOWN; taken from the first admission whose ethnicity is known.
* ``mortality``       1 if the patient died in hospital (HOSPITAL_EXPIRE_FLAG) in any admission
                      (``--mortality any``, the default), or in the first one (``--mortality first``).
* ``icd9_<code>``     0/1: whether any admission of the patient carries the code. Codes are grouped as
                      medGAN does (first 3 characters, first 4 for E codes: 4019 -> 401,
                      E8798 -> E879, V053 -> V05) unless ``--full-codes``; codes found in fewer than
                      ``--min-code-count`` patients are dropped. Columns are sorted by name.

No identifier (SUBJECT_ID, HADM_ID, dates) is written: the GAN must never see them. Rows are in
SUBJECT_ID order. The output is written atomically (a temporary file, then a rename).
"""

from __future__ import annotations

import argparse
import sys
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from synthguard.errors import InputError, SynthguardError
from synthguard.io import write_table

DEFAULT_AGE_CAP = 91.4
_SHIFTED_AGE = 90.0  # real ages stop below 90 (MIMIC reports >89 as ~300); at or above is the shifted group
_SECONDS_PER_YEAR = 365.25 * 86400
ETHNICITY_GROUPS = ("WHITE", "BLACK", "HISPANIC", "ASIAN", "OTHER", "UNKNOWN")
_UNKNOWN_ETHNICITY = frozenset({"", "UNKNOWN/NOT SPECIFIED", "UNABLE TO OBTAIN", "PATIENT DECLINED TO ANSWER"})
_REQUIRED = {
    "PATIENTS": ("SUBJECT_ID", "GENDER", "DOB"),
    "ADMISSIONS": ("SUBJECT_ID", "HADM_ID", "ADMITTIME", "ADMISSION_TYPE", "ETHNICITY", "HOSPITAL_EXPIRE_FLAG"),
    "DIAGNOSES_ICD": ("SUBJECT_ID", "ICD9_CODE"),
}


# ---- reading the tables ------------------------------------------------------------------------
def find_table(folder: Path, table: str) -> Path:
    """``TABLE.csv`` or ``TABLE.csv.gz`` in `folder` (any case); the plain CSV wins if both exist."""
    by_name = {p.name.upper(): p for p in folder.iterdir() if p.is_file()}
    for suffix in (".CSV", ".CSV.GZ"):
        if table + suffix in by_name:
            return by_name[table + suffix]
    raise InputError(f"{folder}: no {table}.csv or {table}.csv.gz (is this a MIMIC-III v1.4 folder?)")


def read_mimic_table(folder: Path, table: str) -> tuple[pd.DataFrame, str]:
    """The table's required columns as text (missing cells are ""), and the file name for messages."""
    path = find_table(folder, table)
    wanted = _REQUIRED[table]
    try:
        header = pd.read_csv(path, nrows=0).columns
        # the demo release and some database dumps spell columns in lower case
        by_upper = {str(c).strip().upper(): c for c in header}
        missing = [c for c in wanted if c not in by_upper]
        if missing:
            raise InputError(f"{path.name}: missing column {', '.join(missing)} (MIMIC-III v1.4 {table} has {', '.join(wanted)})")
        frame = pd.read_csv(path, usecols=[by_upper[c] for c in wanted], dtype=str, keep_default_na=False)
    except (OSError, EOFError, zlib.error, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        reason = str(err).strip().splitlines()[-1] if str(err).strip() else type(err).__name__
        raise InputError(f"{path}: not a readable CSV ({reason})") from None
    frame.columns = [str(c).strip().upper() for c in frame.columns]
    return frame[list(wanted)], path.name


def _integers(values: pd.Series, column: str, source: str) -> np.ndarray:
    numbers = pd.to_numeric(values.str.strip(), errors="coerce")
    bad = numbers.isna().to_numpy()
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise InputError(f"{source}: {column} {values.iloc[row]!r} in data row {row + 1} is not an integer")
    return numbers.to_numpy().astype(np.int64)


def _seconds(values: pd.Series, column: str, source: str) -> np.ndarray:
    """Timestamps as int64 seconds. numpy, not pandas: pandas' nanosecond timestamps overflow on
    the ~300-year gap between an aged-out patient's shifted DOB and their admission."""
    text = values.str.strip()
    try:
        parsed = np.array(text.to_numpy(dtype=str), dtype="datetime64[s]")
        bad = np.isnat(parsed)  # empty cells parse as NaT
    except ValueError:
        parsed, bad = None, np.array([_bad_time(t) for t in text], dtype=bool)
    if bad.any() or parsed is None:
        row = int(np.flatnonzero(bad)[0]) if bad.any() else 0
        raise InputError(f"{source}: {column} {values.iloc[row]!r} in data row {row + 1} is not a date and time")
    return parsed.astype(np.int64)


def _bad_time(text: str) -> bool:
    try:
        return bool(np.isnat(np.datetime64(text, "s")))
    except ValueError:
        return True


# ---- derived columns ---------------------------------------------------------------------------
def ethnicity_group(value: str) -> str:
    """WHITE, BLACK, HISPANIC, ASIAN by the value's leading word (``ASIAN - CHINESE`` -> ASIAN,
    ``HISPANIC/LATINO - CUBAN`` -> HISPANIC); declined/unknown -> UNKNOWN; anything else -> OTHER."""
    text = value.strip().upper()
    if text in _UNKNOWN_ETHNICITY:
        return "UNKNOWN"
    for group in ("WHITE", "BLACK", "HISPANIC", "ASIAN"):
        if text.startswith(group):
            return group
    return "OTHER"


def group_code(code: str) -> str:
    """medGAN's 3-digit grouping: E codes keep 4 characters (E8798 -> E879), others 3 (4019 -> 401)."""
    return code[:4] if code.startswith("E") else code[:3]


def ages(dob_s: np.ndarray, admit_s: np.ndarray, age_cap: float) -> np.ndarray:
    years = (admit_s - dob_s) / _SECONDS_PER_YEAR
    years = np.where(years >= _SHIFTED_AGE, age_cap, years)
    # a newborn admitted before its recorded birth time would get a tiny negative age
    return np.round(np.clip(years, 0.0, None), 1)


# ---- the extraction ----------------------------------------------------------------------------
def extract(folder: str | Path, full_codes: bool = False, min_code_count: int = 1,
            age_cap: float = DEFAULT_AGE_CAP, mortality: str = "any") -> tuple[pd.DataFrame, dict[str, int]]:
    """The patient table described in the module docstring, and counts for the summary line."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"MIMIC folder not found: {folder}")
    if mortality not in ("any", "first"):
        raise InputError(f"mortality must be 'any' or 'first', not {mortality!r}")
    patients, p_src = read_mimic_table(folder, "PATIENTS")
    admissions, a_src = read_mimic_table(folder, "ADMISSIONS")
    diagnoses, d_src = read_mimic_table(folder, "DIAGNOSES_ICD")

    p_ids = _integers(patients["SUBJECT_ID"], "SUBJECT_ID", p_src)
    if len(np.unique(p_ids)) != len(p_ids):
        raise InputError(f"{p_src}: SUBJECT_ID is not unique")
    adm = pd.DataFrame({
        "subject": _integers(admissions["SUBJECT_ID"], "SUBJECT_ID", a_src),
        "hadm": _integers(admissions["HADM_ID"], "HADM_ID", a_src),
        "admit": _seconds(admissions["ADMITTIME"], "ADMITTIME", a_src),
        "type": admissions["ADMISSION_TYPE"].str.strip().to_numpy(),
        "ethnicity": admissions["ETHNICITY"].map(ethnicity_group).to_numpy(),
        "died": _integers(admissions["HOSPITAL_EXPIRE_FLAG"], "HOSPITAL_EXPIRE_FLAG", a_src),
    })
    if not np.isin(adm["died"].to_numpy(), (0, 1)).all():
        raise InputError(f"{a_src}: HOSPITAL_EXPIRE_FLAG must be 0 or 1")

    # the table's patients: in PATIENTS and with at least one admission (age and type need one)
    subjects = np.intersect1d(p_ids, adm["subject"].to_numpy())
    if len(subjects) == 0:
        raise InputError(f"{folder}: no patient in {p_src} has an admission in {a_src}")
    adm = adm[np.isin(adm["subject"].to_numpy(), subjects)]
    adm = adm.sort_values(["subject", "admit", "hadm"], kind="stable")
    first = adm.drop_duplicates("subject").set_index("subject").reindex(subjects)
    known = adm[adm["ethnicity"] != "UNKNOWN"].drop_duplicates("subject").set_index("subject")["ethnicity"]
    died = adm.groupby("subject")["died"].max() if mortality == "any" else first["died"]

    p_order = np.argsort(p_ids)
    p_rows = p_order[np.searchsorted(p_ids, subjects, sorter=p_order)]
    dob = _seconds(patients["DOB"], "DOB", p_src)[p_rows]
    table = pd.DataFrame({
        "gender": patients["GENDER"].str.strip().to_numpy()[p_rows],
        "age": ages(dob, first["admit"].to_numpy(), age_cap),
        "admission_type": first["type"].to_numpy(),
        "ethnicity": known.reindex(subjects).fillna("UNKNOWN").to_numpy(),
        "mortality": died.reindex(subjects).to_numpy().astype(np.int8),
    })

    codes, n_codes_seen = _code_matrix(diagnoses, d_src, subjects, full_codes, min_code_count)
    out = pd.concat([table, codes], axis=1)
    counts = {
        "patients": len(subjects),
        "codes": codes.shape[1],
        "codes_dropped": n_codes_seen - codes.shape[1],
        "patients_without_admission": int(len(p_ids) - len(subjects)),
    }
    return out, counts


def _code_matrix(diagnoses: pd.DataFrame, source: str, subjects: np.ndarray, full_codes: bool,
                 min_code_count: int) -> tuple[pd.DataFrame, int]:
    """int8 patients x codes; built from deduplicated (patient, code) pairs, so memory is the
    matrix itself (46k x 1k bytes for MIMIC's 3-digit codes), never a dense pivot of strings."""
    code = diagnoses["ICD9_CODE"].str.strip().str.upper()
    keep = code.to_numpy() != ""  # MIMIC has diagnosis rows without a code
    subj = _integers(diagnoses["SUBJECT_ID"][keep], "SUBJECT_ID", source)
    code = code[keep]
    if not full_codes:
        code = code.map(group_code)
    pairs = pd.DataFrame({"subject": subj, "code": code.to_numpy()})
    pairs = pairs[np.isin(pairs["subject"].to_numpy(), subjects)].drop_duplicates()
    per_code = pairs["code"].value_counts()
    kept = sorted(per_code.index[per_code >= min_code_count])
    col = pd.Categorical(pairs["code"], categories=kept).codes
    row = np.searchsorted(subjects, pairs["subject"].to_numpy())
    matrix = np.zeros((len(subjects), len(kept)), dtype=np.int8)
    matrix[row[col >= 0], col[col >= 0]] = 1
    return pd.DataFrame(matrix, columns=[f"icd9_{c}" for c in kept]), len(per_code)


# ---- command line ------------------------------------------------------------------------------
def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mimic_extract.py",
        description="Write one row per MIMIC-III patient: demographics, in-hospital mortality and 0/1 ICD-9 code columns.",
    )
    parser.add_argument("mimic_dir", type=Path, help="folder with PATIENTS, ADMISSIONS and DIAGNOSES_ICD (.csv or .csv.gz)")
    parser.add_argument("-o", "--output", type=Path, default=Path("mimic.csv"), help="output CSV (default: mimic.csv)")
    parser.add_argument("--full-codes", action="store_true", help="one column per full ICD-9 code instead of 3-digit groups")
    parser.add_argument("--min-code-count", type=int, default=1, metavar="N",
                        help="drop codes found in fewer than N patients (default: 1, keep all)")
    parser.add_argument("--age-cap", type=float, default=DEFAULT_AGE_CAP, metavar="AGE",
                        help=f"age reported for patients aged 90 or more (default: {DEFAULT_AGE_CAP})")
    parser.add_argument("--mortality", choices=("any", "first"), default="any",
                        help="in-hospital death in any admission (default) or in the first admission only")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.min_code_count < 1:
        parser.error("--min-code-count must be at least 1")
    if not _SHIFTED_AGE <= args.age_cap < 300:
        parser.error("--age-cap must be at least 90 (younger ages are real ages) and below 300")
    try:
        table, counts = extract(args.mimic_dir, args.full_codes, args.min_code_count, args.age_cap, args.mortality)
        write_table(table, args.output, fmt="csv")
    except SynthguardError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except OSError as err:  # e.g. the output folder is not writable
        print(f"error: {err.filename or args.output}: {err.strerror or err}", file=sys.stderr)
        return 1
    dropped = f", {counts['codes_dropped']} rarer codes dropped" if counts["codes_dropped"] else ""
    skipped = f"; skipped {counts['patients_without_admission']} patients without an admission" if counts["patients_without_admission"] else ""
    print(f"wrote {args.output}: {counts['patients']} patients, {counts['codes']} code columns{dropped}{skipped}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
