"""kiln's task runtime: runs one notebook, Python file or wheel for the kiln runner.

The runner starts `python3 kiln_runtime.py task.json` in the task's working
directory, in a process group of its own. It gives this process two extra
file descriptors:

  3  messages to the runner, one JSON object per line:
       {"type": "exit", "value_b64": ..., "truncated": bool}
       {"type": "error", "error": "...", "trace": "...", "state": "..."}
         ("state", when present, is the task's state message: a wheel that
         cannot be installed says why there)
       {"type": "secret", "scope": "...", "key": "..."}
       {"type": "limit", "limit": "memory" | "processes" | "open_files" | "file_size"}
  4  answers from the runner, one JSON object per line, to "secret" only:
       {"value_b64": "..."} or {"error": "..."}

Secrets travel only over these pipes, on demand: never in the environment
or a file. Both descriptors are made non-inheritable, so programs the task
starts do not get them.

stdout and stderr are the task's logs. The process exits 0 when the task
succeeded (including dbutils.notebook.exit) and 1 when it raised.
"""

import base64
import errno
import json
import os
import runpy
import re
import shutil
import signal
import sys
import time
import traceback

_SHIM_FILE = os.path.abspath(__file__)


class _Channel(object):
    def __init__(self):
        os.set_inheritable(3, False)
        os.set_inheritable(4, False)
        self._out = os.fdopen(3, "w", encoding="utf-8", closefd=True)
        self._in = os.fdopen(4, "r", encoding="utf-8", closefd=True)

    def send(self, msg):
        self._out.write(json.dumps(msg) + "\n")
        self._out.flush()

    def ask(self, msg):
        self.send(msg)
        line = self._in.readline()
        if not line:
            raise RuntimeError("kiln: the runner closed the channel")
        return json.loads(line)


class ShellCellError(Exception):
    """A %sh cell's command ended with a non-zero status."""


def _run_shell(source, where):
    # The shell is a child of this process, so it runs under the same
    # sandbox (filesystem rules, system-call filter, limits) and in the
    # task's directory; it inherits no descriptor but stdin, stdout and
    # stderr (close_fds), so it cannot talk to kiln on the task's channel.
    import subprocess
    sys.stdout.flush()
    sys.stderr.flush()
    status = subprocess.run(["/bin/sh", "-c", source], stdin=subprocess.DEVNULL).returncode
    if status != 0:
        raise ShellCellError("%s: the %%sh command exited with status %d" % (where, status))


class NotebookExit(BaseException):
    """Raised by dbutils.notebook.exit: ends the notebook successfully.

    A BaseException, so that `except Exception` in a notebook does not
    swallow it (Databricks behaves the same way)."""

    def __init__(self, value):
        BaseException.__init__(self, value)
        self.value = value


class InputWidgetNotDefined(Exception):
    pass


class _Widgets(object):
    def __init__(self, params):
        self._params = dict(params or {})
        self._defaults = {}

    def get(self, name):
        if name in self._params:
            return self._params[name]
        if name in self._defaults:
            return self._defaults[name]
        raise InputWidgetNotDefined("No input widget named %s is defined" % name)

    def getArgument(self, name, defaultValue=None):
        try:
            return self.get(name)
        except InputWidgetNotDefined:
            if defaultValue is not None:
                return defaultValue
            raise

    def getAll(self):
        values = dict(self._defaults)
        values.update(self._params)
        return values

    def _declare(self, name, defaultValue):
        self._defaults[name] = "" if defaultValue is None else str(defaultValue)

    def text(self, name, defaultValue="", label=None):
        self._declare(name, defaultValue)

    def dropdown(self, name, defaultValue, choices=None, label=None):
        self._declare(name, defaultValue)

    def combobox(self, name, defaultValue, choices=None, label=None):
        self._declare(name, defaultValue)

    def multiselect(self, name, defaultValue, choices=None, label=None):
        self._declare(name, defaultValue)

    def remove(self, name):
        self._defaults.pop(name, None)

    def removeAll(self):
        self._defaults.clear()


class NotebookRunTimeout(Exception):
    """dbutils.notebook.run's notebook ran longer than timeout_seconds."""


