"""rpcgen.codegen: IDL Protocols to typed clients and server skeletons."""
