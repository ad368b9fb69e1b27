/* The local executor's node init, in C: what runs as PID 1 of each node's namespaces.
 *
 * The fork server (plugins/local.py) decides what a node's view of the files is and hands
 * this code a plan: a list of mount operations, computed once per mount table. This code only
 * carries the plan out, starts the step, forwards SIGTERM/SIGINT to it, reaps, and once the
 * step ended kills what is left of the node, records its exit code and exits. Why C: a forked
 * Python init copied (on write) a page for each object it touched and ran the plan's logic in
 * bytecode, ~3 ms of CPU per node, against ~0.5 ms for the same system calls here.
 *
 * The fork server spawns this program once, to serve it (see serve): for each node it forks
 * the init into the node's namespaces from itself, ~1 MB, where forking the server's ~10 MB
 * cost ~1.5 ms of CPU a node in page tables and copies on write, and spawning this program
 * for each node ~0.5 ms in its exec and the C library's start-up (still done for a request
 * too big for one message: see main). Built by setup.py where a C compiler is; without it the
 * fork server runs the same plan in Python (local.py's run_plan).
 *
 * A plan is a list of arguments: an operation's code (its letter, then a digit of flags),
 * then its fixed number of arguments. Paths are relative to the node's directory, the init's
 * working directory until the view becomes its root.
 *   P                          make / and all below private (no propagation to the host)
 *   W path text                write text into path (pid_max, cgroup.procs)
 *   D path                     make a directory and its parents
 *   F path                     make an empty file (and its parents) unless one is there
 *   L path text                make a symlink to text unless path exists
 *   B source target            bind source (and what is mounted below it) at target
 *   R target                   make the bind at target read-only, keeping nosuid/nodev/noexec
 *   M source target type flags data   mount(2); "" is NULL
 *   O lower target layer options     an overlay of lower at target, upper and work dirs in layer;
 *                              options: tried in turn, separated by '|'; if all fail, lower is
 *                              bound there instead, unless flag 8 says that is a failure
 *   C root                     make root the root (pivot_root), the host's / detached
 * Flags: 1 skip unless the target is a directory; 2 a vanished source (ENOENT) is skipped;
 * 4 any failure is skipped.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef SYS_close_range
#define SYS_close_range 436
#endif

extern char **environ;
static volatile pid_t step;
static volatile sig_atomic_t pending[2];

static void forward(int sig) {
    if (step > 0)
        kill(-step, sig);
    else
        pending[sig == SIGINT] = sig;
}

static void say(const char *a, const char *b, const char *c) {
    char line[4096];
    int n = snprintf(line, sizeof line, "argosy: %s%s%s\n", a, b, c);
    if (n > 0)
        (void)!write(2, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}

/* Why setting up the node failed, recorded with its exit code (125): the node's message. */
static char reason[2048];

static int failed(const char *what, const char *path) {
    snprintf(reason, sizeof reason, "setting up the node failed: %s%s", what, path);
    say(reason, "", "");
    return -1;
}

static int fail_errno(const char *what, const char *path) {
    char tail[1024];
    snprintf(tail, sizeof tail, "%s: %s", path, strerror(errno));
    return failed(what, tail);
}

static int make_dirs(const char *path) {
    char buf[4096];
    size_t n = strlen(path);
    if (n >= sizeof buf)
        return errno = ENAMETOOLONG, -1;
    memcpy(buf, path, n + 1);
    for (char *p = buf + 1; ; p++) {
        if (*p == '/' || *p == '\0') {
            char c = *p;
            *p = '\0';
            if (mkdir(buf, 0755) && errno != EEXIST)
                return -1;
            *p = c;
            if (c == '\0')
                return 0;
        }
    }
}

static int make_file(const char *path) {
    if (access(path, F_OK) == 0)
        return 0;
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash && slash != dir) {
        *slash = '\0';
        if (make_dirs(dir))
            return -1;
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    return fd < 0 ? -1 : close(fd);
}

static int write_text(const char *path, const char *text) {
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = write(fd, text, strlen(text));
    int e = errno;
    close(fd);
    errno = e;
    return n < 0 ? -1 : 0;
}

