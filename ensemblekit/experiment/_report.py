"""A run read back, as lines for a terminal and as one self-contained HTML file."""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path

import numpy as np

from ..utils._optional import import_optional


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
        model = run.study["analyses"][kind]["model"]
        if kind == "bias_variance":
            for r in result:
                where = ", ".join(f"{k}={v!r}" for k, v in r.params.items())
                variance = r.net_variance if r.net_variance is not None else r.variance
                word = "net variance" if r.net_variance is not None else "variance"
                lines.append(
                    f"bias-variance of {model!r}{f' ({where})' if where else ''}, {r.loss} "
                    f"loss: {r.expected_loss:.4f} = bias {r.bias:.4f} + {word} {variance:.4f}"
                )
        elif kind == "size_curve":
            lines.append(
                f"ensemble size of {model!r}, {result.scoring}: {result.mean[0]:.4f} with 1 "
                f"member, {result.mean[-1]:.4f} with {result.sizes[-1]}"
            )
        elif kind == "uncertainty":
            parts = [
                f"mean {name} {getattr(result, name).mean():.4g}"
                for name in ("total", "aleatoric", "epistemic")
                if getattr(result, name) is not None
            ]
            lines.append(f"uncertainty of {model!r} on held-out rows: {', '.join(parts)}")
    return lines


def summary_lines(run) -> list[str]:
    """What ``ensemblekit show`` prints after the status line."""
    lines = []
    tables = run.comparison
    if tables is None:
        lines.append("No comparison yet: it needs two folds that every model has finished.")
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


def _pyplot():
    """matplotlib's pyplot, or an error that names the ``plot`` extra."""
    return import_optional("matplotlib.pyplot", "The HTML report")


def _cell(value, fmt: str = "{:.4f}", cls: str = "") -> str:
    """A table cell showing ``value`` rounded; the exact value is in ``data-value``."""
    shown = fmt.format(value) if isinstance(value, float | int | np.floating) else str(value)
    attr = f' class="{cls}"' if cls else ""
    return f'<td{attr} data-value="{html.escape(repr(value))}">{html.escape(shown)}</td>'


def _figure(fig) -> str:
    """A matplotlib figure as an embedded PNG."""
    plt = _pyplot()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<img alt="figure" src="data:image/png;base64,{data}">'


def _comparison_html(run) -> list[str]:
    tables = run.comparison
    out = [
        "<h2>Comparison</h2>",
        "<p>Per scorer: each model's mean over the folds with its interval, and its "
        "difference to the best with the p-value of the paired test named above each "
        "table, adjusted for the number of comparisons. The figures show every fold's score "
        "(dots) beside each mean, and each difference.</p>",
    ]
    if tables is None:
        out.append("<p>No comparison yet: it needs two folds that every model has finished.</p>")
        return out
    folds = len(run.common_folds())
    if folds < run.n_folds:
        out.append(f'<p class="incomplete">On the {folds} folds every model has finished.</p>')
    for scorer, table in tables.items():
        level = f"{table.confidence_level:.0%}"
        p_name = "p" if table.correction is None else f"p ({table.correction})"
        test = "corrected resampled t-test" if table.test == "corrected_ttest" else "t-test"
        out.append(f"<h3>{html.escape(scorer)}</h3><p>{len(table[0].scores)} folds, {test}.</p>")
        out.append(
            f'<table class="comparison" data-scorer="{html.escape(scorer)}"><tr><th>model</th>'
            f"<th>mean</th><th>{level} interval</th><th>difference to the best</th>"
            f"<th>{level} interval</th><th>{p_name}</th></tr>"
        )
        for row in table:
            best = row is table[0]
            cells = [
                f"<td>{html.escape(row.name)}</td>",
                _cell(row.mean),
                f"<td>[{row.ci_low:.4f}, {row.ci_high:.4f}]</td>",
                "<td>best</td>" if best else _cell(row.diff, "{:+.4f}"),
                "<td></td>" if best else f"<td>[{row.diff_low:+.4f}, {row.diff_high:+.4f}]</td>",
                "<td></td>"
                if best
                else _cell(row.pvalue_adjusted, "{:.3g}", "significant" if row.significant else ""),
            ]
            out.append(
                f'<tr{" class=best" if best else ""} data-model="{html.escape(row.name)}">'
                f"{''.join(cells)}</tr>"
            )
        out.append("</table>")
        out.append(f'<p class="summary">{html.escape(table.summary)}</p>')
        out.append(_figure(_comparison_figure(table)))
    return out


