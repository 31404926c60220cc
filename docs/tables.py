"""The headline results table of README.md, made from the files in benchmarks/results/.

    python docs/tables.py            # write the table into README.md, between its two markers
    python docs/tables.py --check    # exit 1 if README.md's table is not what this makes

Each row takes its figures from one results file (named in the table), found by the row's label
in that file's table, so the README's figures are those the benchmarks wrote, never typed.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
README = ROOT / "README.md"
BEGIN = "<!-- results-table: made by python docs/tables.py from benchmarks/results/; do not edit -->"
END = "<!-- /results-table -->"


def table_rows(name: str) -> list[dict[str, str]]:
    """Every row of every Markdown table in benchmarks/results/NAME.md, as {header: cell}."""
    rows, header = [], None
    for line in (RESULTS / name).read_text(encoding="utf-8").splitlines():
        if not line.startswith("|"):
            header = None
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if header is None:
            header = cells
        elif not set("".join(cells)) <= set("-: "):
            rows.append(dict(zip(header, cells, strict=False)))
    return rows


def row(name: str, column: str, starts: str) -> dict[str, str]:
    """The one row of NAME whose COLUMN starts with STARTS."""
    found = [r for r in table_rows(name) if r.get(column, "").startswith(starts)]
    if len(found) != 1:
        raise SystemExit(f"benchmarks/results/{name}: {len(found)} rows whose {column!r} starts with "
                         f"{starts!r}, not one")
    return found[0]


def order(label: str) -> str:
    """'... order 7 ...' -> '7'."""
    return re.search(r"order (\d+)", label)[1]


def headline() -> list[str]:
    """The table's lines: for each kind of data, the default run (`nnlm train FILE`, no other
    flag), its model alone, and the best Kneser-Ney model, in the measure of the file."""
    lines = ["| data (measure; lower is better) | nnlm's default run | its model alone | "
             "best Kneser-Ney (order) | source |", "|---|---|---|---|---|"]

    names = row("any_data.md", "list", "names")
    lines.append(f"| names.txt, a list of 32,033 names (test nats/char) | **{names['nnlm test']}** | "
                 f"{names['model alone']} | {names['Kneser-Ney test (order)']} | any_data.md |")

    for file, data, labels in (
            ("text_shakespeare.md", "tinyshakespeare, running text (val bits/char)",
             ("nnlm default run (its predictor", "nnlm default run, the model alone", "`nnlm ngram")),
            ("text_code.md", "Python's standard library, code (test bits/char)",
             ("nnlm default run", "the model alone", "`nnlm ngram"))):
        mixed, alone, kn = (row(file, "model", label) for label in labels)
        lines.append(f"| {data} | **{mixed['bits/char']}** | {alone['bits/char']} | {kn['bits/char']} "
                     f"({order(kn['model'])}) | {file} |")

    brown = row("text_brown.md", "Brown as", "paper split")
    ngram = brown["`nnlm ngram`"]
    lines.append(f"| Brown, the paper's split, words (test perplexity) | "
                 f"**{brown['nnlm (mixed with Kneser-Ney)']}** | {brown['nnlm model alone']} | "
                 f"{ngram.split(' (')[0]} ({order(ngram)}) | text_brown.md |")
    return [re.sub(r"\| (\w+\.md) \|$", r"| [\1](benchmarks/results/\1) |", line) for line in lines]


def written(readme: str) -> str:
    """README.md's text with the table between the markers made anew."""
    if readme.count(BEGIN) != 1 or readme.count(END) != 1:
        raise SystemExit(f"README.md must hold the markers {BEGIN} and {END} once each")
    before, rest = readme.split(BEGIN)
    _, after = rest.split(END)
    return before + BEGIN + "\n" + "\n".join(headline()) + "\n" + END + after


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check that README.md's table is current")
    args = parser.parse_args(argv)
    text = README.read_text(encoding="utf-8")
    if args.check:
        if written(text) != text:
            print("README.md's results table is not current: run python docs/tables.py", file=sys.stderr)
            return 1
        return 0
    README.write_text(written(text), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