static int is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int overlay(const char *lower, const char *target, const char *layer, const char *opts,
                   int bind_instead) {
    char data[4096], escaped[2048];
    size_t j = 0;
    for (const char *s = lower; *s && j < sizeof escaped - 2; s++) {
        if (*s == ',' || *s == ':' || *s == '\\')
            escaped[j++] = '\\';
        escaped[j++] = *s;
    }
    escaped[j] = '\0';
    const char *o = opts;
    for (;;) {
        const char *end = strchr(o, '|');
        int len = end ? (int)(end - o) : (int)strlen(o);
        snprintf(data, sizeof data, "lowerdir=%s,upperdir=%s/upper,workdir=%s/work%.*s",
                 escaped, layer, layer, len, o);
        if (mount("overlay", target, "overlay", 0, data) == 0)
            return 0;
        if (!end)
            break;
        o = end + 1;
    }
    return bind_instead ? mount(lower, target, NULL, MS_BIND | MS_REC, NULL) : -1;
}

static int pivot(const char *root) {
    if (chdir(root))
        return -1;
    if (syscall(SYS_pivot_root, ".", "."))
        return -1;
    if (umount2(".", MNT_DETACH))
        return -1;
    return chdir("/");
}

static int remount_read_only(const char *target) {
    struct statvfs st;
    if (statvfs(target, &st))
        return -1;
    unsigned long kept = st.f_flag & (MS_NOSUID | MS_NODEV | MS_NOEXEC);
    return mount(NULL, target, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | kept, NULL);
}

static const char *null_if_empty(const char *s) { return *s ? s : NULL; }

static int run_plan(char **plan, long len) {
    char **end = plan + len, **p = plan;
    const char *a[6];
    while (p < end) {
        char op = (*p)[0];
        int flags = (*p)[0] && (*p)[1] ? (*p)[1] - '0' : 0;
        p++;
        int n = op == 'P' ? 0 : strchr("DFRC", op) ? 1 : strchr("WLB", op) ? 2
              : op == 'O' ? 4 : op == 'M' ? 5 : -1;
        if (n < 0 || p + n > end)
            return failed("a malformed plan", "");
        for (int i = 0; i < n; i++)
            a[i] = *p++;
        const char *target = strchr("BMO", op) ? a[1] : n ? a[0] : "/";
        if ((flags & 1) && !is_dir(target))
            continue;
        int r = 0;
        const char *what = "";
        switch (op) {
        case 'P': what = "making / private"; r = mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL); break;
        case 'W': what = "writing "; r = write_text(a[0], a[1]); break;
        case 'D': what = "making the directory "; r = make_dirs(a[0]); break;
        case 'F': what = "making the file "; r = make_file(a[0]); break;
        case 'L': what = "making the symlink ";
            r = (access(a[0], F_OK) == 0 || errno != ENOENT) ? 0 : symlink(a[1], a[0]); break;
        case 'B': what = "bind-mounting onto "; r = mount(a[0], a[1], NULL, MS_BIND | MS_REC, NULL); break;
        case 'R': what = "making read-only "; r = remount_read_only(a[0]); break;
        case 'M': what = "mounting ";
            r = mount(null_if_empty(a[0]), a[1], null_if_empty(a[2]), strtoul(a[3], NULL, 10),
                      null_if_empty(a[4]));
            break;
        case 'O': what = "mounting an overlay on "; r = overlay(a[0], a[1], a[2], a[3], !(flags & 8)); break;
        case 'C': what = "entering the root "; r = pivot(a[0]); break;
        }
        if (r && !((flags & 4) || ((flags & 2) && errno == ENOENT)))
            return fail_errno(what, target);
    }
    return 0;
}

/* The step's program, looked up in PATH (the node's, in its view) as execvp would. */
static const char *resolve(const char *cmd, const char *path, char *buf, size_t size) {
    if (strchr(cmd, '/'))
        return cmd;
    const char *d = path;
    for (;;) {
        const char *colon = strchr(d, ':');
        int len = colon ? (int)(colon - d) : (int)strlen(d);
        snprintf(buf, size, "%.*s%s%s", len, d, len ? "/" : "", cmd);
        struct stat st;
        if (stat(buf, &st) == 0 && S_ISREG(st.st_mode) && access(buf, X_OK) == 0)
            return buf;
        if (!colon)
            break;
        d = colon + 1;
    }
    errno = ENOENT;
    return NULL;
}

