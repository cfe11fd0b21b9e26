from mailmatch.cli import main

main()
