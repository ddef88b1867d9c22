# Names the code blocks of README.md and docs/ may use without defining them (see tests/test_docs_code.py).
# Keep it to the few objects every page talks about; a block that needs more says so in a
# `<!-- typecheck ... -->` comment right above it.
from unified_sdk_sandbox.fake import SandboxServer

from unified_sdk import Client, Connection

client: Client
conn: Connection
server: SandboxServer
callback_url: str
