/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Per-case results for the in-guest tests, in the manner of the kernel's
 * tools/testing/selftests/kselftest_harness.h: a program defines cases with
 * TEST(name) or, around a fixture, TEST_F(fixture, name), and ends with
 * TEST_HARNESS_MAIN.  Each case runs in a child process of its own, so
 * FAIL(), CHECK() and skip() end that case only, a crash is that case's
 * failure (with the faulting address and a backtrace), and the next case
 * starts from a fresh process.
 *
 *   FIXTURE(dev) { int fd; };
 *   FIXTURE_SETUP(dev) { self->fd = hc1_open(); }
 *   FIXTURE_TEARDOWN(dev) { close(self->fd); }
 *   TEST_F(dev, info) { ... self->fd ... }
 *   TEST(context_limit) { ... }
 *   TEST_HARNESS_MAIN
 *
 * The teardown also runs when the case fails or skips (an atexit handler in
 * the child), so a case that sets a fault-injection mode can always clear
 * it.  Output is TAP 13, one line a case, named PROGRAM.CASE
 * (docs/contributing.md), which tests/summary.py counts:
 *
 *   TAP version 13
 *   1..3
 *   # RUN guest-hc1-ioctl.info
 *   ok 1 guest-hc1-ioctl.info
 *   not ok 2 guest-hc1-ioctl.identify # exit 1
 *   ok 3 guest-hc1-ioctl.stats # SKIP card has no statistics
 *   # guest-hc1-ioctl: 1 passed, 1 failed, 1 skipped
 *
 *   PROGRAM [-l] [-t CASE]... [ARG...]
 *
 * -l lists the cases, -t CASE (repeatable) runs only those, as
 * kselftest_harness.h's -t does; the ARGs left are the program's own (a
 * soak's size, a storm's seed: hc1_test_arg()).  Exit status: 1 if a case
 * failed, 77 if every case skipped, 2 for a bad command line, else 0.
 * HC1_TEST_TIMEOUT=SECONDS ends a case that runs longer (SIGALRM); by
 * default only hc1-run-tests' limit for the whole program applies, as the
 * debug kernel is many times slower, and tests/summary.py then fails the
 * case that was running.
 *
 * The harness knows nothing of the card: C programs take their helpers from
 * hc1_guest.h, the libhc ones from tests/libhc/guest/guest.hpp, and it
 * compiles as either language.  In C++ an exception that escapes a case
 * fails it with its what().
 */
#ifndef HC1_HARNESS_H
#define HC1_HARNESS_H

#include <errno.h>
#include <execinfo.h>
#include <libgen.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#ifdef __cplusplus
#include <exception>
#endif

#define HC1_TEST_MAX 64

/*
 * Where skip() leaves its reason: memory shared with the case's child
 * process, NULL until the harness maps it.
 */
#define HC1_SKIP_REASON_LEN 256
static char* hc1_skip_reason;

/* End the case as skipped (exit 77), saying why. */
__attribute__((noreturn)) static inline void skip(const char* why) {
    fprintf(stderr, "SKIP: %s\n", why);
    if (hc1_skip_reason)
        snprintf(hc1_skip_reason, HC1_SKIP_REASON_LEN, "%s", why);
    exit(77);
}

struct hc1_test_case {
    const char* name;
    void (*run)(void);
};

static struct hc1_test_case hc1_tests[HC1_TEST_MAX];
static unsigned int hc1_n_tests;
/* The program's own arguments, what is left after the harness's options. */
static int hc1_test_argc;
static char** hc1_test_argv;

static inline void hc1_test_register(const char* name, void (*run)(void)) {
    if (hc1_n_tests == HC1_TEST_MAX) {
        fprintf(stderr, "hc1_harness.h: more than %d cases\n", HC1_TEST_MAX);
        abort();
    }
    hc1_tests[hc1_n_tests].name = name;
    hc1_tests[hc1_n_tests].run = run;
    hc1_n_tests++;
}

/*
 * The program's argument @i (from 0) as a number, or @def when not given.
 * A word that is not a number is a bad command line (exit 2).
 */
static inline unsigned long hc1_test_arg(int i, unsigned long def) {
    unsigned long v;
    char* end;

    if (i >= hc1_test_argc)
        return def;
    errno = 0;
    v = strtoul(hc1_test_argv[i], &end, 0);
    if (errno || end == hc1_test_argv[i] || *end) {
        fprintf(stderr, "argument %d: %s is not a number\n", i + 1, hc1_test_argv[i]);
        exit(2);
    }
    return v;
}

