"""``python -m app`` is ``convlens serve`` (extra arguments are passed on)."""
import sys

from app.cli import main

main(["serve", *sys.argv[1:]])
