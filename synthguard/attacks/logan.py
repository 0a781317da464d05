"""LOGAN (Hayes et al. 2019). White-box: the victim's critic D(x, y) is the score (computed by
the model, see `Synthesizer.critic_statistics`). Black-box: the attacker trains a classifier to
tell the victim's synthetic rows from real reference rows it did not see; its probability of
"synthetic" is the score, since the generator reproduces its members best."""

from __future__ import annotations

import numpy as np
from sklearn.neural_network import MLPClassifier

from .registry import Attack, Scores, register_attack


def blackbox_scores(records: np.ndarray, synthetic: np.ndarray, reference: np.ndarray, seed: int = 0,
                    max_rows: int = 2000) -> np.ndarray:
    """P(synthetic | x) from an MLP trained on balanced synthetic vs reference rows. Without rows of
    either kind there is nothing to learn from: every record gets 0.5."""
    rng = np.random.default_rng(seed)
    n = min(len(synthetic), len(reference), max_rows)
    if n == 0:
        return np.full(len(records), 0.5)
    syn = synthetic[rng.choice(len(synthetic), n, replace=False)]
    ref = reference[rng.choice(len(reference), n, replace=False)]
    x = np.vstack([syn, ref])
    y = np.r_[np.ones(n), np.zeros(n)]
    # early stopping holds out a tenth of the rows, which needs a row of each kind: 10 of each at least
    clf = MLPClassifier(hidden_layer_sizes=(64, 64), max_iter=200, early_stopping=n >= 10, random_state=seed)
    clf.fit(x, y)
    return clf.predict_proba(records)[:, 1]


register_attack(Attack("logan", "logan", "critic", "LOGAN white-box: the victim's critic D(x,y)", ("critic",),
                       lambda data: Scores(data.stats["critic"], data.membership)))
register_attack(Attack("logan_bb", "logan", "data", "LOGAN black-box: classifier of synthetic vs real reference rows",
                       ("blackbox",), lambda data: Scores(data.stats["blackbox"], data.membership)))
