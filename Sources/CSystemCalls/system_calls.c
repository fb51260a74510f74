#define _GNU_SOURCE
#include "system_calls.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

int audience_accept_cloexec(int fd) { return accept4(fd, NULL, NULL, SOCK_CLOEXEC); }

int audience_pipe_cloexec(int fds[2]) { return pipe2(fds, O_CLOEXEC); }

int audience_set_thread_nice(int nice) { return setpriority(PRIO_PROCESS, (id_t)gettid(), nice); }
