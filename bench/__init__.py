"""Benchmarks (`make bench` = `.venv/bin/python -m bench`); never part of `make test`.

They print figures and ratios and assert nothing: the pure models (deadline maths, the
lifecycle machine) measured against the national congress's yearly volume (~9,000 suggestions).
"""
