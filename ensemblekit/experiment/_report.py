"""A run read back, as lines for a terminal and as one self-contained HTML file."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import jinja2
import markupsafe
import numpy as np

from ._analyses import ANALYSES, FITTED
from ._kit import pyplot
from ._store import write_atomic


def analysis_lines(run) -> list[str]:
    """One line per analysis, in words."""
    lines = []
    calibration = run.calibration
    if calibration:
        bins = run.study["analyses"]["calibration"]["n_bins"]
        parts = ", ".join(
            f"{m} ECE {c['ece']:.4f} / Brier {c['brier']:.4f}" for m, c in calibration.items()
        )
        lines.append(f"calibration of the out-of-fold probabilities ({bins} bins): {parts}")
    for kind, result in run.analyses.items():
        lines += FITTED[kind].lines(run.study["analyses"][kind]["model"], result)
    return lines


def missing_line(run) -> str | None:
    """The scores a run folder holds as NaN or inf, shown as missing (the first ten)."""
    missing = run.missing_scores
    if not missing:
        return None
    named = ", ".join(f"{model} fold {fold} {scorer}" for model, fold, scorer in missing[:10])
    more = f" and {len(missing) - 10} more" if len(missing) > 10 else ""
    return (
        f"Missing scores (not a number in the run folder), left out of the comparison: "
        f"{named}{more}."
    )


def summary_lines(run) -> list[str]:
    """What ``ensemblekit show`` prints after the status line."""
    lines = []
    tables = run.comparison
    if missing := missing_line(run):
        lines.append(missing)
    if tables is None:
        lines.append(
            "No comparison yet: it needs two folds that every model has finished and scored."
        )
    else:
        folds = len(run.common_folds())
        if folds < run.n_folds:
            lines.append(f"On the {folds} folds every model has finished so far:")
        lines.append(str(tables))
    analyses = analysis_lines(run)
    if analyses:
        lines += ["", *analyses]
    return lines


# ------------------------------------------------------------------ HTML

_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem auto;
       max-width: 70rem; padding: 0 1rem; color: #1f2328; line-height: 1.45; }
h1 { font-size: 1.6rem; margin-bottom: .2rem; } h2 { margin-top: 2.2rem; font-size: 1.25rem;
     border-bottom: 1px solid #d0d7de; padding-bottom: .2rem; }
.status { color: #57606a; } .incomplete { color: #9a6700; font-weight: 600; }
table { border-collapse: collapse; margin: .6rem 0; font-variant-numeric: tabular-nums; }
th, td { padding: .25rem .7rem; border-bottom: 1px solid #d8dee4; text-align: right; }
th:first-child, td:first-child { text-align: left; } th { background: #f6f8fa; }
tr.best td { font-weight: 600; } td.significant { color: #cf222e; }
.summary { max-width: 52rem; } img { max-width: 100%; height: auto; margin: .5rem 0; }
pre { background: #f6f8fa; padding: .8rem; overflow-x: auto; font-size: .85rem; }
details { margin: .6rem 0; } summary { cursor: pointer; color: #0969da; }
"""
#: What the page may load: its own style and embedded PNG figures; no script, no request.
_STYLE_HASH = base64.b64encode(hashlib.sha256(_STYLE.encode()).digest()).decode()
_POLICY = (
    f"default-src 'none'; img-src data:; style-src 'sha256-{_STYLE_HASH}'; base-uri 'none'; "
    "form-action 'none'"
)


def _fmt(value, spec: str) -> str:
    """A number in ``spec``; anything else is refused (the run folder was checked). The
    spec "p" is a p-value's: three decimals, or scientific below 0.001, so a column never
    shows 1 beside 1.46e-05; a zero is never signed negative."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise TypeError(f"the report shows numbers here, got {type(value).__name__}")
    if spec == "p":
        spec = ".1e" if value < 0.001 else ".3f"
    text = format(value, spec)
    if text.startswith("-") and float(text) == 0:
        text = ("+" if "+" in spec else "") + text[1:]  # "-0.0000" is "0.0000"
    return text


def _exact(value) -> str:
    """The exact value of a cell, for a script that reads the report back."""
    _fmt(value, "")  # a number, or refused
    return repr(float(value))


def _folds(run) -> list[dict]:
    """Every fold's scores, as recorded."""
    return [
        {"model": model, "fold": fold, "scores": [record["scores"][s] for s in run.scorers]}
        for model in run.models
        for fold in range(run.n_folds)
        if (record := run.fold_record(model, fold)) is not None
    ]


def _analyses(run) -> list[dict]:
    """Each fitted analysis's section: its settings and what its template shows."""
    out = []
    for kind, result in run.analyses.items():
        settings = run.study["analyses"][kind]
        out.append({"kind": kind, **settings, **FITTED[kind].section(run, result, settings)})
    return out


def render_report(run) -> str:
    """``run``'s report as one self-contained HTML page (figures embedded, no script)."""
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("ensemblekit.experiment", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    environment.filters["fmt"] = _fmt
    environment.filters["exact"] = _exact
    study = run.study
    return environment.get_template("report.html").render(
        policy=_POLICY,
        style=markupsafe.Markup(_STYLE),
        name=study["name"],
        complete=run.complete,
        progress=run.progress,
        data=study["data"],
        cv=study["cv"]["description"],
        models=run.models,
        scorers=run.scorers,
        n_folds=run.n_folds,
        common_folds=len(run.common_folds()),
        missing=missing_line(run),
        comparison=ANALYSES["comparison"].section(run),
        folds=_folds(run),
        calibration=ANALYSES["calibration"].section(run),
        analyses=_analyses(run),
        study_text=study.get("study_text"),
        source=study.get("source") or "",
        study_models=study["models"],
        versions=study["versions"],
    )


def write_report(run, path: Path) -> Path:
    """Write ``run``'s HTML report at ``path``, whole or not at all, never through a link."""
    pyplot()
    text = render_report(run)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, text)
    return path
