from vmwctl.cli.root import main

main()