class _Notebook(object):
    # How deep dbutils.notebook.run may nest: deeper is almost surely a
    # notebook that runs itself.
    max_depth = 8

    def __init__(self, limit, channel=None, depth=0):
        self._limit = limit
        self._channel = channel
        self._depth = depth
        self.current = None  # the path of the notebook running now

    def exit(self, value):
        raise NotebookExit("" if value is None else str(value))

    def run(self, path, timeout_seconds=0, arguments=None):
        """Run another notebook and return the value it passed to
        dbutils.notebook.exit ("" without one). It runs in this task's
        process and sandbox, in a namespace of its own whose widgets are
        arguments; its exceptions reach the caller."""
        if self._channel is None:
            raise NotImplementedError("dbutils.notebook.run is not available here")
        if self._depth >= self.max_depth:
            raise RuntimeError("dbutils.notebook.run is nested more than %d deep" % self.max_depth)
        answer = self._channel.ask({"type": "notebook", "path": str(path), "from": self.current or ""})
        if "error" in answer:
            raise Exception(answer["error"])
        params = dict((str(k), str(v)) for k, v in (arguments or {}).items())
        child = DBUtils(self._channel, params, self._limit, self._depth + 1)
        names = _namespace(child)
        timeout = float(timeout_seconds or 0)
        if timeout > 0:
            # An enclosing run's timer is put back, less the time spent.
            outer_left = signal.getitimer(signal.ITIMER_REAL)[0]
            if outer_left > 0:
                timeout = min(timeout, outer_left)
            started = time.monotonic()

            def expire(signum, frame):
                raise NotebookRunTimeout("dbutils.notebook.run: %s ran longer than %s seconds" % (path, timeout_seconds))
            previous = signal.signal(signal.SIGALRM, expire)
            signal.setitimer(signal.ITIMER_REAL, timeout)
        try:
            _run_cells(answer.get("cells") or [], names, str(path), child)
        except NotebookExit as e:
            return e.value
        finally:
            if timeout > 0:
                signal.setitimer(signal.ITIMER_REAL, 0)
                signal.signal(signal.SIGALRM, previous)
                if outer_left > 0:
                    signal.setitimer(signal.ITIMER_REAL, max(outer_left - (time.monotonic() - started), 0.001))
        return ""


class _Secrets(object):
    def __init__(self, channel):
        self._channel = channel

    def getBytes(self, scope, key):
        answer = self._channel.ask({"type": "secret", "scope": str(scope), "key": str(key)})
        if "error" in answer:
            raise Exception(answer["error"])
        return base64.b64decode(answer["value_b64"])

    def get(self, scope, key):
        return self.getBytes(scope, key).decode("utf-8")

    def list(self, scope):
        raise NotImplementedError("kiln does not support dbutils.secrets.list inside tasks yet")

    def listScopes(self):
        raise NotImplementedError("kiln does not support dbutils.secrets.listScopes inside tasks yet")


class FileInfo(object):
    """An entry of dbutils.fs.ls, with Databricks' fields."""

    def __init__(self, path, name, size, modificationTime):
        self.path = path
        self.name = name
        self.size = size
        self.modificationTime = modificationTime

    def isDir(self):
        return self.name.endswith("/")

    def isFile(self):
        return not self.isDir()

    def __repr__(self):
        return "FileInfo(path=%r, name=%r, size=%r, modificationTime=%r)" % (
            self.path, self.name, self.size, self.modificationTime)

    def __eq__(self, other):
        return isinstance(other, FileInfo) and vars(self) == vars(other)


class _FS(object):
    """dbutils.fs over kiln's DBFS, as the run's owner: dbfs:/ paths (and
    /x, /dbfs/x); the task's own files are read with Python's functions."""

    def __init__(self, channel):
        self._channel = channel

    def _ask(self, op, path, **kw):
        msg = {"type": "fs", "op": op, "path": str(path)}
        msg.update(kw)
        answer = self._channel.ask(msg)
        if "error" in answer:
            raise Exception(answer["error"])
        return answer

    def ls(self, dir):
        return [FileInfo(e["path"], e["name"], e["size"], e["modificationTime"])
                for e in self._ask("ls", dir)["entries"]]

    def head(self, file, maxBytes=65536):
        data = base64.b64decode(self._ask("head", file, max_bytes=int(maxBytes))["data_b64"])
        return data.decode("utf-8", errors="replace")

    def put(self, file, contents, overwrite=False):
        data = contents.encode("utf-8") if isinstance(contents, str) else bytes(contents)
        self._ask("put", file, data_b64=base64.b64encode(data).decode("ascii"), overwrite=bool(overwrite))
        return True

    def mkdirs(self, dir):
        self._ask("mkdirs", dir)
        return True

    def rm(self, dir, recurse=False):
        self._ask("rm", dir, recurse=bool(recurse))
        return True

    def cp(self, from_, to, recurse=False):
        self._ask("cp", from_, dest=str(to), recurse=bool(recurse))
        return True

    def mv(self, from_, to, recurse=False):
        self._ask("mv", from_, dest=str(to), recurse=bool(recurse))
        return True

    def help(self, method=None):
        print("dbutils.fs in kiln: ls, head, put, mkdirs, rm, cp, mv over dbfs:/ paths")


