"""``python -m reports build``: a report again from a verdicts file and an artifact store.

    python -m reports build --verdicts report/verdicts.json --artifacts .artifacts --out report

Nothing is recomputed: figures read the artifacts the verdicts refer to, and one whose artifacts
are absent from the store is listed as missing in the report.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reports", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="build report.md, report.html and figures from a verdicts file")
    b.add_argument("--verdicts", required=True, type=Path, help="a verdicts.json written by a run")
    b.add_argument("--artifacts", type=Path, default=Path(os.environ.get("CLAIMS_ARTIFACTS", ".artifacts")),
                   help="the artifact store of that run (default: $CLAIMS_ARTIFACTS or .artifacts)")
    b.add_argument("--out", type=Path, default=None, help="report folder (default: the verdicts file's folder)")
    args = parser.parse_args(argv)

    from .build import build_report
    from .schema import VerdictsFileError

    store = None
    if args.artifacts.is_dir():
        from harness.store import ArtifactStore

        store = ArtifactStore(args.artifacts)
    else:
        print(f"warning: no artifact store at {args.artifacts}; figures that need artifacts are "
              "listed as missing", file=sys.stderr)
    try:
        report = build_report(args.verdicts, args.out or args.verdicts.parent, store)
    except VerdictsFileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    drawn = sum(f.error is None for f in report.figures)
    print(f"wrote {report.files['html']} and {report.files['markdown']}: "
          f"{len(report.doc['verdicts'])} verdicts, {drawn} of {len(report.figures)} figures drawn")
    for f in report.figures:
        if f.error:
            print(f"  figure not drawn: {f.title}: {f.error}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
