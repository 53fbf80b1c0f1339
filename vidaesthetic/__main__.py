"""``python -m vidaesthetic``."""

from .cli import main

main(prog_name="vidaesthetic")
