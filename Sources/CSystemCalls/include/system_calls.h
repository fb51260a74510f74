#ifndef AUDIENCE_SYSTEM_CALLS_H
#define AUDIENCE_SYSTEM_CALLS_H

#include <pthread.h>
#include <stddef.h>

/* Linux calls that Swift's Glibc module does not show (they are GNU extensions, declared only
   under _GNU_SOURCE). */

/* accept4(fd, NULL, NULL, SOCK_CLOEXEC): a connection that is close-on-exec from the start. */
int audience_accept_cloexec(int fd);

/* pipe2(fds, O_CLOEXEC): a pipe whose ends are close-on-exec from the start. */
int audience_pipe_cloexec(int fds[2]);

/* setpriority(PRIO_PROCESS, gettid(), nice): the calling thread's nice value alone (Linux
   threads have their own). Returns 0, or -1 with errno set (EACCES: lowering it needs
   CAP_SYS_NICE or RLIMIT_NICE). */
int audience_set_thread_nice(int nice);

/* Writes n bytes to stdio's stdout (the stream Swift's print writes to), then flushes it when
   flush is not 0. Returns 0, or the errno of the failure (stdout is a mutable C global, which
   Swift 6 does not let code read). */
int audience_stdout_write(const void *bytes, size_t n, int flush);

/* pthread_rwlock_init with writers first (PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP): once a
   writer waits, new readers wait behind it, so a stream of readers cannot hold writers off for
   ever (glibc's default prefers readers). Returns pthread_rwlock_init's result. */
int audience_rwlock_init_writers_first(pthread_rwlock_t *lock);

/* Until the server's graceful stop takes over (while its store opens and replays its records),
   SIGTERM, SIGINT and SIGHUP end it as before (their default action, so the exit status still
   says which signal), but first write a line saying so to stderr: a stop during a long start
   was silent. Only async-signal-safe calls (write, signal, raise). */
void audience_log_startup_signals(void);

#endif
