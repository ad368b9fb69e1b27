"""Run a command as user nobody, with read access to the checkout and the Python that runs it.

    python open_up.py PATH... -- COMMAND...

Run as root in a mount namespace of its own (``unshare --mount``): every directory on the way
to each PATH that others may not enter (root's home directory, for a clone or a Python kept
there) is covered, in this namespace only, by a tmpfs that others may enter, holding bind
mounts of everything the directory held, so nobody reaches the same files by the same paths and
nothing changes for the host. Then it becomes nobody and executes COMMAND (as a child, when it
is the init of a PID namespace).
"""

from __future__ import annotations

import ctypes
import os
import stat
import sys

MS_BIND, MS_REC = 0x1000, 0x4000
NOBODY = 65534
libc = ctypes.CDLL(None, use_errno=True)
libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong,
                       ctypes.c_void_p]


def mount(source: str, target: str, kind: str | None, flags: int, data: str | None) -> None:
    if libc.mount(source.encode(), target.encode(), kind and kind.encode(), flags,
                  data and data.encode()):
        err = ctypes.get_errno()
        raise OSError(err, f"mount {source} on {target}: {os.strerror(err)}")


def open_up(directory: str) -> None:
    """Cover ``directory`` with an enterable tmpfs holding what it held."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    entries = os.listdir(fd)
    mount("tmpfs", directory, "tmpfs", 0, "mode=0755")
    for name in entries:
        source, target = f"/proc/self/fd/{fd}/{name}", os.path.join(directory, name)
        mode = os.lstat(source).st_mode
        if stat.S_ISLNK(mode):
            os.symlink(os.readlink(source), target)
            continue
        if stat.S_ISDIR(mode):
            os.mkdir(target)
        else:
            open(target, "w").close()
        mount(source, target, None, MS_BIND | MS_REC, None)
    os.close(fd)


def closed_ancestors(path: str) -> list[str]:
    """The directories from / to ``path`` that others may not enter, outermost first."""
    closed, current = [], "/"
    for part in os.path.realpath(path).strip("/").split("/"):
        current = os.path.join(current, part)
        try:
            mode = os.stat(current).st_mode
        except FileNotFoundError:
            break
        if stat.S_ISDIR(mode) and not mode & stat.S_IXOTH:
            closed.append(current)
    return closed


def main(argv: list[str]) -> None:
    split = argv.index("--")
    paths, command = argv[:split], argv[split + 1:]
    mount("none", "/", None, MS_REC | 0x40000, None)  # private: nothing reaches the host
    done: set[str] = set()
    for path in paths:
        for directory in closed_ancestors(path):
            if directory not in done:
                open_up(directory)
                done.add(directory)
    os.setgroups([])
    os.setgid(NOBODY)
    os.setuid(NOBODY)
    if os.getpid() == 1:  # init of a PID namespace: stay it, or orphans would be COMMAND's
        sys.exit(init(command))
    os.execvp(command[0], command)


def init(command: list[str]) -> int:
    """Run ``command``, reaping every orphan meanwhile; its exit code."""
    child = os.fork()
    if child == 0:
        os.execvp(command[0], command)
    while True:
        pid, status = os.wait()
        if pid == child:
            return os.waitstatus_to_exitcode(status)


if __name__ == "__main__":
    main(sys.argv[1:])
