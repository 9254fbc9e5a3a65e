"""The IDL as a contract, beyond code generation: ``diff`` (what a change breaks), ``export``
(JSON Schema 2020-12 and AsyncAPI 3.0), ``scaffold`` (a draft IDL from a Nameko module) and
``call`` (a method called from the shell). Each reads the model ``rpcgen.codegen.load`` builds.
"""
