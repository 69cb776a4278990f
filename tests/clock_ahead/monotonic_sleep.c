/*
 * Preloaded ahead of libfaketime when the test suites run with the clock moved ahead
 * (tests/clock_ahead/run). libfaketime 0.9.10 (Debian bookworm) breaks Python's sleeps:
 * with the monotonic clock faked, timed waits never return (libfaketime issue 390); with
 * FAKETIME_DONT_FAKE_MONOTONIC=1 they work but clock_nanosleep() on CLOCK_MONOTONIC returns
 * EINVAL, so time.sleep() fails (issue 426, fixed after 0.9.10).
 *
 * The monotonic clocks are not faked in that mode, so a sleep on them needs no translation:
 * this wrapper hands it straight to the kernel, and every other clock to libfaketime.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

typedef int (*clock_nanosleep_fn)(clockid_t, int, const struct timespec *, struct timespec *);

int clock_nanosleep(clockid_t clock_id, int flags, const struct timespec *request,
                    struct timespec *remain) {
    if (clock_id == CLOCK_MONOTONIC || clock_id == CLOCK_MONOTONIC_RAW ||
        clock_id == CLOCK_BOOTTIME) {
        /* clock_nanosleep() returns the error number; the raw system call sets errno. */
        return syscall(SYS_clock_nanosleep, clock_id, flags, request, remain) == 0 ? 0 : errno;
    }
    static clock_nanosleep_fn next;
    if (next == NULL) {
        next = (clock_nanosleep_fn)dlsym(RTLD_NEXT, "clock_nanosleep");
    }
    return next(clock_id, flags, request, remain);
}
