from argosy.cli.commands import main

main()
