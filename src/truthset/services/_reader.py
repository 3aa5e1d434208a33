"""The reader process of a large import (see ``import_reading.messages``).

Reads pickled arguments on stdin, writes length-prefixed pickled messages on stdout:
``("chunk", Chunk)`` ..., then ``("done", SourceInfo)``, or ``("error", exception)``.
"""

from __future__ import annotations

import gc
import pickle
import sys


def main() -> None:
    # This process only reads: its objects (rows, tuples, chunks) hold no reference cycles
    # and are freed by reference counting as each chunk is sent. The cyclic collector would
    # only traverse them, again and again: 4.5 of 14 s on the 1M-row benchmark.
    gc.disable()
    from truthset.services.import_reading import produce

    out = sys.stdout.buffer

    def send(message: tuple[str, object]) -> None:
        data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        out.write(len(data).to_bytes(8, "big"))
        out.write(data)
        out.flush()

    args = pickle.load(sys.stdin.buffer)
    try:
        for message in produce(*args):
            send(message)
    except BrokenPipeError:
        sys.exit(1)  # the importer is gone: nothing to do
    except Exception as exc:  # noqa: BLE001 - any failure is handed to the importer, which re-raises it
        send(("error", exc))


if __name__ == "__main__":
    main()
