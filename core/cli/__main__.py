from argosy.cli import program

program()