def _comparison_figure(table):
    """Every fold's score beside each mean (left), each model's difference (right)."""
    plt = _pyplot()
    height = 0.45 * len(table) + 1.6
    if len(table) == 1:
        fig, ax = plt.subplots(figsize=(6, height), constrained_layout=True)
        table.plot(ax=ax, kind="scores")
        return fig
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, height), constrained_layout=True)
    table.plot(ax=left, kind="scores")
    table.plot(ax=right, kind="difference")
    return fig


def _folds_html(run) -> list[str]:
    """Every fold's scores, as recorded."""
    head = "".join(f"<th>{html.escape(s)}</th>" for s in run.scorers)
    out = [
        "<details><summary>Scores of every fold</summary>",
        f'<table class="folds"><tr><th>model</th><th>fold</th>{head}</tr>',
    ]
    for model in run.models:
        for fold in range(run.n_folds):
            record = run.fold_record(model, fold)
            if record is None:
                continue
            cells = "".join(_cell(record["scores"][s]) for s in run.scorers)
            out.append(
                f'<tr data-model="{html.escape(model)}" data-fold="{fold}">'
                f"<td>{html.escape(model)}</td><td>{fold}</td>{cells}</tr>"
            )
    out.append("</table></details>")
    return out


def _calibration_html(run) -> list[str]:
    from ..metrics import ReliabilityDisplay

    plt = _pyplot()
    calibration = run.calibration
    if not calibration:
        return []
    settings = run.study["analyses"]["calibration"]
    out = [
        "<h2>Calibration</h2>",
        "<p>Of the out-of-fold probabilities, every fold pooled: the expected calibration "
        f"error ({settings['n_bins']} {settings['strategy']} bins, top label) and the "
        "multiclass Brier score, lower is better.</p>",
        '<table class="calibration"><tr><th>model</th><th>ECE</th><th>Brier</th></tr>',
    ]
    for model, values in calibration.items():
        out.append(
            f'<tr data-model="{html.escape(model)}"><td>{html.escape(model)}</td>'
            f"{_cell(values['ece'])}{_cell(values['brier'])}</tr>"
        )
    out.append("</table>")
    pooled = {m: run.out_of_fold(m) for m in calibration}
    y = next(iter(pooled.values()))[0]
    fig, ax = plt.subplots(figsize=(5.5, 5), constrained_layout=True)
    ReliabilityDisplay.from_predictions(
        y,
        {m: p for m, (_, p) in pooled.items()},
        n_bins=settings["n_bins"],
        strategy=settings["strategy"],
        labels=np.arange(len(run.study["data"]["classes"])),
        ax=ax,
    )
    out.append(_figure(fig))
    return out


def _analyses_html(run) -> list[str]:
    from ..model_selection import BiasVarianceDisplay

    plt = _pyplot()
    out = []
    for kind, result in run.analyses.items():
        settings = run.study["analyses"][kind]
        model = html.escape(settings["model"])
        if kind == "bias_variance":
            out.append(f"<h2>Bias and variance of {model}</h2>")
            out.append(
                f"<p>{settings['n_rounds']} bootstrap rounds on {1 - settings['test_size']:.0%} "
                f"of the rows, scored on the other {settings['test_size']:.0%}; "
                f"{html.escape(result[0].loss)} loss.</p>"
            )
            out.append(_bias_variance_table(result))
            if len(result) > 1:
                fig, ax = plt.subplots(figsize=(6, 4), constrained_layout=True)
                BiasVarianceDisplay.from_result(result, ax=ax)
                out.append(_figure(fig))
        elif kind == "size_curve":
            out.append(f"<h2>Ensemble size of {model}</h2>")
            out.append(
                f"<p>{html.escape(result.scoring)} of the first k members on held-out rows, "
                f"over {len(result.scores)} orderings: {result.mean[0]:.4f} with one member, "
                f"{result.mean[-1]:.4f} with {result.sizes[-1]}.</p>"
            )
            fig, ax = plt.subplots(figsize=(6, 4), constrained_layout=True)
            result.plot(ax=ax)
            out.append(_figure(fig))
        elif kind == "uncertainty":
            out += _uncertainty_html(run, model, result)
    return out


