/*
 * The pod sandbox's process (what registry.k8s.io/pause runs): it holds the pod's
 * namespaces, reaps orphaned children, and exits at once on SIGINT or SIGTERM.
 * hack/images.sh compiles it statically into the pause image of the real node.
 */
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

static void stop(int signo) {
  (void)signo;
  _exit(0);
}

static void reap(int signo) {
  (void)signo;
  while (waitpid(-1, NULL, WNOHANG) > 0) {
  }
}

int main(void) {
  struct sigaction down = {.sa_handler = stop};
  struct sigaction child = {.sa_handler = reap, .sa_flags = SA_NOCLDSTOP};
  if (getpid() != 1) fprintf(stderr, "pause: not running as PID 1\n");
  if (sigaction(SIGINT, &down, NULL) || sigaction(SIGTERM, &down, NULL) ||
      sigaction(SIGCHLD, &child, NULL)) {
    perror("pause: sigaction");
    return 1;
  }
  for (;;) pause();
}
