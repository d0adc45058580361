"""The ``ensemblekit`` command: run a study file, report on a run, show its table."""

from __future__ import annotations

import argparse
import contextlib
import sys
import warnings

_DESCRIPTION = """\
Run a study described in a TOML file: several models scored on the same cross-validation
folds, compared with corrected intervals, plus the analyses the file asks for.

  ensemblekit run study.toml --out runs/first     fit and score, fold by fold
  ensemblekit show runs/first                     the comparison table, in the terminal
  ensemblekit report runs/first                   one HTML file with the figures
  ensemblekit export runs/first --mlflow URI      the run in MLflow, a child run per model

Every finished fold is saved in the run folder at once. If a run stops (Ctrl-C, a crash,
a killed job), run the same command again: it skips what is done and finishes the rest.

A study file is code you choose to run: building what it names runs that code. A file may
name estimators, torch modules, losses, optimizers and schedulers, skorch callbacks,
splitters and sklearn.datasets load_*/make_* functions of ensemblekit, scikit-learn, torch,
skorch and imbalanced-learn; anything else (your own module) only with --trust MODULE.
Without --trust, nothing a study file names may read a file other than the data it
declares, write outside the run folder, reach the network or unpickle anything. show and
report only read a run folder: they import nothing and load no pickle.
"""

_STUDY_EXAMPLE = """\
A study file, for example:

  name = "nets on digits"
  random_state = 0
  scoring = ["accuracy", "neg_log_loss"]

  [data]
  dataset = "digits"            # or path = "data.csv" with target = "label"

  [cv]
  splitter = "StratifiedKFold"
  n_splits = 5
  shuffle = true

  [models.logistic]
  pipeline = ["sklearn.preprocessing.StandardScaler",
              {class = "sklearn.linear_model.LogisticRegression", max_iter = 1000}]

  [models.net]
  class = "ensemblekit.nets.NeuralNetClassifier"
  max_epochs = 20

  [analyses.calibration]
"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ensemblekit",
        description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    run = commands.add_parser(
        "run",
        help="run a study file (resumes an unfinished run)",
        description="Fit and score every model on every fold of a study, saving each fold "
        "as it finishes, then run the study's analyses. Rerun to resume.\n\n" + _STUDY_EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument("study", metavar="STUDY.toml", help="the study file")
    run.add_argument(
        "--out",
        metavar="RUN_DIR",
        help="run folder (default: runs/<the study file's name>, runs/<name>-quick with --quick)",
    )
    run.add_argument(
        "--restart", action="store_true", help="discard the folder's records and start over"
    )
    run.add_argument(
        "--quick", action="store_true", help="apply the file's [quick] table: a smoke test"
    )
    run.add_argument("--n-jobs", type=int, metavar="N", help="parallel workers (overrides n_jobs)")
    run.add_argument(
        "--backend",
        metavar="NAME",
        help="joblib backend: loky (default), threading, dask, ray",
    )
    run.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="join a cluster instead of starting one on this machine: a Dask scheduler "
        "(tcp://host:8786) or a Ray cluster (host:6379, or auto)",
    )
    run.add_argument(
        "--trust",
        action="append",
        default=[],
        type=_module_name,
        metavar="MODULE",
        help="let the study file name anything from MODULE (your own estimators, loaders); "
        "repeatable, and a package trusts its submodules",
    )
    run.add_argument(
        "--no-wait",
        action="store_true",
        help="exit at once if another run is writing the folder, instead of waiting",
    )
    run.add_argument(
        "--report", action="store_true", help="write the HTML report when the run ends"
    )
    run.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    report = commands.add_parser(
        "report",
        help="write a run's HTML report",
        description="Write one self-contained HTML file (figures embedded) from a run "
        "folder: the comparison, every fold's scores, the analyses, the study and the "
        "library versions. Needs matplotlib.",
    )
    report.add_argument("run_dir", metavar="RUN_DIR")
    report.add_argument(
        "-o", "--output", metavar="FILE", help="where to write it (default: RUN_DIR/report.html)"
    )
    show = commands.add_parser(
        "show",
        help="print a run's comparison table",
        description="Print what a run folder holds: folds done, the comparison table, the "
        "analyses in one line each.",
    )
    show.add_argument("run_dir", metavar="RUN_DIR")
    export = commands.add_parser(
        "export",
        help="export a run to MLflow",
        description="Export a run folder to MLflow: a parent run for the study (its "
        "versions, the study file and the report as artifacts) and a child run per model "
        "(its parameters, every fold's scores, the mean and interval). Exporting again "
        "updates those runs. Needs mlflow: pip install 'ensemblekit[mlflow]'.",
    )
    export.add_argument("run_dir", metavar="RUN_DIR")
    export.add_argument(
        "--mlflow",
        metavar="URI",
        required=True,
        help="MLflow tracking URI: http://host:5000, sqlite:///mlflow.db, ...",
    )
    export.add_argument(
        "--experiment", metavar="NAME", help="MLflow experiment (default: the study's name)"
    )
    return parser


def _module_name(text: str) -> str:
    """A ``--trust`` value: a module name, or argparse's usage error saying what is one."""
    from ._trust import check_trust

    try:
        return check_trust([text])[0]
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


