"""Sorting: categories, rules, signals, a classifier that learns from corrections.

See :mod:`mailmatch.sorting.service` for the entry points and :mod:`mailmatch.sorting.decide`
for the order in which rules, signals, the model and corrections decide.
"""
