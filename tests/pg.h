/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A real PostgreSQL server for a test: initdb into a fresh directory from
 * mkdtemp, started by pg_ctl on a Unix socket in that directory (no TCP) at a
 * random port number, stopped and removed at exit on every path: a failed
 * assertion (atexit) and a kill by SIGTERM, SIGINT or SIGHUP (a timeout)
 * included. initdb refuses to run as root: as root, the
 * server's commands run as the "postgres" user the Debian package creates,
 * which then owns the directory. Debian's server binaries live in
 * /usr/lib/postgresql/<version>/bin; the newest found is used.
 */
#ifndef __TESTS_PG_H
#define __TESTS_PG_H

#include <fcntl.h>
#include <glob.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct pg_server {
	char dir[64];		/* socket directory; the cluster is in dir/data */
	char bin[256];		/* the server's bin directory */
	char conninfo[256];	/* "host=DIR port=N dbname=postgres user=postgres" */
	char uri[256];		/* the same as a postgresql:// URI */
	int port;
	pid_t owner;		/* the process that started it (forked children do not stop it) */
	bool running;
};

static struct pg_server *pg_servers[8];

/* Run @argv (a server binary) as the postgres user when root; its output to dir/cmd.log. */
static inline int pg_server__run(struct pg_server *s, char *const argv[])
{
	char log[128];
	pid_t pid;
	int status, fd;

	snprintf(log, sizeof(log), "%s/cmd.log", s->dir);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		struct passwd *pw = geteuid() == 0 ? getpwnam("postgres") : NULL;

		if (geteuid() == 0 && (!pw || setgroups(0, NULL) || setgid(pw->pw_gid) ||
				       setuid(pw->pw_uid)))
			_exit(126);
		fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
		execv(argv[0], argv);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

static inline int pg_server__ctl(struct pg_server *s, const char *action)
{
	char ctl[300], data[96], opts[160];
	char *argv[] = { ctl, (char *)"-D", data, (char *)"-w", (char *)"-t", (char *)"60",
			 (char *)"-l", NULL, (char *)"-o", opts, (char *)"-m", (char *)"fast",
			 (char *)action, NULL };
	char logf[96];

	snprintf(ctl, sizeof(ctl), "%s/pg_ctl", s->bin);
	snprintf(data, sizeof(data), "%s/data", s->dir);
	snprintf(logf, sizeof(logf), "%s/server.log", s->dir);
	argv[7] = logf;
	snprintf(opts, sizeof(opts), "-k %s -p %d -c listen_addresses='' -c fsync=off"
		 " -c max_connections=40", s->dir, s->port);
	return pg_server__run(s, argv);
}

/* Stop the server (fast shutdown: sessions are ended). */
static inline int pg_server__stop(struct pg_server *s)
{
	int rc = s->running ? pg_server__ctl(s, "stop") : 0;

	if (!rc)
		s->running = false;
	return rc;
}

/* Start it again (after pg_server__stop()). */
static inline int pg_server__start(struct pg_server *s)
{
	int rc = pg_server__ctl(s, "start");

	if (!rc)
		s->running = true;
	return rc;
}

static inline void pg_server__remove(struct pg_server *s)
{
	char cmd[128];

	if (!s->dir[0] || getpid() != s->owner)
		return;
	pg_server__stop(s);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", s->dir);
	if (system(cmd))
		fprintf(stderr, "pg.h: could not remove %s\n", s->dir);
	s->dir[0] = '\0';
}

static inline void pg_servers__remove_all(void)
{
	size_t i;

	for (i = 0; i < sizeof(pg_servers) / sizeof(pg_servers[0]); i++)
		if (pg_servers[i])
			pg_server__remove(pg_servers[i]);
}

/* A test killed by a signal (a timeout) stops its servers too, then dies of it. */
static inline void pg_servers__on_signal(int sig)
{
	pg_servers__remove_all();
	signal(sig, SIG_DFL);
	raise(sig);
}

/* initdb and start; 0, or -1 after a message (dir/cmd.log has the details). */
static inline int pg_server__init(struct pg_server *s)
{
	static bool registered;
	char initdb[300], data[96];
	char *argv[] = { initdb, (char *)"-D", data, (char *)"-A", (char *)"trust",
			 (char *)"-U", (char *)"postgres", (char *)"-E", (char *)"UTF8",
			 (char *)"--no-sync", (char *)"--no-instructions", NULL };
	struct passwd *pw;
	glob_t g;
	size_t i;

	memset(s, 0, sizeof(*s));
	if (glob("/usr/lib/postgresql/*/bin/pg_ctl", 0, NULL, &g) || !g.gl_pathc) {
		fprintf(stderr, "pg.h: no PostgreSQL server (/usr/lib/postgresql/*/bin/pg_ctl);"
			" make test installs Debian's postgresql\n");
		return -1;
	}
	/* the newest version: glob sorts, and versions have two digits since 10 */
	snprintf(s->bin, sizeof(s->bin), "%.*s", (int)(strlen(g.gl_pathv[g.gl_pathc - 1]) - 7),
		 g.gl_pathv[g.gl_pathc - 1]);
	globfree(&g);
	snprintf(s->dir, sizeof(s->dir), "/tmp/profile-pg-XXXXXX");
	if (!mkdtemp(s->dir)) {
		perror("pg.h: mkdtemp");
		return -1;
	}
	s->owner = getpid();
	for (i = 0; i < sizeof(pg_servers) / sizeof(pg_servers[0]); i++) {
		if (!pg_servers[i]) {
			pg_servers[i] = s;
			break;
		}
	}
	if (!registered) {
		atexit(pg_servers__remove_all);
		signal(SIGTERM, pg_servers__on_signal);
		signal(SIGINT, pg_servers__on_signal);
		signal(SIGHUP, pg_servers__on_signal);
		registered = true;
	}
	pw = geteuid() == 0 ? getpwnam("postgres") : NULL;
	if (geteuid() == 0 && (!pw || chown(s->dir, pw->pw_uid, pw->pw_gid))) {
		fprintf(stderr, "pg.h: as root, the server runs as user postgres: none here\n");
		return -1;
	}
	chmod(s->dir, 0700);
	/*
	 * initdb's shell redirects to /dev/null: a program that renamed a file
	 * over it (an atomic write to "-o /dev/null") breaks it for other users
	 */
	{
		struct stat sb;

		if (geteuid() == 0 && (stat("/dev/null", &sb) || !S_ISCHR(sb.st_mode))) {
			fprintf(stderr, "pg.h: /dev/null is not the null device (something renamed"
				" a file over it): making it again\n");
			if (system("mknod -m 666 /dev/null.pg c 1 3 && mv -f /dev/null.pg /dev/null"))
				return -1;
		}
	}
	snprintf(initdb, sizeof(initdb), "%s/initdb", s->bin);
	snprintf(data, sizeof(data), "%s/data", s->dir);
	if (pg_server__run(s, argv)) {
		fprintf(stderr, "pg.h: initdb failed (see %s/cmd.log)\n", s->dir);
		return -1;
	}
	/* a random port: the socket file's name; a clash with another test is retried */
	srandom(getpid() ^ time(NULL));
	for (i = 0; i < 5; i++) {
		s->port = 20000 + random() % 40000;
		if (!pg_server__start(s))
			break;
	}
	if (!s->running) {
		fprintf(stderr, "pg.h: the server did not start (see %s/server.log)\n", s->dir);
		return -1;
	}
	snprintf(s->conninfo, sizeof(s->conninfo), "host=%s port=%d dbname=postgres user=postgres",
		 s->dir, s->port);
	snprintf(s->uri, sizeof(s->uri), "postgresql:///postgres?host=%s&port=%d&user=postgres",
		 s->dir, s->port);
	return 0;
}

/* Run @sql with psql on @s; its exit status. */
static inline int pg_server__psql(struct pg_server *s, const char *sql)
{
	char cmd[4096];

	snprintf(cmd, sizeof(cmd), "%s/psql -X -q -v ON_ERROR_STOP=1 -h %s -p %d -U postgres"
		 " -d postgres -c \"%s\" >/dev/null", s->bin, s->dir, s->port, sql);
	return system(cmd);
}

#endif /* __TESTS_PG_H */