class _TaskValues(object):
    """dbutils.jobs.taskValues: values a task sets for the tasks after it
    in the same run, kept by kiln as JSON."""

    def __init__(self, channel):
        self._channel = channel

    def set(self, key, value):
        try:
            encoded = json.dumps(value)
        except (TypeError, ValueError) as e:
            raise TypeError("dbutils.jobs.taskValues.set: the value of %s is not JSON-serializable: %s" % (key, e))
        answer = self._channel.ask({"type": "taskvalue", "op": "set", "key": str(key), "value_json": json.loads(encoded)})
        if "error" in answer:
            raise ValueError(answer["error"])

    def get(self, taskKey, key, default=None, debugValue=None):
        answer = self._channel.ask({"type": "taskvalue", "op": "get", "task_key": str(taskKey), "key": str(key)})
        if "error" in answer:
            raise ValueError(answer["error"])
        if answer.get("missing"):
            if default is None:
                raise ValueError("Task %s has set no task value %s, and no default was given." % (taskKey, key))
            return default
        return answer["value_json"]


class _Jobs(object):
    def __init__(self, channel):
        self.taskValues = _TaskValues(channel)


class _Unsupported(object):
    def __init__(self, what):
        self._what = what

    def __getattr__(self, name):
        raise NotImplementedError("kiln runs plain Python: %s is not available" % self._what)


class DBUtils(object):
    def __init__(self, channel, params, limit, depth=0):
        self.widgets = _Widgets(params)
        self.notebook = _Notebook(limit, channel, depth)
        self.secrets = _Secrets(channel)
        self.fs = _FS(channel)
        self.jobs = _Jobs(channel)
        self.library = _Unsupported("dbutils.library")


def display(*objs, **kwargs):
    for obj in objs:
        print(obj)


def displayHTML(html):
    print(html)


def _user_traceback(exc_type, exc, tb):
    # The trace shows only the user's code: kiln's own frames (this file,
    # wherever it sits in the stack, such as dbutils raising for a missing
    # widget) and the runpy frames that start a Python file task would
    # only point users at a file they never wrote. Chained exceptions
    # (raise ... from, during handling) are filtered alike.
    runpy_file = getattr(runpy, "__file__", None)
    kiln_files = {_SHIM_FILE, "<frozen runpy>", os.path.abspath(runpy_file) if runpy_file else "<frozen runpy>"}
    # A wheel's entry point is loaded through importlib: its frames are
    # the machinery's, not the user's.
    import importlib

    importlib_dir = os.path.dirname(os.path.abspath(importlib.__file__)) + os.sep

    def own(frame):
        name = frame.filename
        if name.startswith("<frozen importlib") or os.path.abspath(name).startswith(importlib_dir):
            return True
        return (name if name.startswith("<") else os.path.abspath(name)) in kiln_files

    te = traceback.TracebackException(exc_type, exc, tb)
    seen = set()
    todo = [te]
    while todo:
        t = todo.pop()
        if t is None or id(t) in seen:
            continue
        seen.add(id(t))
        t.stack = traceback.StackSummary.from_list([f for f in t.stack if not own(f)])
        todo.extend([t.__cause__, t.__context__] + list(getattr(t, "exceptions", None) or []))
    return "".join(te.format())


