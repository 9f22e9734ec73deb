from driftline.cli import main

main()
