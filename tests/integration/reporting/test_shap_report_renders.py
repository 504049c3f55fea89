"""The SHAP report renders with its plots in a real browser (headless Chromium).

Saves the screenshot to ``test-artifacts/shap_report.png`` so a person can look at it. Skipped
only where no Chromium is installed (``.ci/run`` installs Debian's ``chromium``).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[3]
ARTIFACTS = PROJECT_ROOT / "test-artifacts"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def _report_html() -> str:
    import xgboost as xgb

    from mlplatform.modeling.explain import compute_shap_values
    from mlplatform.reporting.shap_report import render_shap_report

    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(600, 4)), columns=["tenure", "charges", "calls", "age"])
    label = (frame["tenure"] * -1.5 + frame["calls"] + rng.normal(size=600) > 0).astype(int)
    booster = xgb.train(
        {"objective": "binary:logistic", "max_depth": 3, "nthread": 1, "seed": 0},
        xgb.DMatrix(frame, label=label),
        num_boost_round=20,
    )
    result = compute_shap_values(booster, frame)
    return render_shap_report(result, model_name="browser_check", model_version=7, metrics={"auc": 0.9})


def _screenshot(page: Path, shot: Path, profile: Path) -> None:
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--hide-scrollbars",
        "--window-size=1280,3000",
        f"--screenshot={shot}",
    ]
    result = subprocess.run([CHROMIUM, *flags, page.as_uri()], capture_output=True, text=True, timeout=120)
    assert shot.exists(), result.stderr[-2000:]


def _coloured_share(shot: Path) -> float:
    """Share of pixels with a strong hue: SHAP's red/blue plots; text and rules are grey."""
    import matplotlib.image as mpimg

    image = mpimg.imread(shot)[..., :3]
    return float(((image.max(axis=2) - image.min(axis=2)) > 0.3).mean())


@pytest.mark.skipif(CHROMIUM is None, reason="no Chromium on PATH (apt-get install chromium)")
def test_shap_report_renders_its_plots_in_chromium(tmp_path: Path) -> None:
    import re

    html = _report_html()
    assert html.count('src="data:image/png;base64,') >= 5
    page, bare = tmp_path / "shap_report.html", tmp_path / "no_images.html"
    page.write_text(html)
    bare.write_text(re.sub(r'src="data:image/png;base64,[^"]*"', 'src=""', html))
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "shap_report.png"
    shot.unlink(missing_ok=True)
    _screenshot(page, shot, tmp_path / "profile")
    _screenshot(bare, tmp_path / "no_images.png", tmp_path / "profile")
    with_plots, without_plots = _coloured_share(shot), _coloured_share(tmp_path / "no_images.png")
    assert without_plots < 0.001, f"the page without images is {without_plots:.2%} coloured"
    assert with_plots > 0.01, (
        f"the rendered report is only {with_plots:.2%} coloured: its plots did not render"
    )
