#define _GNU_SOURCE
#include "system_calls.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
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

int audience_rwlock_init_writers_first(pthread_rwlock_t *lock) {
  pthread_rwlockattr_t attr;
  pthread_rwlockattr_init(&attr);
  pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
  int result = pthread_rwlock_init(lock, &attr);
  pthread_rwlockattr_destroy(&attr);
  return result;
}

static void audience_startup_signal(int sig) {
  static const char before[] = "audienced: stopped by ";
  static const char after[] = " while starting (before its graceful stop was ready); nothing acknowledged is lost (the next start opens the store again)\n";
  const char *name = sig == SIGTERM ? "SIGTERM" : sig == SIGINT ? "SIGINT" : "SIGHUP";
  size_t length = 0;
  while (name[length]) length++;
  /* One write of the whole line (three could interleave with another writer's). */
  char line[sizeof before + sizeof after + 8];
  size_t n = 0;
  for (size_t i = 0; i < sizeof before - 1; i++) line[n++] = before[i];
  for (size_t i = 0; i < length; i++) line[n++] = name[i];
  for (size_t i = 0; i < sizeof after - 1; i++) line[n++] = after[i];
  ssize_t written = write(2, line, n);
  (void)written;
  signal(sig, SIG_DFL);
  raise(sig);
}

void audience_log_startup_signals(void) {
  signal(SIGTERM, audience_startup_signal);
  signal(SIGINT, audience_startup_signal);
  signal(SIGHUP, audience_startup_signal);
}
