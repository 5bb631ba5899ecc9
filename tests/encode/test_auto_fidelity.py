"""A faithful ``auto``: it picks only an engine × precision whose recorded Spearman change against torch fp32 is
≤ 0.1 on every full test cell on THIS CPU kind, and a kind never measured gets torch fp32."""

from __future__ import annotations

import json
import math
from importlib import resources

import pytest

import simlab.encode.engines.auto as auto
import simlab.encode.engines.fidelity as fidelity
from simlab.encode.engines import resolve


def book(**configs) -> dict:
    """A record with one CPU kind "k-test" and ``configs`` {"openvino:bf16": change, ...} over 186 cells each."""
    return {"kinds": {"k-test": {"configs": {k.replace("_", ":"): {"max_abs_change": v, "cells": 186,
                                                                    "worst_cell": ["minilm", "STS16", "pooler", "full"]}
                                             for k, v in configs.items()}}}}


@pytest.fixture
def machine(monkeypatch):
    """Every engine installed and native bf16 (as on the Xeon with AMX), CPU kind "k-test"; returns a setter for
    the record that ``auto`` reads."""
    monkeypatch.setattr(auto, "engine_installed", lambda engine: True)
    monkeypatch.setattr(auto, "cpu_has_bf16", lambda: True)
    monkeypatch.setattr("simlab.machine.cpu_kind", lambda: "k-test")

    def use(record: dict) -> None:
        monkeypatch.setattr(fidelity, "load_record", lambda: record)

    return use


def test_auto_refuses_a_configuration_whose_recorded_change_exceeds_0_1(machine):
    # issue 24: OpenVINO bf16 moved minilm / pooler / full / STS16 by 0.18 on the Xeon with AMX
    machine(book(openvino_bf16=0.18, openvino_fp32=0.031, onnx_fp32=0.0))
    assert resolve("auto", "auto") == ("openvino", "fp32")
    ok, why = fidelity.faithful("openvino", "bf16")
    assert not ok and "0.18" in why and "k-test" in why and "STS16" in why
    machine(book(openvino_bf16=0.18, openvino_fp32=0.12, onnx_fp32=0.0))
    assert resolve("auto", "auto") == ("onnx", "fp32")  # the next faithful one in the speed order
    machine(book(openvino_bf16=0.1, openvino_fp32=0.0))
    assert resolve("auto", "auto") == ("openvino", "bf16")  # ≤ 0.1 is within the promise
    machine(book(openvino_bf16=0.05))
    assert resolve("auto", "auto") == ("openvino", "bf16")


def test_an_unmeasured_kind_gets_fp32(machine, monkeypatch):
    machine(book(openvino_bf16=0.0, openvino_fp32=0.0, onnx_fp32=0.0))
    monkeypatch.setattr("simlab.machine.cpu_kind", lambda: "k-never-measured")
    assert resolve("auto", "auto") == ("torch", "fp32") == resolve("auto", "fp32")
    assert "never measured on CPU kind k-never-measured" in fidelity.faithful("openvino", "fp32")[1]
    machine({"kinds": {}})  # no record at all
    assert resolve("auto", "auto") == ("torch", "fp32")
    # what the caller fixes is kept: an explicit engine gets its fp32, an explicit precision its fastest engine
    assert resolve("openvino", "auto") == ("openvino", "fp32")
    assert resolve("auto", "bf16") == ("openvino", "bf16")
    assert resolve("onnx", "fp32") == ("onnx", "fp32")


def test_a_measured_kind_picks_only_what_was_measured(machine):
    machine(book(openvino_fp32=0.02))  # bf16 and onnx never measured on this kind
    assert resolve("auto", "auto") == ("openvino", "fp32")
    assert not fidelity.faithful("onnx", "fp32")[0] and fidelity.faithful("torch", "fp32")[0]


@pytest.mark.parametrize("rec", [{"max_abs_change": 0.0, "cells": 0}, {"max_abs_change": float("nan"), "cells": 9},
                                 {"cells": 9}])
def test_an_empty_or_broken_measurement_is_not_faithful(rec):
    record = {"kinds": {"k": {"configs": {"openvino:fp32": rec}}}}
    assert not fidelity.faithful("openvino", "fp32", "k", record)[0]


def test_the_bundled_record_is_well_formed():
    text = resources.files("simlab").joinpath("resources", "auto_fidelity.json").read_text(encoding="utf-8")
    kinds = json.loads(text)["kinds"]
    assert kinds, "the record holds at least one CPU kind"
    for kind, entry in kinds.items():
        assert entry.get("reference", "torch:fp32") == "torch:fp32" and "--tasks all" in entry["protocol"]
        for conf, rec in entry["configs"].items():
            engine, precision = conf.split(":")
            assert engine in auto.ENGINES and precision in auto.PRECISIONS
            assert rec["cells"] > 0 and math.isfinite(rec["max_abs_change"]) and rec["max_abs_change"] >= 0
            ok, _ = fidelity.faithful(engine, precision, kind, {"kinds": kinds})
            assert ok == (rec["max_abs_change"] <= 0.1)
