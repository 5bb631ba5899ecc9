"""n > 8.33 ln N (kexue.fm 7695/8711): h_n against the published table and a plain integral, and the `simlab dims` CLI."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import integrate

from simlab.cli.main import main
from simlab.linear.dims import (
    PUBLISHED_H,
    h_n,
    laplace_constant,
    laplace_cos_peak,
    n_min_exact,
    rule_of_thumb,
)


@pytest.mark.parametrize("n, published", sorted(PUBLISHED_H.items()))
def test_h_n_reproduces_published_table_to_printed_precision(n, published):
    # the post prints 6 significant digits (-7.77471, -15.4734, ..., -123.264)
    digits = 6 - len(str(int(abs(published))))
    assert abs(h_n(n) - published) <= 0.5 * 10**-digits


@pytest.mark.parametrize("n", [3, 10, 25])
def test_h_n_matches_unstabilised_integral(n):
    # reference: the definition with plain (unshifted) integrals, fine for small n
    dens = lambda t: np.sin(t) ** (n - 2)  # noqa: E731
    z0 = integrate.quad(dens, 0, math.pi)[0]
    e1 = integrate.quad(lambda t: dens(t) * np.exp(n * np.cos(t)), 0, math.pi)[0] / z0
    ec = integrate.quad(lambda t: dens(t) * np.exp(n * np.cos(t)) * np.cos(t), 0, math.pi)[0] / z0
    assert h_n(n) == pytest.approx(math.log(e1) - n * ec / e1, rel=1e-9)


def test_h_n_matches_monte_carlo_on_the_sphere():
    # the same quantity from random vectors of norm √n: ln E[e^{<u,v>}] − E[e^{<u,v>}<u,v>]/E[e^{<u,v>}]
    n, rng = 6, np.random.default_rng(0)
    u = rng.normal(size=(400_000, n))
    v = rng.normal(size=(400_000, n))
    dot = n * np.einsum("id,id->i", u / np.linalg.norm(u, axis=1, keepdims=True), v / np.linalg.norm(v, axis=1, keepdims=True))
    e = np.exp(dot)
    assert h_n(n) == pytest.approx(math.log(e.mean()) - (e * dot).mean() / e.mean(), abs=0.03)


def test_laplace_limit_is_golden_ratio_constant():
    phi = (1 + 5**0.5) / 2
    assert laplace_cos_peak() == pytest.approx(1 / phi, rel=1e-14)
    assert laplace_constant() == pytest.approx(4 / math.log(phi), rel=1e-14)
    assert round(laplace_constant(), 2) == 8.31
    assert h_n(20_000) / 20_000 == pytest.approx(-0.5 * math.log(phi), abs=2e-4)  # h_n / n → −½ ln φ


def test_worked_values_from_the_posts():
    assert round(rule_of_thumb(1e5)["n_8.33"], 1) == 95.9
    assert round(rule_of_thumb(5e6)["n_8.33"], 1) == 128.5
    assert round(rule_of_thumb(512)["n_8.33"], 2) == 51.97
    assert math.log(1e10) + h_n(64) == pytest.approx(7.55, abs=0.005)  # H at n = 64, N = 1e5
    n0 = n_min_exact(1e5)
    assert 94.8 < n0 < 95.6  # spec verification note
    assert 2 * math.log(1e5) + h_n(n0) == pytest.approx(0, abs=1e-7)


def test_scale_changes_the_constant_monotonically():
    assert laplace_constant(0.5) > laplace_constant(1.0) > laplace_constant(2.0)


@pytest.mark.parametrize("bad", [1.0, float("nan"), -3.0])
def test_bad_inputs_raise(bad):
    with pytest.raises(ValueError):
        h_n(bad)
    with pytest.raises(ValueError):
        rule_of_thumb(bad)
    with pytest.raises(ValueError):
        h_n(64, scale=bad if bad < 1 or bad != bad else -bad)


def test_cli_prints_rules(capsys):
    assert main(["dims", "100000", "512"]) == 0
    out = capsys.readouterr().out
    assert "8.3123" in out
    assert "95.90" in out and "92.10" in out and "95.70" in out  # 8.33 ln N, 8 ln N, 8.312 ln N at N = 1e5
    assert "51.97" in out


def test_cli_table_reproduces_published_values(capsys):
    assert main(["dims", "--table"]) == 0
    out = capsys.readouterr().out
    for n, pub in PUBLISHED_H.items():
        line = next(l for l in out.splitlines() if l.split() and l.split()[0] == str(n))
        fields = line.split()
        digits = 6 - len(str(int(abs(pub))))
        assert abs(float(fields[1]) - pub) <= 0.5 * 10**-digits
        assert float(fields[2]) == pub


def test_cli_json(capsys):
    assert main(["dims", "3e4", "--table", "--n", "64", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["rows"][0]["n_8.33"] == pytest.approx(8.33 * math.log(3e4))
    assert data["table"][0]["h_n"] == pytest.approx(-15.4734, abs=5e-5)


def test_cli_errors(capsys):
    assert main(["dims"]) == 2
    assert "simlab: error: give at least one N" in capsys.readouterr().err
    assert main(["dims", "1"]) == 2  # checked by the command, not argparse: one `simlab: error:` line
    assert "simlab: error: N must be a finite number >= 2, got '1'" in capsys.readouterr().err
    assert main(["dims", "abc"]) == 2
    assert "simlab: error: N must be a number" in capsys.readouterr().err
