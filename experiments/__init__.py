"""Experiment scripts (run as ``python experiments/NAME.py``); importable so their tests can call them."""
