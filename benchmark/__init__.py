"""RESTA Bench: the `resta` command line, experiment runner, results store, statistics, tables and demo."""

__version__ = "0.1.0"
