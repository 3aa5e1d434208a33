"""The reader process of a large import (see ``imports._messages``).

Reads pickled arguments on stdin, writes length-prefixed pickled messages on stdout:
``("chunk", Chunk)`` ..., then ``("done", _Source)``, or ``("error", exception)``.
"""

from __future__ import annotations

import pickle
import sys


def main() -> None:
    from truthset.services.imports import _produce

    out = sys.stdout.buffer

    def send(message: tuple[str, object]) -> None:
        data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        out.write(len(data).to_bytes(8, "big"))
        out.write(data)
        out.flush()

    args = pickle.load(sys.stdin.buffer)
    try:
        for message in _produce(*args):
            send(message)
    except BrokenPipeError:
        sys.exit(1)  # the importer is gone: nothing to do
    except Exception as exc:  # noqa: BLE001 - any failure is handed to the importer, which re-raises it
        send(("error", exc))


if __name__ == "__main__":
    main()
