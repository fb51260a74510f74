#define _GNU_SOURCE
#include "system_calls.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

int audience_accept_cloexec(int fd) { return accept4(fd, NULL, NULL, SOCK_CLOEXEC); }

int audience_pipe_cloexec(int fds[2]) { return pipe2(fds, O_CLOEXEC); }

int audience_set_thread_nice(int nice) { return setpriority(PRIO_PROCESS, (id_t)gettid(), nice); }

int audience_stdout_write(const void *bytes, size_t n, int flush) {
  if (n > 0 && fwrite(bytes, 1, n, stdout) != n) return errno ? errno : EIO;
  if (flush && fflush(stdout) != 0) return errno ? errno : EIO;
  return ferror(stdout) ? (errno ? errno : EIO) : 0;
}
