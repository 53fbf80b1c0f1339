"""Run risky work in a child process, so that a crash there fails one file instead of the whole run.

FFmpeg and the other decoders are native code: a damaged file can crash
them outright, and a segfault is not an exception Python can catch. Work
run through :func:`run_isolated` happens in a child process; the child's
death becomes a :class:`VideoError` for the file and this process goes on.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import signal
import sys
import traceback
from multiprocessing.connection import Connection, wait
from typing import Any, Callable, Dict, Optional, Tuple, Union

from ..errors import PathLike, VidaestheticError, VideoError

_OPTIONAL_DECODERS = ("decord", "torchcodec.decoders")

_EXIT_GRACE = 5.0
"""Seconds a child that has answered (or is dying) gets to exit before it is killed."""


class ChildTraceback(Exception):
    """The traceback of an exception raised in a child process, attached as its cause."""


def _context() -> Union[multiprocessing.context.ForkServerContext, multiprocessing.context.SpawnContext]:
    """Forkserver where there is one, else spawn (Windows).

    A spawned child imports vidaesthetic (and torch) afresh: seconds per
    child. A forkserver child is forked from a server that imported them
    once, so it starts in milliseconds and still shares nothing with this
    process (no decoder state, no threads, no CUDA context). The server
    also preloads the optional decoders this process has loaded (torchcodec
    alone takes seconds to import).
    """
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    loaded = [name for name in _OPTIONAL_DECODERS if name in sys.modules]
    context.set_forkserver_preload(["vidaesthetic", *loaded])  # no effect once the server runs
    return context


def _portable(error: BaseException) -> BaseException:
    """The exception if it survives pickling (many native ones do not), else one that says what it was."""
    try:
        pickle.loads(pickle.dumps(error))
        return error
    except Exception:
        return RuntimeError(f"{type(error).__module__}.{type(error).__qualname__}: {error}")


def _child(sender: Connection, environment: Dict[str, str], function: Callable[..., Any],
           args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> None:
    # A forkserver child inherits the server's environment, which may be older than the caller's.
    os.environ.clear()
    os.environ.update(environment)
    try:
        payload = pickle.dumps(("returned", function(*args, **kwargs)))
    except VidaestheticError as error:
        payload = pickle.dumps(("refused", (type(error), error.message, error.path)))
    except Exception as error:  # a bug, or a result that cannot be pickled: raised again in the caller
        payload = pickle.dumps(("raised", (_portable(error), traceback.format_exc())))
    sender.send_bytes(payload)
    sender.close()


def _death(exitcode: Optional[int]) -> str:
    if exitcode is not None and exitcode < 0:
        try:
            return signal.Signals(-exitcode).name
        except ValueError:
            return f"signal {-exitcode}"
    return f"exit code {exitcode}"


def run_isolated(function: Callable[..., Any], *args: Any, timeout: Optional[float] = None, what: str = "",
                 path: Optional[PathLike] = None, **kwargs: Any) -> Any:
    """``function(*args, **kwargs)`` in a child process of its own; its result, or its exception raised here.

    ``function``, its arguments and its result must be picklable (a
    module-level function). A :class:`VidaestheticError` comes back as the
    same type and message; any other exception is raised with the child's
    traceback as its cause.

    Raises:
        VideoError: for ``path``, when the child dies without an answer
            (``"the decoder crashed (SIGSEGV) while {what}"``) or runs past
            ``timeout`` seconds (it is killed).
    """
    what = what or f"running {getattr(function, '__qualname__', function)}"
    context = _context()
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=_child, args=(sender, dict(os.environ), function, args, kwargs))
    payload: Optional[bytes] = None
    answered = False  # the child sent its answer or closed its end: it is done, or dying
    with receiver:
        with sender:  # this process's copy of the child's end: closed, so the child's death reads as EOF
            process.start()
        try:
            if not wait([receiver, process.sentinel], timeout):
                raise VideoError(f"timed out after {timeout:g} s while {what}", path)
            answered = True
            if receiver.poll():
                payload = receiver.recv_bytes()
        except EOFError:  # died before or while answering
            pass
        finally:
            process.join(_EXIT_GRACE if answered else 0)
            if process.is_alive():  # timed out, interrupted, or hanging on its way out
                process.kill()
            process.join()
            exitcode = process.exitcode
            process.close()
    if payload is None:
        raise VideoError(f"the decoder crashed ({_death(exitcode)}) while {what}", path)
    kind, value = pickle.loads(payload)
    if kind == "returned":
        return value
    if kind == "refused":
        error_type, message, error_path = value
        raise error_type(message, error_path)
    error, text = value
    raise error from ChildTraceback(text)

