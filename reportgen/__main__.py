from reportgen.cli.main import main

main()
