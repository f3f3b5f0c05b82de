"""The fork server behind ``forked``: imports what the tests' commands use once, then, for each
request (a JSON line on standard input), forks a copy of itself that becomes ``python -m MODULE
ARGS``; it answers with the copy's process id, then its exit code (a line each).

Run as ``python tests/fork_server.py`` by ``forked.ForkServer``; nothing else talks to it.
"""

from __future__ import annotations

import atexit
import importlib
import json
import os
import pkgutil
import runpy
import sys
import traceback


def preload() -> None:
    """Import every module of this package (``__main__`` modules aside) and every component
    Scrapy's and this project's settings name. None of them installs the Twisted reactor: each
    command does, in its own process."""
    import scrapy.cmdline  # noqa: F401  (what ``python -m scrapy`` runs)
    from scrapy.settings import default_settings
    from scrapy.utils.misc import load_object

    import ali1688spider
    from ali1688spider import settings as project_settings

    for info in pkgutil.walk_packages(ali1688spider.__path__, "ali1688spider."):
        if not info.name.endswith(".__main__"):
            importlib.import_module(info.name)
    for module in (default_settings, project_settings):
        for value in vars(module).values():
            names = [*value, *value.values()] if isinstance(value, dict) else [value]
            for name in names:
                if isinstance(name, str) and name.startswith(("scrapy.", "ali1688spider.")):
                    load_object(name)
    assert "twisted.internet.reactor" not in sys.modules, "a preloaded module installed the reactor"


def become(request: dict) -> None:
    """In the forked copy: run ``python -m MODULE ARGS`` from *cwd* with *env* as a fresh
    interpreter would, its output in the files named, and exit with its code."""
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    for fd, path, flags in ((0, os.devnull, os.O_RDONLY),
                            (1, request["stdout"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC),
                            (2, request["stderr"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)):
        opened = os.open(path, flags, 0o600)
        os.dup2(opened, fd)
        os.close(opened)
    sys.stdin = open(0, closefd=False)  # noqa: SIM115  (fd 0 is /dev/null now)
    sys.path[0] = request["cwd"]        # as ``python -m`` puts the working directory first
    sys.argv = [request["module"], *request["args"]]
    code = 0
    try:
        runpy.run_module(request["module"], run_name="__main__", alter_sys=True)
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else int(exit_.code is not None)
        if isinstance(exit_.code, str):
            print(exit_.code, file=sys.stderr)
    except BaseException:
        traceback.print_exc()
        code = 1
    finally:
        atexit._run_exitfuncs()         # what the interpreter does at exit
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(code)


def serve() -> None:
    requests, answers = sys.stdin.buffer, sys.stdout.buffer
    for line in requests:
        answers.flush()
        pid = os.fork()
        if pid == 0:
            become(json.loads(line))
        answers.write(b"%d\n" % pid)
        answers.flush()
        _, status = os.waitpid(pid, 0)
        answers.write(b"%d\n" % os.waitstatus_to_exitcode(status))
        answers.flush()


if __name__ == "__main__":
    preload()
    serve()