static int start_step(char **argv, char **envp, const char *path) {
    char buf[4096];
    const char *file = resolve(argv[0], path, buf, sizeof buf);
    int err = errno;
    if (file) {
        posix_spawnattr_t attr;
        sigset_t all, none;
        sigfillset(&all);
        sigdelset(&all, SIGKILL);
        sigdelset(&all, SIGSTOP);
        sigemptyset(&none);
        posix_spawnattr_init(&attr);
        posix_spawnattr_setsigdefault(&attr, &all);
        posix_spawnattr_setsigmask(&attr, &none);
        posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK |
                                 POSIX_SPAWN_SETSID);
        pid_t pid;
        err = posix_spawn(&pid, file, NULL, &attr, argv, envp);
        posix_spawnattr_destroy(&attr);
        if (err == 0)
            return pid;
    }
    say(argv[0], ": ", strerror(err));  /* as sh reports it: 127 not found, else 126 */
    return err == ENOENT ? -127 : -126;
}

/* The node's plan and host paths are our arguments, which the step could read in
 * /proc/1/cmdline: wiped, its own argv copied out first. */
static char *arg_start, *arg_end;

static void hide_arguments(char **argv) {
    for (int i = 0; argv[i]; i++)
        argv[i] = strdup(argv[i]);
    if (arg_start)
        memset(arg_start, 0, (size_t)(arg_end - arg_start));
}

static void record(int code) {
    char text[16 + sizeof reason];
    int n = reason[0] ? snprintf(text, sizeof text, "%d\n%s\n", code, reason)
                      : snprintf(text, sizeof text, "%d\n", code);
    int fd = openat(3, "rc", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd >= 0) {
        (void)!write(fd, text, (size_t)n);  /* one write: a reader never sees half a line */
        close(fd);
    }
}

static int node_init(char **plan, long plan_len, char **argv, const char *node,
                     const char *cwd, const char *path) {
    int code = 125;
    struct sigaction act = {0};
    act.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; sig++)
        sigaction(sig, &act, NULL);  /* what the server ignores, exec keeps ignored */
    act.sa_handler = forward;
    sigaction(SIGTERM, &act, NULL);
    sigaction(SIGINT, &act, NULL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);  /* the step cannot reach our fds through /proc/1/fd */
    setsid();  /* the engine signals the node as a process group */
    fcntl(3, F_SETFD, FD_CLOEXEC);  /* the node's directory and the done pipe: ours only */
    fcntl(4, F_SETFD, FD_CLOEXEC);
    if (syscall(SYS_close_range, 5U, ~0U, 0U))  /* the pid report pipe's write end */
        close(5);
    /* By path, not fd 3: that one is of the server's mount namespace, where overlayfs would
     * refuse an upper layer. */
    if (chdir(node)) {
        fail_errno("entering the node's directory ", node);
        goto done;
    }
    if (run_plan(plan, plan_len))
        goto done;
    if (make_dirs(cwd) || chdir(cwd)) {  /* as a container runtime makes a missing workingDir */
        fail_errno("entering the working directory ", cwd);
        goto done;
    }
    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);  /* ours, not the step's */
    path = strdup(path);
    hide_arguments(argv);
    int pid = start_step(argv, environ, path);
    if (pid < 0) {
        code = -pid;
        goto done;
    }
    step = pid;
    for (int i = 0; i < 2; i++)
        if (pending[i])
            kill(-pid, pending[i]);
    for (;;) {
        int status;
        pid_t got = waitpid(-1, &status, 0);
        if (got == pid) {
            code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            break;
        }
        if (got < 0 && errno != EINTR)
            break;
    }
done:
    /* The node's end, before its namespaces are torn down: nothing of it runs any more once
     * rc says how it ended and the done pipe closes. */
    kill(-1, SIGKILL);  /* as PID 1: every other process of the namespace */
    while (waitpid(-1, NULL, 0) > 0 || errno == EINTR)
        ;
    record(code);
    close(4);  /* the done pipe's last write end: the engine goes on while we exit */
    return code;
}

/* The node's init, forked with CLONE_PARENT: the fork server's child, as it would be if the
 * server had forked it. args: node directory, working directory, the step's PATH, the plan's
 * field count N, the N fields, then the step's argv (NULL-terminated, argc of them in all).
 * fds: the init's 0-4 (see main), or NULL where they are in place already; envp: the step's
 * environment, or NULL for ours. Its pid, or -errno. */
