/* A disk that syncs slowly, on purpose (issue 19's benchmarks): preloaded into a process
 * (LD_PRELOAD), every fsync and fdatasync waits SLOWSYNC_US microseconds (default 2000)
 * before doing the real one, as a busy or network-attached disk does. Reads, writes and
 * everything else are untouched. Built by scripts/bench/writepath. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <time.h>

static void wait_for_the_disk(void) {
    static long delay = -1;
    if (delay < 0) {
        const char *text = getenv("SLOWSYNC_US");
        delay = text ? atol(text) : 2000;
    }
    struct timespec pause = { delay / 1000000, (delay % 1000000) * 1000 };
    nanosleep(&pause, NULL);
}

int fsync(int fd) {
    static int (*real)(int);
    if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
    wait_for_the_disk();
    return real(fd);
}

int fdatasync(int fd) {
    static int (*real)(int);
    if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
    wait_for_the_disk();
    return real(fd);
}
