"""The confidence model's fit: a feature that separates over a narrow range (a cosine) gets its weight,
and the dev sets' real-shaped questions join the fit."""

from __future__ import annotations

import numpy as np

from knowledge.calibrate import DEV_WEIGHT, Sample, calibrate, fit
from knowledge.evaluate import Case
from knowledge.schema import bundled_dir, load_knowledge


def test_a_narrow_feature_that_separates_is_weighted() -> None:
    rng = np.random.default_rng(1)

    def sample(cosine: float, right: bool) -> Sample:
        return Sample({"semantic": float(cosine + rng.normal(0, 0.01)), "coverage": float(rng.uniform())}, right, True)

    samples = [sample(0.84, True) for _ in range(200)] + [sample(0.80, False) for _ in range(200)]
    calibration = fit(samples, ["semantic", "coverage"])
    told_apart = sum((calibration.confidence(s.features) >= 0.5) == s.correct for s in samples)
    # Plain gradient steps on raw features left the cosine nearly unweighted: 58% told apart.
    assert told_apart / len(samples) >= 0.95


def test_dev_cases_join_the_fit_but_not_the_threshold() -> None:
    root = bundled_dir()
    kb = load_knowledge(root)
    dev = [Case("会社だけで応募できますか?", "eligibility.company-alone", "dev.yaml"),
           Case("明日の天気は?", None, "dev.yaml"),
           Case("第5弾の締切は?", None, "dev.yaml", facts=(), handoff=True)]  # hand-off cases say nothing here
    plain, plain_stats = calibrate(kb, root / "calibration_oos.yaml")
    fitted, stats = calibrate(kb, root / "calibration_oos.yaml", dev=dev)
    assert plain_stats["dev_cases"] == 0 and stats["dev_cases"] == 2
    assert fitted.weights != plain.weights and DEV_WEIGHT > 1
