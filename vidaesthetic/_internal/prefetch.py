"""Run an iterator in a background thread, a bounded number of items ahead.

Decoding (FFmpeg releases the GIL) then overlaps with the model, while at
most ``depth`` decoded batches are ever held in memory.
"""

from __future__ import annotations

import queue
import threading
from typing import Callable, Iterator, TypeVar

T = TypeVar("T")

_DONE = object()


class _Failure:
    def __init__(self, error: BaseException) -> None:
        self.error = error


def prefetch(produce: Callable[[], Iterator[T]], depth: int = 2, name: str = "vidaesthetic-decoder") -> Iterator[T]:
    """Items of ``produce()`` in order; errors in the worker are re-raised here.

    Closing the returned generator early (or an error in the consumer) stops
    the worker and waits for it, so no thread outlives the iteration.
    """
    items: "queue.Queue[object]" = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def offer(item: object) -> bool:
        while not stop.is_set():
            try:
                items.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        iterator = produce()
        try:
            for item in iterator:
                if not offer(item):
                    break
        except BaseException as error:  # handed to the consumer, who decides
            offer(_Failure(error))
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()
            offer(_DONE)

    worker = threading.Thread(target=work, name=name, daemon=True)
    worker.start()
    try:
        while True:
            item = items.get()
            if item is _DONE:
                return
            if isinstance(item, _Failure):
                raise item.error
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        worker.join()
