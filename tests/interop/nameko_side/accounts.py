"""A Nameko service whose methods are named like rpcgen clients' own API (and a builtin).

Run with ``nameko run accounts`` from this folder, in the Nameko virtualenv.
"""

from nameko.rpc import rpc


class Accounts:
    name = "accounts"

    @rpc
    def close(self, account_id):
        return f"closed {account_id}"

    @rpc
    def connect(self, host, port=5672):
        return f"{host}:{port}"

    @rpc
    def list(self):
        return ["acc-1", "acc-2"]

    @rpc
    def methods(self):
        return ["close", "connect", "list", "methods", "with_timeout"]

    @rpc
    def with_timeout(self, seconds):
        return seconds * 2