def _limit_of(exc):
    """Names the sandbox limit that exc shows the task ran into, or None.

    The kernel enforces the limits; the task only sees ordinary errors
    (MemoryError, EMFILE, EFBIG, EAGAIN from fork), so the runner learns
    which limit it was from here and can say so in the run's state."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, MemoryError):
            return "memory"
        if getattr(exc, "_kiln_process_limit", False):
            return "processes"
        if isinstance(exc, RuntimeError) and "can't start new thread" in str(exc):
            return "processes"
        if isinstance(exc, OSError) and exc.errno == errno.EMFILE:
            return "open_files"
        if isinstance(exc, OSError) and exc.errno == errno.EFBIG:
            return "file_size"
        exc = exc.__cause__ or exc.__context__
    return None


def _watch_process_limit(channel):
    """Marks the errors of starting a process at the process limit.

    fork fails with EAGAIN when the task has all the processes it may
    have; the same errno means other things elsewhere, so only the calls
    that start processes are watched. Forked children report too."""

    def watched(fn):
        def call(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except BlockingIOError as e:
                e._kiln_process_limit = True
                try:
                    channel.send({"type": "limit", "limit": "processes"})
                except Exception:
                    pass
                raise

        call.__wrapped__ = fn
        return call

    for name in ("fork", "forkpty", "posix_spawn", "posix_spawnp"):
        if hasattr(os, name):
            setattr(os, name, watched(getattr(os, name)))
    try:
        import subprocess

        subprocess.Popen._execute_child = watched(subprocess.Popen._execute_child)
    except Exception:
        pass


def _error_line(exc_type, exc):
    lines = traceback.format_exception_only(exc_type, exc)
    return lines[-1].strip() if lines else exc_type.__name__


def _send_exit(channel, value, limit):
    data = value.encode("utf-8", "replace")
    truncated = len(data) > limit
    if truncated:
        data = data[:limit].decode("utf-8", "ignore").encode("utf-8")
    channel.send({"type": "exit", "value_b64": base64.b64encode(data).decode("ascii"), "truncated": truncated})


def _await_memory_limit(limit):
    """Waits until the sandbox's address-space limit is in force.

    The sandbox sets it on this process right after it starts (the
    launcher cannot live under it itself); no task code runs before."""
    if not limit:
        return
    import resource

    deadline = time.monotonic() + 10
    while True:
        hard = resource.getrlimit(resource.RLIMIT_AS)[1]
        if hard != resource.RLIM_INFINITY and 0 <= hard <= limit:
            return
        if time.monotonic() > deadline:
            sys.stderr.write("kiln: the task's memory limit was not applied; not running it\n")
            sys.exit(3)
        time.sleep(0.001)


def _namespace(dbutils):
    """The globals a notebook (or a Python file task) starts with."""
    return {
        "__name__": "__main__",
        "dbutils": dbutils,
        "display": display,
        "displayHTML": displayHTML,
        "getArgument": dbutils.widgets.getArgument,
        "spark": _Unsupported("spark (there is no Spark session)"),
        "sc": _Unsupported("sc (there is no SparkContext)"),
    }


def _run_cells(cells, names, path, dbutils):
    """Run a notebook's cells in names, in order: Python compiled under a
    name that tracebacks show, %sh cells through the shell."""
    for cell in cells:
        notebook = cell.get("notebook") or path
        dbutils.notebook.current = notebook
        where = "<notebook %s, cell %d>" % (notebook, cell["index"])
        if cell.get("kind") == "shell":
            _run_shell(cell["source"], where)
            continue
        code = compile(cell["source"], where, "exec")
        exec(code, names)


class WheelError(Exception):
    """A wheel task's wheel cannot be installed, or its entry point not
    found: the message is the task's state message, the user's to fix."""


def _wheel_member(name):
    """The path elements of a wheel entry's name, or None when unpacking
    it would write outside the directory it is unpacked into (an absolute
    name, a "..", a NUL or a backslash, which no real wheel holds)."""
    if not name or "\x00" in name or "\\" in name or name.startswith("/"):
        return None
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if not parts or ".." in parts:
        return None
    return parts


def _install_wheels(wheels, site):
    """Unpack each wheel (a zip) into site, as pip would install it into
    site-packages but without pip, the network or any shared location.

    Every name of a wheel is checked before anything of it is written, so
    a wheel with a hostile entry is refused whole. Files are created
    afresh, never through a link, with no mode bits from the archive."""
    import zipfile
    import zlib

    os.makedirs(site, mode=0o700, exist_ok=True)
    root = os.path.realpath(site)
    for w in wheels:
        label = w["path"]
        try:
            zf = zipfile.ZipFile(w["file"])
        except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError):
            raise WheelError("The wheel %s is not a wheel: it is not a valid zip file." % label)
        with zf:
            members = []
            for info in zf.infolist():
                parts = _wheel_member(info.filename)
                if parts is None:
                    raise WheelError("The wheel %s holds the entry %r, which would be written outside the task's directory: kiln does not install it." % (label, info.filename))
                members.append((info, parts))
            for info, parts in members:
                target = os.path.join(root, *parts)
                try:
                    if info.is_dir():
                        os.makedirs(target, mode=0o700, exist_ok=True)
                        continue
                    parent = os.path.dirname(target)
                    os.makedirs(parent, mode=0o700, exist_ok=True)
                    if os.path.commonpath([os.path.realpath(parent), root]) != root:
                        raise WheelError("The wheel %s holds the entry %r, which would be written outside the task's directory: kiln does not install it." % (label, info.filename))
                    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
                    with os.fdopen(fd, "wb") as out, zf.open(info) as src:
                        shutil.copyfileobj(src, out, 1 << 20)
                except OSError as e:
                    if e.errno == errno.EFBIG:
                        raise  # the sandbox's file size limit: reported as such
                    raise WheelError("The wheel %s could not be installed: %s: %s." % (label, info.filename, e.strerror or e))
                except (zipfile.BadZipFile, EOFError, zlib.error) as e:
                    raise WheelError("The wheel %s is damaged: %s: %s." % (label, info.filename, e))


def _normalize(name):
    # PEP 503: runs of -, _ and . are one separator, case does not matter.
    return re.sub(r"[-_.]+", "-", name).lower()


def _wheel_entry_point(package, entry_point, site):
    """The function a wheel task calls, resolved as Databricks does: the
    entry point named entry_point in the metadata of the distribution
    package (console_scripts first, then gui_scripts, then any group),
    else the function entry_point of the module package."""
    import importlib
    import importlib.metadata as md

    dist = None
    for d in md.distributions(path=[site]):
        name = d.metadata["Name"] if d.metadata is not None else None
        if name and _normalize(name) == _normalize(package):
            dist = d
            break
    if dist is not None:
        rank = {"console_scripts": 0, "gui_scripts": 1}
        found = sorted((ep for ep in dist.entry_points if ep.name == entry_point), key=lambda ep: rank.get(ep.group, 2))
        if found:
            return found[0].load()
    module = package.replace("-", "_")
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as e:
        if e.name is None or (e.name != module and not module.startswith(e.name + ".")):
            raise  # the package itself imports something missing: its error
        if dist is None:
            raise WheelError("No wheel of the task holds the package %s (and Python has no module %s)." % (package, module))
        raise WheelError("The package %s has no entry point %s, and no module %s whose function %s could be called." % (package, entry_point, module, entry_point))
    fn = getattr(mod, entry_point, None)
    if not callable(fn):
        raise WheelError("The package %s has no entry point %s in its metadata, and %s.%s is not a function." % (package, entry_point, module, entry_point))
    return fn


def _run_wheel(spec, names):
    """Install the task's wheels into its own site directory and call the
    entry point with the parameters as sys.argv[1:]. dbutils, display and
    the others are builtins here, so the wheel's modules see them as a
    Python file task's code does."""
    import builtins
    import importlib

    site = spec["site"]
    _install_wheels(spec.get("wheels") or [], site)
    sys.path.insert(0, site)
    importlib.invalidate_caches()
    for k, v in names.items():
        if k != "__name__":
            setattr(builtins, k, v)
    fn = _wheel_entry_point(spec["package"], spec["entry_point"], site)
    sys.argv = [spec["package"]] + list(spec.get("args") or [])
    fn()


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        spec = json.load(f)
    _await_memory_limit(int(spec.get("memory_limit") or 0))
    channel = _Channel()
    _watch_process_limit(channel)
    limit = int(spec.get("result_limit", 5 * 1024 * 1024))
    dbutils = DBUtils(channel, spec.get("params"), limit)
    names = _namespace(dbutils)
    try:
        if spec["kind"] == "notebook":
            sys.argv = [spec["path"]]
            _run_cells(spec["cells"], names, spec["path"], dbutils)
        elif spec["kind"] == "wheel":
            _run_wheel(spec, names)
        else:
            sys.argv = [spec["file"]] + list(spec.get("args") or [])
            sys.path.insert(0, os.path.dirname(os.path.abspath(spec["file"])))
            init = dict(names)
            del init["__name__"]
            runpy.run_path(spec["file"], init_globals=init, run_name="__main__")
    except NotebookExit as e:
        sys.stdout.flush()
        _send_exit(channel, e.value, limit)
        return 0
    except WheelError as e:
        sys.stdout.flush()
        sys.stderr.write("kiln: %s\n" % e)
        channel.send({"type": "error", "error": str(e), "trace": "", "state": str(e)})
        return 1
    except SystemExit as e:
        if e.code is None or e.code == 0:
            return 0
        exc_type, exc, tb = sys.exc_info()
        channel.send({"type": "error", "error": "SystemExit: %s" % (e.code,), "trace": _user_traceback(exc_type, exc, tb)})
        return 1
    except BaseException:
        exc_type, exc, tb = sys.exc_info()
        kind = _limit_of(exc)
        if kind:
            channel.send({"type": "limit", "limit": kind})
        sys.stdout.flush()
        sys.stderr.write(_user_traceback(exc_type, exc, tb))
        channel.send({"type": "error", "error": _error_line(exc_type, exc), "trace": _user_traceback(exc_type, exc, tb)})
        return 1
    return 0


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # os._exit: threads the task left running must not keep it alive.
    os._exit(code)
