"""nnlm's defaults on many kinds of data: `nnlm train FILE` with no flags on every list of
benchmarks/datalists.py (public lists that PyPI packages ship offline: names in several
scripts, places, companies, countries, words of several languages; 280 to 150,000 items)
and on the bundled names.txt, against the best Kneser-Ney n-gram (order chosen on dev) on
the same split.

    python benchmarks/any_data.py                  # every list: about 40 minutes on 2 cores
    python benchmarks/any_data.py --lists countries words_ja

For each list: items, distinct characters, nnlm's test loss (its default predictor: the
model mixed with a Kneser-Ney model where that is better on dev) and its model's alone, the
Kneser-Ney test loss and order, the wall-clock seconds of the whole `nnlm train` command,
and the share of 1,000 samples (`nnlm sample RUN -n 1000`) that are not training items.
Writes benchmarks/results/any_data.md.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import datalists
import torch

import nnlm
from nnlm.data.sources import read_source
from nnlm.data.text import bundled_names_path, read_items
from nnlm.ngram.baseline import choose_order, ngram_eval
from nnlm.settings.data import DataConfig

RESULTS = Path(__file__).parent / "results" / "any_data.md"
LIMITS = ((100_000, 180.0), (None, 600.0))  # items -> the wall-clock target of the issue


def limit(items: int) -> float:
    return next(seconds for most, seconds in LIMITS if most is None or items <= most)


def kneser_ney(path: Path) -> tuple[float, int]:
    """(test loss, order) of the Kneser-Ney model whose order is best on dev, on nnlm's split."""
    source = read_source(str(path), DataConfig())
    choice = choose_order(source)
    return ngram_eval(choice.model, source.windows("test", max(choice.order - 1, 1))).loss, choice.order


def train_default(path: Path, run: Path) -> float:
    """Wall-clock seconds of `nnlm train FILE` with no flags, as a user runs it."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "nnlm", "train", str(path), "--out", str(run), "--quiet",
                    "--samples", "0", "--overwrite"], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def new_share(run: Path, n: int = 1000) -> float:
    samples = nnlm.load(run, device="cpu").sample(n, seed=0)
    return sum(s.novelty != "train" for s in samples) / len(samples)


def measure(name: str, path: Path, work: Path) -> dict:
    items = read_items(path)
    run = work / name
    seconds = train_default(path, run)
    summary = json.loads((run / "summary.json").read_text())
    kind = json.loads((run / "config.json").read_text())["data"]["kind"]
    kn_loss, kn_order = kneser_ney(path)
    row = {"list": name, "items": len(items), "chars": len(set("".join(items))),
           "nnlm": summary["test_loss"], "model": summary["model_test_loss"],
           "kn": kn_loss, "order": kn_order, "seconds": seconds, "limit": limit(len(items)),
           "new": new_share(run), "stopped": summary["stopped"], "epochs": summary["epochs"], "kind": kind}
    row["ok"] = row["nnlm"] <= row["kn"] and row["seconds"] <= row["limit"] and kind == "list"
    return row


def table(rows: list[dict]) -> str:
    lines = ["| list | items | chars | read as | nnlm test | model alone | Kneser-Ney test (order) | train s "
             "(limit) | new samples | stopped | ok |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        ok = "yes" if r["ok"] else "NO"
        lines.append(f"| {r['list']} | {r['items']:,} | {r['chars']:,} | {r['kind']} | {r['nnlm']:.4f} | "
                     f"{r['model']:.4f} | {r['kn']:.4f} ({r['order']}) | "
                     f"{r['seconds']:.0f} ({r['limit']:.0f}) | {r['new']:.1%} | "
                     f"{r['stopped']}, {r['epochs']:g} passes | {ok} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--lists", nargs="+", help="only these lists (names: the bundled names.txt)")
    p.add_argument("--work", type=Path, help="where lists and runs go (default: a temporary directory)")
    p.add_argument("--no-write", action="store_true", help=f"do not write {RESULTS}")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        built = {name: path for name, path, _ in datalists.build(work / "lists")}
        built["names"] = bundled_names_path()
        wanted = args.lists or sorted(built, key=lambda n: len(read_items(built[n])))
        rows = []
        for name in wanted:
            rows.append(measure(name, built[name], work / "runs"))
            print(table(rows[-1:]).splitlines()[-1], flush=True)
    text = table(rows)
    print("\n" + text)
    beaten = sum(r["nnlm"] <= r["kn"] for r in rows)
    print(f"\nnnlm at or below the best Kneser-Ney on test: {beaten} of {len(rows)}; within the time "
          f"limit: {sum(r['seconds'] <= r['limit'] for r in rows)} of {len(rows)}")
    if not args.no_write and not args.lists:
        RESULTS.write_text(f"`python benchmarks/any_data.py`, {time.strftime('%Y-%m-%d')}, nnlm "
                           f"{nnlm.__version__}, torch {torch.__version__}, {torch.get_num_threads()} "
                           f"threads\n\n{text}\n")
    return 0 if all(r["ok"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
