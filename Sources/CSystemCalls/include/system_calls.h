#ifndef AUDIENCE_SYSTEM_CALLS_H
#define AUDIENCE_SYSTEM_CALLS_H

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

#endif