#define TEST(name)                                                                                 \
    static void hc1_test_##name(void);                                                             \
    __attribute__((constructor)) static void hc1_test_register_##name(void) {                      \
        hc1_test_register(#name, hc1_test_##name);                                                 \
    }                                                                                              \
    static void hc1_test_##name(void)

/* A fixture: FIXTURE(f) { members }; then FIXTURE_SETUP(f), FIXTURE_TEARDOWN(f). */
#define FIXTURE(f) struct hc1_fixture_##f
#define FIXTURE_SETUP(f) static void hc1_setup_##f(struct hc1_fixture_##f* self)
#define FIXTURE_TEARDOWN(f) static void hc1_teardown_##f(struct hc1_fixture_##f* self)

#define TEST_F(f, name)                                                                            \
    static void hc1_body_##f##_##name(struct hc1_fixture_##f* self);                               \
    static struct hc1_fixture_##f* hc1_self_##f##_##name;                                          \
    static void hc1_down_##f##_##name(void) {                                                      \
        hc1_teardown_##f(hc1_self_##f##_##name);                                                   \
    }                                                                                              \
    static void hc1_run_##f##_##name(void) {                                                       \
        static struct hc1_fixture_##f self;                                                        \
                                                                                                   \
        hc1_setup_##f(&self);                                                                      \
        hc1_self_##f##_##name = &self;                                                             \
        atexit(hc1_down_##f##_##name);                                                             \
        hc1_body_##f##_##name(&self);                                                              \
    }                                                                                              \
    __attribute__((constructor)) static void hc1_test_register_##f##_##name(void) {                \
        hc1_test_register(#name, hc1_run_##f##_##name);                                            \
    }                                                                                              \
    static void hc1_body_##f##_##name(struct hc1_fixture_##f* self)

/* The cases -t named, or none for all. */
static const char* hc1_test_only[HC1_TEST_MAX];
static unsigned int hc1_n_only;

static inline bool hc1_test_selected(const char* name) {
    unsigned int i;

    if (!hc1_n_only)
        return true;
    for (i = 0; i < hc1_n_only; i++)
        if (!strcmp(hc1_test_only[i], name))
            return true;
    return false;
}

/*
 * A crash: where, and the stack that led there, under the case's result.
 * Not async-signal-safe in the strict sense (backtrace_symbols_fd() is
 * close), but the process is lost anyway; then die of the signal itself.
 */
static inline void hc1_test_on_crash(int sig, siginfo_t* info, void* uctx) {
    void* frames[32];
    char line[128];
    int n, len;

    (void)uctx;
    len = snprintf(line, sizeof(line), "# CRASH: signal %d (%s) at address %p\n", sig,
                   strsignal(sig), info->si_addr);
    if (write(STDOUT_FILENO, line, len) < 0)
        _exit(128 + sig);
    n = backtrace(frames, 32);
    backtrace_symbols_fd(frames, n, STDOUT_FILENO);
    signal(sig, SIG_DFL);
    raise(sig);
}

static inline void hc1_test_catch_crashes(void) {
    static const int sigs[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE};
    struct sigaction sa;
    void* frame;
    unsigned int i;

    /* backtrace() loads libgcc on its first call: not in the handler. */
    backtrace(&frame, 1);
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = hc1_test_on_crash;
    sa.sa_flags = SA_SIGINFO | SA_RESETHAND;
    /* One of a sanitizer's (AddressSanitizer's SEGV report) stays. */
    for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
        struct sigaction old;

        if (!sigaction(sigs[i], NULL, &old) && !(old.sa_flags & SA_SIGINFO) &&
            old.sa_handler == SIG_DFL)
            sigaction(sigs[i], &sa, NULL);
    }
}

/* The case's body; in C++ an escaping exception is its failure. */
static inline void hc1_test_call(const struct hc1_test_case* t) {
#ifdef __cplusplus
    try {
        t->run();
    } catch (const std::exception& e) {
        fprintf(stderr, "FAIL: uncaught exception: %s\n", e.what());
        exit(1);
    }
#else
    t->run();
#endif
}