static long start_init(int argc, char **args, const int *fds, char **envp) {
    if (argc < 5)
        return -EINVAL;
    long n = strtol(args[3], NULL, 10);
    if (n < 0 || n > argc - 5)
        return -EINVAL;
    /* Blocked across the clone: as PID 1 of its namespace the init would drop a SIGTERM or
     * SIGINT that came before its handler; blocked, it waits for node_init to take it. */
    sigset_t stop, before;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    sigprocmask(SIG_BLOCK, &stop, &before);
    long pid = syscall(SYS_clone, CLONE_NEWPID | CLONE_NEWNS | CLONE_PARENT | SIGCHLD,
                       NULL, NULL, NULL, NULL);
    int err = errno;
    if (pid != 0)
        sigprocmask(SIG_SETMASK, &before, NULL);
    if (pid == 0) {
        if (fds) {
            int high[5];
            for (int i = 0; i < 5; i++)  /* above 0-4 first, so no dup2 overwrites one */
                high[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 10);
            for (int i = 0; i < 5; i++)
                dup2(high[i], i);  /* node_init closes the rest */
        }
        if (envp)
            environ = envp;
        _exit(node_init(args + 4, n, args + 4 + n, args[0], args[1], args[2]));
    }
    return pid < 0 ? -err : pid;
}

/* Serving: one init per request, without an exec of this program for each (the exec and the
 * C library's start-up, which asks the CPU for its features and caches, cost ~0.5 ms of CPU
 * a node in a VM). fd 3 is a SOCK_SEQPACKET socket to the fork server; a request is one
 * message: the count of start_init's args, those args, then the step's environment, each
 * NUL-terminated, with the init's five fds attached. The answer is the init's pid (or
 * -errno), as 8 bytes. Ends when the fork server hangs up. */
#define MAX_REQUEST (4 << 20)
#define MAX_STRINGS (256 << 10)

static long serve_one(char *buf, ssize_t len, const int *fds) {
    static char *strings[MAX_STRINGS + 2];
    char *p = buf, *end = buf + len;
    if (len <= 0 || end[-1] != '\0')
        return -EINVAL;
    long argc = strtol(p, NULL, 10);
    if (argc < 5 || argc > MAX_STRINGS)
        return -EINVAL;
    long i = 0;
    for (p += strlen(p) + 1; p < end && i < MAX_STRINGS; p += strlen(p) + 1) {
        if (i == argc)
            strings[i++] = NULL;  /* argv's end, then the environment */
        strings[i++] = p;
    }
    if (p < end || i < argc)
        return p < end ? -E2BIG : -EINVAL;
    if (i == argc)
        strings[i++] = NULL;
    strings[i] = NULL;
    return start_init((int)argc, strings, fds, strings + argc + 1);
}

static int serve(void) {
    char *buf = malloc(MAX_REQUEST);
    if (!buf)
        return 1;
    for (;;) {
        union { char bytes[CMSG_SPACE(5 * sizeof(int))]; struct cmsghdr align; } control;
        struct iovec iov = {buf, MAX_REQUEST};
        struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.bytes,
                             .msg_controllen = sizeof control.bytes};
        ssize_t len = recvmsg(3, &msg, MSG_CMSG_CLOEXEC);
        if (len < 0 && errno == EINTR)
            continue;
        if (len <= 0)
            return 0;
        int fds[5], got = 0;
        struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
        if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
            got = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
            memcpy(fds, CMSG_DATA(c), sizeof(int) * (size_t)(got < 5 ? got : 5));
        }
        int64_t report = got == 5 && !(msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC))
            ? serve_one(buf, len, fds) : -EINVAL;
        memset(buf, 0, (size_t)len);  /* a later node's init never holds this one's env */
        for (int i = 0; i < got && i < 5; i++)
            close(fds[i]);
        if (send(3, &report, sizeof report, MSG_NOSIGNAL) != sizeof report)
            return 1;
    }
}

/* argv: start_init's args; fds 0-2 are the step's stdin, stdout and stderr, 3 the node's
 * directory (O_PATH), 4 the write end of its done pipe and 5 where the init's pid (or -errno)
 * goes, as 8 bytes; this program exits at once. Or argv "--serve": see serve. */
int main(int argc, char **argv) {
    if (argc == 2 && strcmp(argv[1], "--serve") == 0)
        return serve();
    arg_start = argv[1];
    arg_end = argv[argc - 1] + strlen(argv[argc - 1]);
    int64_t report = start_init(argc - 1, argv + 1, NULL, NULL);
    return write(5, &report, sizeof report) == sizeof report ? 0 : 1;
}
