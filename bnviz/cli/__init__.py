"""`python -m bnviz ...`: the engine from a terminal, over the same code the dashboard uses.

Owns: the argument parser and its commands (`commands`), the run store's commands
(`runs`). The top layer: it may import any part of bnviz, and nothing in bnviz imports it.
"""

from bnviz.cli.commands import CliError, main

__all__ = ["CliError", "main"]