def _bias_variance_table(results) -> str:
    names = [n for n in results[0].params] or ["model"]
    head = "".join(f"<th>{html.escape(n)}</th>" for n in names)
    rows = [
        f'<table class="bias-variance"><tr>{head}<th>expected loss</th><th>bias</th>'
        "<th>variance</th><th>net variance</th></tr>"
    ]
    for r in results:
        keys = "".join(f"<td>{html.escape(repr(r.params[n]))}</td>" for n in r.params) or (
            "<td>as given</td>"
        )
        net = "<td></td>" if r.net_variance is None else _cell(r.net_variance)
        rows.append(
            f"<tr>{keys}{_cell(r.expected_loss)}{_cell(r.bias)}{_cell(r.variance)}{net}</tr>"
        )
    rows.append("</table>")
    return "".join(rows)


def _uncertainty_html(run, model: str, result) -> list[str]:
    plt = _pyplot()
    record = run.analysis_record("uncertainty")
    y_true = np.asarray(record["y_true"]["array"])
    out = [f"<h2>Uncertainty of {model}</h2>"]
    names = [n for n in ("total", "aleatoric", "epistemic") if getattr(result, n) is not None]
    means = ", ".join(f"{n} {getattr(result, n).mean():.4g}" for n in names)
    out.append(f"<p>Per held-out row, mean over {len(result.total)} rows: {means}.</p>")
    fig, axes = plt.subplots(1, len(names), figsize=(4.2 * len(names), 3.4), squeeze=False)
    if run.study["task"] == "classification":
        classes = np.asarray(run.study["data"]["classes"])
        right = classes[result.prediction.argmax(axis=1)] == y_true
        groups = {"right": right, "wrong": ~right}
    else:
        groups = {"held-out rows": np.ones(len(result.total), dtype=bool)}
    for ax, name in zip(axes[0], names, strict=True):
        values = getattr(result, name)
        low, high = float(values.min()), float(values.max())
        bins = np.linspace(low, max(high, low + 1e-12), 25)
        for label, rows in groups.items():
            if rows.any():
                ax.hist(values[rows], bins=bins, alpha=0.6, label=f"{label} ({rows.sum()})")
        ax.set_title(name)
        ax.legend()
    fig.tight_layout()
    if len(groups) == 2:
        out.append(
            "<p>Rows the ensemble gets wrong should carry more uncertainty than the rows it "
            "gets right.</p>"
        )
    out.append(_figure(fig))
    return out


def write_report(run, path: Path) -> Path:
    """Write ``run``'s HTML report at ``path``; figures embedded, nothing else to copy."""
    _pyplot()
    study = run.study
    title = html.escape(study["name"])
    status_class = "status" if run.complete else "status incomplete"
    parts = [
        "<!DOCTYPE html>",
        f'<html lang="en"><head><meta charset="utf-8"><title>{title}</title>',
        f"<style>{_STYLE}</style></head><body>",
        f"<h1>{title}</h1>",
        f'<p class="{status_class}">{html.escape(run.progress)}</p>',
        f"<p>Data: {html.escape(study['data']['description'])}, "
        f"{study['data']['n_samples']} rows x {study['data']['n_features']} features. "
        f"Splits: {html.escape(study['cv']['description'])}. "
        f"Models: {html.escape(', '.join(run.models))}.</p>",
    ]
    parts += _comparison_html(run)
    parts += _folds_html(run)
    parts += _calibration_html(run)
    parts += _analyses_html(run)
    parts.append("<h2>The study</h2>")
    if study.get("study_text"):
        source = html.escape(study.get("source") or "")
        text = html.escape(study["study_text"], quote=False)
        parts.append(f"<p>{source}</p><pre>{text}</pre>")
    else:
        parts.append("<p>Built in Python; its models as the run recorded them:</p>")
        parts.append(
            "<pre>"
            + html.escape("\n".join(f"{n}: {spec}" for n, spec in study["models"].items()))
            + "</pre>"
        )
    rows = "".join(
        f"<tr><td>{html.escape(k)}</td><td>{html.escape(v)}</td></tr>"
        for k, v in study["versions"].items()
    )
    parts.append(f'<h2>Versions</h2><table class="versions">{rows}</table>')
    parts.append("</body></html>")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(parts), encoding="utf-8")
    return path
