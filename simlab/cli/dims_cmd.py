"""``simlab dims N [N...]``: how many embedding dimensions N items need by the rule n > 8.33 ln N (kexue.fm 7695/8711).

Examples::

    simlab dims 100000 5e6 512          # 8.33 ln N, 8 ln N, the Laplace-limit constant (8.312) and the exact root
    simlab dims --table                 # recompute the h_n table of post 7695 by numerical integration
    simlab dims 30000 --scale 0.5       # how the constant moves if coordinates have size 0.5 instead of 1
"""

from __future__ import annotations

import argparse
import json
import math

DEFAULT_TABLE_N = [32, 64, 96, 128, 256, 512]
MAX_TABLE_N = 1e6  # h_n's quadrature: h_n/n agrees to 1e-6 between n = 1e5 and 1e6, drifts by 5e-4 at 1e7, fails at 1e12


def _number(text: str, what: str, low: float, strict: bool = False) -> float:
    """A finite number ≥ ``low`` (> ``low`` if ``strict``), else one ``simlab: error:`` line (a BadInputError)."""
    from simlab.errors import BadInputError

    try:
        value = float(text)
    except (TypeError, ValueError):
        raise BadInputError(f"{what} must be a number (e.g. 100000 or 1e5), got {text!r}") from None
    if not math.isfinite(value) or value < low or (strict and value == low):
        raise BadInputError(f"{what} must be a finite number {'>' if strict else '>='} {low:g}, got {text!r}")
    return value


def _count(text: str) -> float:
    return _number(text, "N", 2)


def _positive(text: str) -> float:
    return _number(text, "--scale", 0, strict=True)


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "dims",
        help="embedding dimension needed for N items: n > 8.33 ln N (kexue.fm 7695/8711)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("N", nargs="*", help="number(s) of items: vocabulary size, or sequence length for head size")
    p.add_argument("--table", action="store_true", help="recompute h_n by numerical integration (post 7695's table)")
    p.add_argument(
        "--n", nargs="+", default=None, metavar="n", help=f"dimensions for --table (default {DEFAULT_TABLE_N})"
    )
    p.add_argument(
        "--scale", default="1", help="per-coordinate size of the vectors (norm = scale·√n); the post assumes 1"
    )
    p.add_argument("--json", action="store_true", help="print machine-readable JSON instead of tables")
    p.set_defaults(func=run)


def run(args) -> int:
    args.N = [_count(x) for x in args.N]  # checked here, not by argparse, for one `simlab: error:` line
    args.scale = _positive(args.scale)
    if not args.N and not args.table:
        raise SystemExit("simlab dims: give at least one N (e.g. `simlab dims 100000`) or --table")
    if args.n is not None and not args.table:
        raise SystemExit("simlab dims: --n only applies together with --table")
    args.n = None if args.n is None else [_number(x, "--n values", 2) for x in args.n]
    for n in args.n or []:
        if n > MAX_TABLE_N:
            raise SystemExit(f"simlab dims: --n {n:g}: the numerical integration of h_n is reliable up to n = "
                             f"{MAX_TABLE_N:g}; for larger n, h_n/n is the Laplace limit printed above the table")
    from simlab.linear.dims import PUBLISHED_H, h_n, laplace_constant, rule_of_thumb

    c = laplace_constant(args.scale)
    rows = [rule_of_thumb(N, args.scale) for N in args.N]
    table = []
    if args.table:
        for n in args.n or DEFAULT_TABLE_N:
            h = h_n(n, args.scale)
            pub = PUBLISHED_H.get(int(n)) if float(n).is_integer() and args.scale == 1.0 else None
            table.append({"n": n, "h_n": h, "h_n/n": h / n, "constant -2n/h_n": -2 * n / h, "published": pub})

    if args.json:
        print(json.dumps({"scale": args.scale, "laplace_constant": c, "rows": rows, "table": table}, indent=2))
        return 0

    print(f"n > c·ln N   (kexue.fm 7695/8711; natural log; coordinate scale {args.scale:g})")
    print(f"Laplace-limit constant c = {c:.4f}" + ("  (= 4 / ln φ; Su rounds to 8.33)" if args.scale == 1.0 else ""))
    if rows:
        print()
        print(f"{'N':>14} {'ln N':>8} {'8.33 ln N':>10} {'8 ln N':>8} {f'{c:.3f} ln N':>11} {'exact H=0':>10}")
        for r in rows:
            print(
                f"{r['N']:>14,.0f} {r['ln_N']:>8.3f} {r['n_8.33']:>10.2f} {r['n_8']:>8.2f} {r['n_laplace']:>11.2f} "
                f"{r['n_exact']:>10.2f}"
            )
        print("exact H=0: the n solving 2 ln N + h_n = 0 with h_n integrated numerically (no linear approximation).")
    if table:
        print()
        print(f"{'n':>8} {'h_n':>14} {'published':>11} {'h_n / n':>10} {'-2n / h_n':>10}")
        for t in table:
            pub = f"{t['published']:g}" if t["published"] is not None else "-"
            print(f"{t['n']:>8g} {t['h_n']:>14.6f} {pub:>11} {t['h_n/n']:>10.5f} {t['constant -2n/h_n']:>10.4f}")
    return 0
