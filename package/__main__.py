from rpcgen.cli import main

main()
