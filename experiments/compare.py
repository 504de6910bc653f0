"""The small models and the CNNs side by side: test accuracy, parameter count and training
time, on MNIST and Fashion-MNIST, as a table (comparison.md, comparison.json) and a bar chart
(comparison.png).

    python -m experiments.compare [--data-dir DIR] [--out DIR]       train every model, then compare
    python -m experiments.compare --runs RUN_DIR [RUN_DIR ...]       compare finished runs

Training writes each run to OUT/<model>-<dataset>/; a run folder that already holds a
metrics.json is read instead of trained again, and one that holds only a checkpoint is resumed,
so an interrupted comparison picks up where it stopped.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from data import DATASETS
from experiments.cli import DATA_DIR_ENV
from experiments.cluster import Cluster, start_cluster
from experiments.common import saved_config, saved_run_data_dirs
from experiments.config import for_dataset
from experiments.finish import finish_run
from experiments.fit import fit
from experiments.options import CliParser, positive_int
from experiments.outcome import FileError, UsageError, guarded
from experiments.plots import pyplot, save
from experiments.registry import EXPERIMENTS
from experiments.rundir import CHECKPOINT, prepare_out_dir, write_json, writing
from experiments.start import announce, start_run

COMPARED = [name for name in EXPERIMENTS if name != "best"]  # the README's table


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = CliParser(
        prog="python -m experiments.compare",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--runs",
        nargs="+",
        metavar="RUN_DIR",
        help="compare these finished run folders instead of training",
    )
    p.add_argument(
        "--models",
        nargs="+",
        choices=list(EXPERIMENTS),
        default=COMPARED,
        help=f"default: {' '.join(COMPARED)} (best takes minutes per dataset: ask for it)",
    )
    p.add_argument("--datasets", nargs="+", choices=sorted(DATASETS), default=list(DATASETS))
    p.add_argument("--data-dir", metavar="DIR", help="data root (see experiments.cnn --help)")
    p.add_argument("--epochs", type=positive_int, help="override every model's epochs")
    p.add_argument(
        "--subset",
        type=positive_int,
        metavar="N",
        help="first N training and test examples only (a quick run)",
    )
    p.add_argument(
        "--devices",
        type=positive_int,
        metavar="N",
        help="train data-parallel over the first N devices (default: all)",
    )
    p.add_argument("--offline", action="store_true", help="never download the datasets")
    p.add_argument(
        "--out",
        default="runs/compare",
        metavar="DIR",
        help="folder for the runs and the comparison (default: %(default)s)",
    )
    return p.parse_args(argv)


def train_all(args: argparse.Namespace, out: Path, env_data_dir: str | None) -> list[dict]:
    placement = start_cluster(Cluster(devices=args.devices))
    results = []
    for dataset in args.datasets:
        for name in args.models:
            folder = out / f"{name}-{dataset}"
            if (folder / "metrics.json").is_file():
                print(f"== {name} on {dataset}: reading the finished run in {folder}")
                results += read_runs([str(folder)])
                continue
            module = EXPERIMENTS[name]
            cfg = replace(
                for_dataset(module.DEFAULTS, dataset, getattr(module, "BY_DATASET", None)),
                data_dir=args.data_dir,
                out=str(folder),
                offline=args.offline,
                subset=args.subset or 0,
            )
            if args.epochs:
                cfg = replace(cfg, epochs=args.epochs)
            resume = (folder / CHECKPOINT).is_file()
            if resume:
                print(f"== {name} on {dataset}: resuming the unfinished run in {folder}")
                cfg, meta = saved_config(folder / CHECKPOINT, name, cfg)
                dirs = saved_run_data_dirs(args.data_dir, env_data_dir, dataset, meta)
            else:
                print(f"== {name} on {dataset}: {cfg.epochs} epochs at batch {cfg.batch_size}")
                dirs = [d for d in (args.data_dir, env_data_dir) if d]
            folder, _ = prepare_out_dir(str(folder), name)
            cfg = replace(cfg, out=str(folder))
            run = start_run(name, module.build_model, cfg, folder, data_dirs=dirs,
                            resume=resume, placement=placement)  # fmt: skip
            announce(run, placement)
            results.append(finish_run(fit(run, placement), placement))
    return results


def read_runs(dirs: Sequence[str]) -> list[dict]:
    results = []
    for d in dirs:
        path = Path(d) / "metrics.json"
        try:
            results.append(json.loads(path.read_text()))
        except FileNotFoundError:
            raise UsageError(f"{path} not found; is {d} a finished run folder?") from None
        except json.JSONDecodeError as e:
            raise UsageError(f"{path} is not valid JSON ({e})") from None
        except OSError as e:
            raise FileError(f"cannot read {path}: {e.strerror or e}") from None
    return results


def rows_of(results: list[dict]) -> list[dict]:
    return [{
        "model": r["experiment"],
        "dataset": r["config"]["dataset"],
        "test_accuracy": r["test_accuracy"],
        "parameters": r["parameters"],
        "train_seconds": r["train_seconds"],
        "epochs": r["config"]["epochs"],
        "batch_size": r["config"]["batch_size"],
        "subset": r["config"].get("subset", 0),
    } for r in results]  # fmt: skip


def table(rows: list[dict]) -> str:
    lines = [
        "| model | dataset | test accuracy | parameters | training seconds | epochs | batch |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['model']} | {r['dataset']} | {100 * r['test_accuracy']:.2f}% | "
            f"{r['parameters']:,} | {r['train_seconds']:.1f} | {r['epochs']} | "
            f"{r['batch_size']} |"
        )
    return "\n".join(lines)


def chart(rows: list[dict], path: Path) -> Path | None:
    plt = pyplot()
    if plt is None:
        return None
    models = list(dict.fromkeys(r["model"] for r in rows))
    datasets = list(dict.fromkeys(r["dataset"] for r in rows))
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
    width = 0.8 / len(datasets)
    for ax, (key, label) in zip(
        axes,
        [
            ("test_accuracy", "test accuracy (%)"),
            ("parameters", "parameters"),
            ("train_seconds", "training seconds"),
        ],
        strict=True,
    ):
        for j, dataset in enumerate(datasets):
            by_model = {r["model"]: r[key] for r in rows if r["dataset"] == dataset}
            xs = [i + j * width for i, m in enumerate(models) if m in by_model]
            vals = [
                by_model[m] * (100 if key == "test_accuracy" else 1)
                for m in models
                if m in by_model
            ]
            bars = ax.bar(xs, vals, width, label=dataset)
            fmt = "{:.1f}" if key != "parameters" else "{:,.0f}"
            ax.bar_label(bars, [fmt.format(v) for v in vals], fontsize=7, rotation=90, padding=2)
        ax.set_xticks([i + width * (len(datasets) - 1) / 2 for i in range(len(models))], models)
        ax.set_title(label)
        if key == "parameters":
            ax.set_yscale("log")
        if key == "test_accuracy":
            low = min(r[key] for r in rows) * 100
            ax.set_ylim(max(0, low - 5), 100.5)
        ax.legend(fontsize=8)
        ax.margins(y=0.15)
    fig.suptitle("The models side by side")
    return save(plt, fig, path)


def compare(args: argparse.Namespace) -> None:
    if args.runs:
        results = read_runs(args.runs)  # validate before creating anything
        out, _ = prepare_out_dir(args.out, "compare")
    else:
        out, _ = prepare_out_dir(args.out, "compare")
        results = train_all(args, out, os.environ.get(DATA_DIR_ENV) or None)
    rows = rows_of(results)
    text = table(rows)
    print(text)
    write_json(out / "comparison.json", {"rows": rows})
    with writing(out / "comparison.md"):
        (out / "comparison.md").write_text(text + "\n")
    with writing(out / "comparison.png"):
        figure = chart(rows, out / "comparison.png")
    print(f"Wrote comparison.md, comparison.json{' and comparison.png' if figure else ''} to {out}")


if __name__ == "__main__":
    sys.exit(guarded(lambda: compare(parse_args(None))))
