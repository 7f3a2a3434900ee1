"""``python -m demine`` runs the command line."""

from demine.cli.app import main

main()
