"""`audit()` reads the caller's AuditConfig and never changes it: keyword options go into a copy."""

from __future__ import annotations

from dataclasses import asdict

import pytest

from synthguard.attacks.calibration import Memoriser
from synthguard.audit import AuditConfig, audit
from synthguard.errors import SynthguardError


def test_keyword_options_leave_the_callers_config_unchanged(ofp_full, ofp_schema):
    config = AuditConfig(n_shadows=6, n_targets=40, threat_model="data")
    before = asdict(config)
    result = audit(ofp_full.iloc[:120], Memoriser(ofp_schema), ofp_schema, config, n_shadows=4, n_targets=20,
                   seed=7, workers=1, synthetic_rows=500, n_bootstrap=50)
    assert asdict(config) == before
    assert result.config is not config
    assert (result.config.n_shadows, result.config.n_targets, result.config.seed) == (4, 20, 7)
    assert result.config.threat_model == "data"  # what the options leave alone comes from the caller's config


def test_a_bad_option_is_refused_and_leaves_the_config_unchanged(ofp_full, ofp_schema):
    config = AuditConfig()
    before = asdict(config)
    with pytest.raises(SynthguardError, match="even and at least 4"):
        audit(ofp_full.iloc[:120], Memoriser(ofp_schema), ofp_schema, config, n_shadows=5)
    assert asdict(config) == before

