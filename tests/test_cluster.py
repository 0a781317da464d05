"""The Dask backend: a real LocalCluster started here gives the same audit as local processes."""

from __future__ import annotations

import numpy as np
import pytest

from synthguard.audit import audit
from synthguard.errors import SynthguardError
from synthguard.synthesizer import Synthesizer

distributed = pytest.importorskip("distributed", reason="the cluster extra (dask[distributed]) is not installed")

SMALL_NET = {"generator_dims": (32,), "critic_dims": (32,), "z_dim": 16, "batch_size": 64, "epochs": 3}
AUDIT = {"n_shadows": 4, "n_targets": 40, "synthetic_rows": 1000, "n_bootstrap": 100, "seed": 3}


def test_dask_backend_matches_local_workers(ofp_full, ofp_schema):
    rows = ofp_full.iloc[:120]
    recipe = Synthesizer(ofp_schema, **SMALL_NET)
    local = audit(rows, recipe, ofp_schema, workers=2, **AUDIT)
    # One thread per worker, as each shadow uses one torch thread; processes, like a real cluster.
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  silence_logs=40) as cluster:
        done = []
        remote = audit(rows, recipe, ofp_schema, backend="dask", scheduler=cluster.scheduler_address,
                       on_shadow=lambda d, t: done.append(d), **AUDIT)
    assert done == [1, 2, 3, 4]
    for name, attack in local.attacks.items():
        np.testing.assert_array_equal(attack.scores, remote.attacks[name].scores)
    np.testing.assert_array_equal(local.membership, remote.membership)


def test_dask_backend_needs_a_scheduler(ofp_full, ofp_schema, monkeypatch):
    from synthguard import parallel

    monkeypatch.setattr(parallel, "DASK_CONNECT_TIMEOUT", "2s")  # nothing listens there: no need to wait 10 s
    with pytest.raises(SynthguardError, match="needs --scheduler"):
        audit(ofp_full.iloc[:60], Synthesizer(ofp_schema, **SMALL_NET), ofp_schema, backend="dask", **AUDIT)
    with pytest.raises(SynthguardError, match="cannot reach the Dask scheduler"):
        audit(ofp_full.iloc[:60], Synthesizer(ofp_schema, **SMALL_NET), ofp_schema, backend="dask",
              scheduler="tcp://127.0.0.1:1", **AUDIT)
