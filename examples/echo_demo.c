// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * echo_demo: run echo_server and echo_client side by side (both are
 * looked up next to this program) and show what each prints: the
 * client's requests per second, latency percentiles and verified bytes,
 * then the server's table of how many completions each worker handled.
 *
 * The server is started, the client runs once it listens, and the client
 * stops the server at the end (--shutdown); a server still running 30 s
 * later gets SIGTERM.  Exit status 0 when both exited with 0.
 *
 * Usage: echo_demo [-d SECS] [-c CONNS] [-l LEN] [-t SERVER_THREADS]
 *                  [-p PORT] [-u UNIX_PATH] [-n]
 * -u: the client connects to the server's unix socket at UNIX_PATH;
 * -n: the server's --no-inline (every send posts a completion).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[PATH_MAX];

static void die(const char *what)
{
	fprintf(stderr, "echo_demo: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* fork and exec dir/name with argv; stdout to out_fd if >= 0. */
static pid_t spawn(const char *name, char **argv, int out_fd)
{
	char path[PATH_MAX + 32];
	pid_t pid;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		if (out_fd >= 0 && dup2(out_fd, STDOUT_FILENO) < 0)
			die("dup2");
		execv(path, argv);
		fprintf(stderr, "echo_demo: %s: %s\n", path, strerror(errno));
		_exit(127);
	}
	return pid;
}

/*
 * Copy the server's output to stdout, line by line, until a line contains
 * stop (NULL: until EOF) or timeout_ms passes without output.  Returns 1
 * if stop was seen, 0 at EOF, -1 on timeout.
 */
static int relay(int fd, const char *stop, int timeout_ms)
{
	static char buf[4096];
	static size_t len;
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	char *nl;
	ssize_t n;

	for (;;) {
		while ((nl = memchr(buf, '\n', len))) {
			size_t line = nl + 1 - buf;
			int seen;

			fwrite(buf, 1, line, stdout);
			*nl = 0;
			seen = stop && strstr(buf, stop);
			memmove(buf, nl + 1, len - line);
			len -= line;
			if (seen)
				return 1;
		}
		if (len == sizeof(buf)) {	/* a very long line */
			fwrite(buf, 1, len, stdout);
			len = 0;
		}
		if (poll(&pfd, 1, timeout_ms) == 0)
			return -1;
		n = read(fd, buf + len, sizeof(buf) - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			fwrite(buf, 1, len, stdout);
			len = 0;
			return 0;
		}
		len += n;
	}
}

static int exit_code(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + WTERMSIG(status);
}

static void usage(void)
{
	fprintf(stderr, "usage: echo_demo [-d SECS] [-c CONNS] [-l LEN] [-t SERVER_THREADS] [-p PORT]\n"
			"                 [-u UNIX_PATH] [-n]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	char *duration = "5", *conns = "50", *len = "64", *threads = NULL;
	char *port_nr = "5555", *unix_path = NULL, addr[64];
	char *server_argv[12], *client_argv[16];
	int no_inline = 0;
	int fds[2], opt, n, srv_status, cli_status, rc;
	pid_t server, client;
	ssize_t sz;
	int srv;
	char *slash;

	while ((opt = getopt(argc, argv, "d:c:l:t:p:u:n")) != -1) {
		switch (opt) {
		case 'd':
			duration = optarg;
			break;
		case 'c':
			conns = optarg;
			break;
		case 'l':
			len = optarg;
			break;
		case 't':
			threads = optarg;
			break;
		case 'p':
			port_nr = optarg;
			break;
		case 'u':
			unix_path = optarg;
			break;
		case 'n':
			no_inline = 1;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	setvbuf(stdout, NULL, _IOLBF, 0);
	sz = readlink("/proc/self/exe", dir, sizeof(dir) - 1);
	if (sz < 0)
		die("readlink /proc/self/exe");
	dir[sz] = 0;
	slash = strrchr(dir, '/');
	if (slash)
		*slash = 0;

	if (pipe(fds) < 0)
		die("pipe");
	n = 0;
	server_argv[n++] = "echo_server";
	server_argv[n++] = "--port";
	server_argv[n++] = port_nr;
	if (threads) {
		server_argv[n++] = "--threads";
		server_argv[n++] = threads;
	}
	if (unix_path) {
		server_argv[n++] = "--unix";
		server_argv[n++] = unix_path;
	}
	if (no_inline)
		server_argv[n++] = "--no-inline";
	server_argv[n] = NULL;
	server = spawn("echo_server", server_argv, fds[1]);
	close(fds[1]);
	srv = fds[0];
	if (relay(srv, "listening", 10000) != 1) {
		fprintf(stderr, "echo_demo: the server did not start\n");
		kill(server, SIGTERM);
		waitpid(server, &srv_status, 0);
		return 1;
	}

	snprintf(addr, sizeof(addr), "127.0.0.1:%s", port_nr);
	n = 0;
	client_argv[n++] = "echo_client";
	client_argv[n++] = "-c";
	client_argv[n++] = conns;
	client_argv[n++] = "-l";
	client_argv[n++] = len;
	client_argv[n++] = "-d";
	client_argv[n++] = duration;
	if (unix_path) {
		client_argv[n++] = "-u";
		client_argv[n++] = unix_path;
	} else {
		client_argv[n++] = "-a";
		client_argv[n++] = addr;
	}
	client_argv[n++] = "--shutdown";
	client_argv[n] = NULL;
	client = spawn("echo_client", client_argv, -1);
	if (waitpid(client, &cli_status, 0) < 0)
		die("waitpid");

	if (relay(srv, NULL, 30000) < 0) {
		printf("echo_demo: the server is still running 30 s after the client: SIGTERM\n");
		kill(server, SIGTERM);
		relay(srv, NULL, 30000);
	}
	if (waitpid(server, &srv_status, 0) < 0)
		die("waitpid");
	rc = exit_code(cli_status) || exit_code(srv_status);
	printf("echo_demo: client exited with %d, server with %d\n",
	       exit_code(cli_status), exit_code(srv_status));
	return rc;
}
