"""Shared fixtures: a small slice of the bundled OFP table, its schema, and tiny GAN settings."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from synthguard.io import read_table
from synthguard.schema import Schema

# Tests share two cores with each other's processes: one torch thread each (measured: two busy
# processes with two threads each ran 16-40x slower).
torch.set_num_threads(1)

ROOT = Path(__file__).resolve().parents[1]
OFP_CSV = ROOT / "synthguard" / "data" / "ofp.csv"
OFP_SCHEMA = ROOT / "schemas" / "ofp.yaml"
TINY = {"epochs": 3, "batch_size": 64, "z_dim": 16, "generator_dims": (32,), "critic_dims": (32,)}


@pytest.fixture(scope="session")
def ofp_full():
    return read_table(OFP_CSV)


@pytest.fixture()
def ofp_raw(ofp_full):
    """300 real OFP rows, as read from CSV (text cells)."""
    return ofp_full.iloc[:300].reset_index(drop=True).copy()


@pytest.fixture(scope="session")
def ofp_schema():
    return Schema.load(OFP_SCHEMA)


@pytest.fixture()
def ofp_csv(tmp_path, ofp_full):
    path = tmp_path / "ofp.csv"
    ofp_full.iloc[:300].to_csv(path, index=False)
    return path
