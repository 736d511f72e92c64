# A pyftpdlib server for the client's tests: one user with every permission on a directory.
# usage: pyftpd.py HOST PORT ROOT [foreign] [user=NAME:PASSWORD]   (PORT 0: any; the chosen port is
# printed as "PORT n"; the user is user:secret unless given)
# "foreign" sets permit_foreign_addresses: pyftpdlib compares the EPRT address with the peer's as
# strings, so NetX's full-form IPv6 EPRT ("0000:...:0001") is otherwise refused as foreign.
import logging
import sys

from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import FTPHandler
from pyftpdlib.servers import FTPServer

host, port, root = sys.argv[1], int(sys.argv[2]), sys.argv[3]
foreign = "foreign" in sys.argv[4:]
name, password = "user", "secret"
for a in sys.argv[4:]:
    if a.startswith("user="):
        name, password = a[5:].split(":", 1)
logging.basicConfig(level=logging.WARNING)
auth = DummyAuthorizer()
auth.add_user(name, password, root, perm="elradfmwMT")


class Handler(FTPHandler):
    authorizer = auth
    permit_foreign_addresses = foreign


server = FTPServer((host, port), Handler)
print("PORT", server.socket.getsockname()[1], flush=True)
server.serve_forever()