#: The extra that installs each backend's package, for the message when it is missing.
_EXTRAS = {"dask": ("distributed", "distributed"), "ray": ("ray", "ray")}


def _import_backend(backend: str):
    """The package a backend needs, or an ImportError that names the extra to install."""
    import importlib

    module, extra = _EXTRAS[backend]
    try:
        return importlib.import_module(module)
    except ImportError:
        raise ImportError(
            f"--backend {backend} needs {module}, which is not installed: "
            f"pip install 'ensemblekit[{extra}]'"
        ) from None


def _backend(args):
    """The joblib backend the command line asks for, as a context: for Dask a client of
    the scheduler at ``--scheduler`` (or of a new local cluster), for Ray the cluster at
    ``--scheduler`` (or a new local one)."""
    if args.backend is None and args.scheduler is None:
        return contextlib.nullcontext()
    from joblib import parallel_config

    backend = args.backend or "dask"
    stack = contextlib.ExitStack()
    if backend in ("dask", "ray"):  # a cluster takes seconds to minutes to start
        where = args.scheduler or "a new local cluster"
        _say(args, f"Connecting to {backend.title()} at {where}...")
    if backend == "dask":
        distributed = _import_backend("dask")
        client = distributed.Client(args.scheduler) if args.scheduler else distributed.Client()
        stack.enter_context(client)
    elif backend == "ray":
        ray = _import_backend("ray")
        from ray.util.joblib import register_ray

        register_ray()
        if not ray.is_initialized():
            ray.init(address=args.scheduler, log_to_driver=False)
            stack.callback(ray.shutdown)
    elif args.scheduler is not None:
        raise ImportError(f"--scheduler needs --backend dask or ray, not {backend}.")
    stack.enter_context(parallel_config(backend=backend))
    return stack


def _run(args) -> int:
    from pathlib import Path

    from ._experiment import Experiment, StudyChangedError, quick_mode

    quick = quick_mode(args.quick or None)
    experiment = Experiment.from_toml(args.study, quick=quick, trust=args.trust)
    experiment.verbose = 0 if args.quiet else 1
    # A quick run has its own folder, so the full study after it starts afresh.
    default = Path(args.study).stem + ("-quick" if quick else "")
    out = Path(args.out) if args.out else Path("runs") / default
    with _backend(args):
        if args.n_jobs is not None:
            experiment.n_jobs = args.n_jobs
        elif args.backend == "ray" and experiment.n_jobs is None:
            experiment.n_jobs = -1  # joblib's Ray backend takes one worker unless told
        try:
            experiment.run(out, restart=args.restart, wait=not args.no_wait)
        except StudyChangedError as error:
            raise StudyChangedError(
                error.folder, error.changes, "run again with --restart to discard the old records"
            ) from None
    run = experiment.run_
    print(run)
    if args.report:
        _say(args, "Writing the report (a figure per analysis)...")
        print(f"Report: {run.report()}")
    else:
        print(f"\nSaved in {out}. Report: ensemblekit report {out}")
    return 0


def main(argv=None) -> int:
    """The ``ensemblekit`` command line; returns its exit status."""
    args = _parser().parse_args(argv)
    # A warning names what it is about (the model, the fold), not a line of this program.
    with warnings.catch_warnings():
        warnings.showwarning = _show_warning
        return _main(args)


def _say(args, line: str) -> None:
    """A step that takes a while says so first, on stderr (not with -q)."""
    if not getattr(args, "quiet", False):
        print(line, file=sys.stderr, flush=True)


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    from tqdm import tqdm  # above a progress bar, if one is drawn

    tqdm.write(f"{category.__name__}: {message}", file=file or sys.stderr)


def _main(args) -> int:
    from ._checker import StudyError
    from ._kit import RunFolderError
    from ._mlflow import MlflowExportError
    from ._records import load_run

    try:
        if args.command == "run":
            return _run(args)
        run = load_run(args.run_dir)
        if args.command == "show":
            print(run)
        elif args.command == "export":
            _say(args, f"Exporting to MLflow at {args.mlflow}: the report, then a run per model...")
            run_id = run.to_mlflow(args.mlflow, args.experiment)
            progress = run.progress.split(";")[0].rstrip(".")
            print(
                f"Exported {run.study['name']!r} ({progress}) to MLflow at {args.mlflow}: "
                f"parent run {run_id}."
            )
        else:
            _say(args, "Writing the report (a figure per analysis)...")
            print(f"Report: {run.report(args.output)}")
        return 0
    except (StudyError, RunFolderError, MlflowExportError, OSError, ImportError) as error:
        print(f"ensemblekit {args.command}: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            "\nStopped. Every finished fold is saved: run the same command again to go on.",
            file=sys.stderr,
        )
        return 130