/* Runs one case in a child; returns 0 pass, 1 fail, 2 skip, and why. */
static inline int hc1_test_run_one(const struct hc1_test_case* t, unsigned int timeout, char* why,
                                   size_t why_len) {
    int status;
    pid_t pid;

    memset(hc1_skip_reason, 0, HC1_SKIP_REASON_LEN);
    fflush(NULL);
    pid = fork();
    if (pid < 0) {
        snprintf(why, why_len, "fork: %s", strerror(errno));
        return 1;
    }
    if (pid == 0) {
        /* A failure's message lands under its case, not after every case. */
        dup2(STDOUT_FILENO, STDERR_FILENO);
        hc1_test_catch_crashes();
        alarm(timeout);
        hc1_test_call(t);
        exit(0);
    }
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) {
            snprintf(why, why_len, "waitpid: %s", strerror(errno));
            return 1;
        }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 77) {
        snprintf(why, why_len, "%s", hc1_skip_reason[0] ? hc1_skip_reason : "no reason given");
        return 2;
    }
    if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM)
        snprintf(why, why_len, "timed out after %us", timeout);
    else if (WIFSIGNALED(status))
        snprintf(why, why_len, "killed by signal %d (%s)", WTERMSIG(status),
                 strsignal(WTERMSIG(status)));
    else
        snprintf(why, why_len, "exit %d", WEXITSTATUS(status));
    return 1;
}

static inline int hc1_test_usage(const char* prog) {
    fprintf(stderr, "usage: %s [-l] [-t CASE]... [ARG...]\n", prog);
    return 2;
}

/* -l and -t CASE; what follows them is the program's (hc1_test_arg()). */
static inline int hc1_test_options(const char* prog, int argc, char** argv, bool* list) {
    int i;

    for (i = 1; i < argc && argv[i][0] == '-'; i++) {
        unsigned int j;

        if (!strcmp(argv[i], "--")) {
            i++;
            break;
        }
        if (!strcmp(argv[i], "-l")) {
            *list = true;
            continue;
        }
        if (strcmp(argv[i], "-t") || i + 1 == argc)
            return hc1_test_usage(prog);
        i++;
        for (j = 0; j < hc1_n_tests && strcmp(hc1_tests[j].name, argv[i]); j++)
            ;
        if (j == hc1_n_tests) {
            fprintf(stderr, "%s: no case %s (-l lists them)\n", prog, argv[i]);
            return 2;
        }
        if (hc1_n_only == HC1_TEST_MAX)
            return hc1_test_usage(prog);
        hc1_test_only[hc1_n_only++] = argv[i];
    }
    hc1_test_argc = argc - i;
    hc1_test_argv = argv + i;
    return 0;
}

static inline int hc1_test_main(int argc, char** argv) {
    const char* timeout_env = getenv("HC1_TEST_TIMEOUT");
    unsigned int timeout = timeout_env ? strtoul(timeout_env, NULL, 0) : 0;
    const char* prog = basename(argv[0]);
    unsigned int i, n = 0, pass = 0, fail = 0, skipped = 0;
    char why[HC1_SKIP_REASON_LEN + 32] = "no case ran";
    bool list = false;
    int r;

    r = hc1_test_options(prog, argc, argv, &list);
    if (r)
        return r;
    if (list) {
        for (i = 0; i < hc1_n_tests; i++)
            printf("%s\n", hc1_tests[i].name);
        return 0;
    }
    /* Shared with the children: skip() leaves its reason here. */
    hc1_skip_reason = (char*)mmap(NULL, HC1_SKIP_REASON_LEN, PROT_READ | PROT_WRITE,
                                  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (hc1_skip_reason == MAP_FAILED) {
        perror("mmap");
        return 1;
    }
    for (i = 0; i < hc1_n_tests; i++)
        n += hc1_test_selected(hc1_tests[i].name);
    /* Each line out before a case can crash: TAP and the case's output in order. */
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("TAP version 13\n1..%u\n", n);
    n = 0;
    for (i = 0; i < hc1_n_tests; i++) {
        const struct hc1_test_case* t = &hc1_tests[i];

        if (!hc1_test_selected(t->name))
            continue;
        n++;
        printf("# RUN %s.%s\n", prog, t->name);
        r = hc1_test_run_one(t, timeout, why, sizeof(why));
        if (r == 0) {
            pass++;
            printf("ok %u %s.%s\n", n, prog, t->name);
        } else if (r == 2) {
            skipped++;
            printf("ok %u %s.%s # SKIP %s\n", n, prog, t->name, why);
        } else {
            fail++;
            printf("not ok %u %s.%s # %s\n", n, prog, t->name, why);
        }
    }
    printf("# %s: %u passed, %u failed, %u skipped\n", prog, pass, fail, skipped);
    fflush(stdout);
    if (fail)
        return 1;
    if (!pass) {
        /* For hc1-run-tests, which looks for the reason on stderr. */
        fprintf(stderr, "SKIP: %s\n", why);
        return 77;
    }
    return 0;
}

#define TEST_HARNESS_MAIN                                                                          \
    int main(int argc, char** argv) {                                                              \
        return hc1_test_main(argc, argv);                                                          \
    }

#endif /* HC1_HARNESS_H */
