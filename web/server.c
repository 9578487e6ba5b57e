// SPDX-License-Identifier: GPL-2.0
/*
 * The HTTP server behind `profile serve`, on libmicrohttpd: one thread reads
 * requests and writes answers, GET and HEAD only, the static assets built
 * into the binary served from it directly; /api/ paths go, with a copy of
 * their path and query parameters, to a queue that a pool of worker threads
 * answers through the caller's handler, first come first served. The
 * connection waits suspended meanwhile: libmicrohttpd's idle timeout then
 * counts only the time a client takes to send its request or read the
 * answer, never the time a request waits for a worker (a request queued
 * behind slow ones was closed unanswered when it did). Every response
 * carries the same security headers (a Content-Security-Policy that allows
 * only the server's own script files, nosniff, no referrer, no framing).
 * Requests are bounded: a body or a query string over the limits gets 413, a
 * method other than GET or HEAD 405, a path that is neither an asset nor
 * under /api/ 404, and with an auth token, a request without it 401.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <jansson.h>
#include <microhttpd.h>

#include "web.h"
#include "common/strbuf.h"
#include "common/log.h"

#define HTTP_MAX_BODY (64 * 1024)
#define HTTP_MAX_QUERY (16 * 1024)
#define HTTP_MAX_CONNECTIONS 512u
/*
 * libmicrohttpd's memory per connection: the request line, then a record of
 * about 64 bytes per query parameter. A query of HTTP_MAX_QUERY bytes, each
 * parameter one '&', needs about 1 MB; with less, MHD runs out while parsing
 * and (0.9.75) never sends the 431 it means to, the client waiting for the
 * idle timeout. Longer queries are not parsed at all (on_uri()). The pages
 * are mapped as they are used.
 */
#define HTTP_POOL (2048 * 1024)

static const char PAGE_CSP[] =
	"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
	"connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/* An /api/ request: what the handler reads (copied: the connection waits suspended). */
struct http_request {
	char *path;
	char **keys, **values;
	size_t nr_args, cap_args;
};

/* An /api/ request on its way through the queue and a worker, and its answer. */
struct job {
	struct job *next;
	struct MHD_Connection *c;
	struct http_request req;
	struct http_response r;
	bool done;
};

struct http_server {
	struct MHD_Daemon *d;
	struct http_server_opts o;
	int port;
	pthread_mutex_t lock;
	pthread_cond_t more;
	struct job *head, **tail;	/* the queue, under lock */
	bool stopping;			/* under lock */
	pthread_t *workers;
	unsigned int nr_workers;
};

/* Per connection and request: how much body arrived, whether it was refused, its job. */
struct req_state {
	size_t body;
	bool seen;		/* on_request() has had the headers */
	bool too_big;
	bool query_too_long;
	struct job *job;
};

const char *http_request__path(const struct http_request *r)
{
	return r->path;
}

const char *http_request__arg(const struct http_request *r, const char *key)
{
	size_t i;

	for (i = 0; i < r->nr_args; i++)
		if (!strcmp(r->keys[i], key))
			return r->values[i];
	return NULL;
}

int http_request__each_arg(const struct http_request *r, http_arg_fn fn, void *ctx)
{
	size_t i;
	int err;

	for (i = 0; i < r->nr_args; i++) {
		err = fn(ctx, r->keys[i], r->values[i]);
		if (err)
			return err;
	}
	return 0;
}

static void request__release(struct http_request *r)
{
	size_t i;

	for (i = 0; i < r->nr_args; i++) {
		free(r->keys[i]);
		free(r->values[i]);
	}
	free(r->keys);
	free(r->values);
	free(r->path);
	memset(r, 0, sizeof(*r));
}

static enum MHD_Result copy_arg(void *cls, enum MHD_ValueKind kind, const char *key,
				const char *value)
{
	struct http_request *r = cls;
	char *k, *v;

	(void)kind;
	if (r->nr_args == r->cap_args) {
		size_t cap = r->cap_args ? 2 * r->cap_args : 8;
		char **keys = reallocarray(r->keys, cap, sizeof(*keys));

		if (!keys)
			return MHD_NO;
		r->keys = keys;
		keys = reallocarray(r->values, cap, sizeof(*keys));
		if (!keys)
			return MHD_NO;
		r->values = keys;
		r->cap_args = cap;
	}
	k = strdup(key);
	v = strdup(value ? value : "");
	if (!k || !v) {
		free(k);
		free(v);
		return MHD_NO;
	}
	r->keys[r->nr_args] = k;
	r->values[r->nr_args++] = v;
	return MHD_YES;
}

static void job__free(struct job *j)
{
	if (!j)
		return;
	request__release(&j->req);
	strbuf__release(&j->r.body);
	free(j);
}

/* @s as a JSON string: a byte that is not UTF-8 (a request's %ff) becomes U+FFFD */
static json_t *json_clean_string(struct strbuf *tmp, const char *s)
{
	strbuf__setlen(tmp, 0);
	if (utf8_clean(tmp, s, strlen(s)))
		return NULL;
	return json_stringn(tmp->buf ? tmp->buf : "", tmp->len);
}

int http_response__error(struct http_response *resp, int status, const char *param,
			 const char *fmt, ...)
{
	struct strbuf tmp = STRBUF_INIT;
	char msg[512];
	json_t *j;
	char *txt = NULL;
	va_list ap;
	int err;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	resp->status = status;
	resp->type = "application/json";
	resp->filename = NULL;
	resp->csp = NULL;	/* a JSON error, not the SVG a handler had begun: the strict policy */
	strbuf__setlen(&resp->body, 0);
	j = json_object();
	if (j && json_object_set_new(j, "error", json_clean_string(&tmp, msg)))
		goto out;
	if (j && param && json_object_set_new(j, "param", json_clean_string(&tmp, param)))
		goto out;
	txt = j ? json_dumps(j, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
out:
	json_decref(j);
	strbuf__release(&tmp);
	if (!txt)
		return -ENOMEM;
	err = strbuf__adds(&resp->body, txt) ?: strbuf__addch(&resp->body, '\n');
	free(txt);
	return err;
}

static enum MHD_Result send_response(struct MHD_Connection *c, const char *method,
			    const struct http_response *r)
{
	struct MHD_Response *m;
	enum MHD_Result ret;
	struct strbuf disp = STRBUF_INIT;

	/* HEAD: libmicrohttpd sends the headers a GET would get, Content-Length too, no body */
	(void)method;
	m = MHD_create_response_from_buffer(r->body.len, r->body.buf, MHD_RESPMEM_MUST_COPY);
	if (!m)
		return MHD_NO;
	MHD_add_response_header(m, "Content-Type", r->type ? r->type : "text/plain; charset=utf-8");
	MHD_add_response_header(m, "Content-Security-Policy", r->csp ? r->csp : PAGE_CSP);
	MHD_add_response_header(m, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(m, "Referrer-Policy", "no-referrer");
	MHD_add_response_header(m, "X-Frame-Options", "DENY");
	MHD_add_response_header(m, "Cache-Control", "no-store");
	if (r->status == 405)
		MHD_add_response_header(m, "Allow", "GET, HEAD");
	if (r->status == 401)
		MHD_add_response_header(m, "WWW-Authenticate", "Bearer");
	/* the name is the server's own (profile.svg ...), never a request's */
	if (r->filename && !strbuf__addf(&disp, "attachment; filename=\"%s\"", r->filename))
		MHD_add_response_header(m, "Content-Disposition", disp.buf);
	strbuf__release(&disp);
	ret = MHD_queue_response(c, r->status, m);
	MHD_destroy_response(m);
	return ret;
}

static enum MHD_Result send_error(struct MHD_Connection *c, const char *method, int status,
				  const char *msg)
{
	struct http_response r = { .body = STRBUF_INIT };
	enum MHD_Result ret;

	if (http_response__error(&r, status, NULL, "%s", msg)) {
		strbuf__release(&r.body);
		return MHD_NO;
	}
	ret = send_response(c, method, &r);
	strbuf__release(&r.body);
	return ret;
}

struct nul_arg {
	bool found;
	char name[64];	/* as far as its NUL, if the NUL is in the name */
};

/* The first parameter whose name or value holds a NUL byte (%00), into *cls. */
static enum MHD_Result find_nul(void *cls, enum MHD_ValueKind kind, const char *key,
				size_t key_size, const char *value, size_t value_size)
{
	struct nul_arg *a = cls;

	(void)kind;
	if (strlen(key) != key_size || (value && strlen(value) != value_size)) {
		a->found = true;
		snprintf(a->name, sizeof(a->name), "%s", key);
		return MHD_NO;
	}
	return MHD_YES;
}

static enum MHD_Result count_arg(void *cls, enum MHD_ValueKind kind, const char *key,
				 const char *value)
{
	size_t *n = cls;

	(void)kind;
	*n += strlen(key) + (value ? strlen(value) : 0) + 2;
	return MHD_YES;
}

/* Equal strings, in a time that does not tell how much of them matched. */
static bool same_secret(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i;
	unsigned char d = la != lb;

	for (i = 0; i < la; i++)
		d |= (unsigned char)a[i] ^ (unsigned char)b[i % (lb ? lb : 1)];
	return !d;
}

static bool authorized(const struct http_server *s, struct MHD_Connection *c)
{
	const char *h, *arg;

	if (!s->o.auth_token)
		return true;
	h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
	if (h && !strncmp(h, "Bearer ", 7) && same_secret(h + 7, s->o.auth_token))
		return true;
	arg = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "token");
	return arg && same_secret(arg, s->o.auth_token);
}

static const struct http_asset *find_asset(const struct http_server *s, const char *path)
{
	size_t i;

	if (!strcmp(path, "/"))
		path = "/index.html";
	for (i = 0; i < s->o.nr_assets; i++) {
		if (!strcmp(s->o.assets[i].path, path))
			return &s->o.assets[i];
	}
	return NULL;
}

/* The handler's answer to a job, or a 500 saying why it has none. */
static void run_job(struct http_server *s, struct job *j)
{
	int err = s->o.handler(s->o.ctx, &j->req, &j->r);

	if (err && http_response__error(&j->r, 500, NULL, "cannot answer: %s", strerror(-err))) {
		j->r.status = 500;
		strbuf__setlen(&j->r.body, 0);
	}
	if (!j->r.status)
		j->r.status = 200;
	pr_debug("%s -> %d (%zu bytes)", j->req.path, j->r.status, j->r.body.len);
}

static void *worker(void *arg)
{
	struct http_server *s = arg;
	struct job *j;
	bool stopping;

	for (;;) {
		pthread_mutex_lock(&s->lock);
		while (!s->head && !s->stopping)
			pthread_cond_wait(&s->more, &s->lock);
		j = s->head;
		if (j) {
			s->head = j->next;
			if (!s->head)
				s->tail = &s->head;
		}
		stopping = s->stopping;
		pthread_mutex_unlock(&s->lock);
		if (!j)
			return NULL;
		/* what was queued when the server stopped gets a 503, not a query */
		if (stopping)
			http_response__error(&j->r, 503, NULL, "the server is stopping");
		else
			run_job(s, j);
		j->done = true;
		/* j belongs to the connection again from here: not touched after */
		MHD_resume_connection(j->c);
	}
}

/*
 * Queue an /api/ request for the workers and suspend its connection until
 * one has answered it (on_request() is then called again and sends it).
 */
static enum MHD_Result queue_job(struct http_server *s, struct MHD_Connection *c,
				 struct req_state *rs, const char *url, const char *method)
{
	struct http_response r = { .body = STRBUF_INIT };
	struct nul_arg nul = { 0 };
	enum MHD_Result ret;
	struct job *j;

	/* a NUL would cut the text short: run=1%00x read as run=1 */
	MHD_get_connection_values_n(c, MHD_GET_ARGUMENT_KIND, find_nul, &nul);
	if (nul.found && !http_response__error(&r, 400, nul.name, "'%s' holds a NUL byte (%%00)",
					       nul.name)) {
		ret = send_response(c, method, &r);
		strbuf__release(&r.body);
		return ret;
	}
	strbuf__release(&r.body);
	j = calloc(1, sizeof(*j));
	if (!j)
		return MHD_NO;
	j->c = c;
	j->r.body = (struct strbuf)STRBUF_INIT;
	j->req.path = strdup(url);
	if (!j->req.path || MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, copy_arg,
						      &j->req) < 0 ||
	    j->req.nr_args != (size_t)MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, NULL,
								  NULL)) {
		job__free(j);
		return send_error(c, method, 500, "out of memory");
	}
	pthread_mutex_lock(&s->lock);
	if (s->stopping) {
		pthread_mutex_unlock(&s->lock);
		job__free(j);
		return send_error(c, method, 503, "the server is stopping");
	}
	rs->job = j;
	/* suspended before a worker can see it: its resume never comes first */
	MHD_suspend_connection(c);
	*s->tail = j;
	s->tail = &j->next;
	pthread_cond_signal(&s->more);
	pthread_mutex_unlock(&s->lock);
	return MHD_YES;
}

static enum MHD_Result serve(struct http_server *s, struct MHD_Connection *c,
			     struct req_state *rs, const char *url, const char *method)
{
	struct http_response r = { .body = STRBUF_INIT };
	const struct http_asset *a;
	enum MHD_Result ret;

	if (!strncmp(url, "/api/", 5)) {
		if (!authorized(s, c))
			return send_error(c, method, 401, "give the token: Authorization: Bearer TOKEN");
		return queue_job(s, c, rs, url, method);
	}
	/* the page, its script and style are built in and hold no data: no token */
	a = find_asset(s, url);
	if (!a)
		return send_error(c, method, 404, "no such page");
	r.status = 200;
	r.type = a->type;
	if (strbuf__add(&r.body, a->data, a->len))
		return MHD_NO;
	pr_debug("%s %s -> %d (%zu bytes)", method, url, r.status, r.body.len);
	ret = send_response(c, method, &r);
	strbuf__release(&r.body);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **con_cls)
{
	struct http_server *s = cls;
	struct req_state *rs = *con_cls;
	const char *cl;
	size_t query = 0;

	(void)version;
	(void)upload;
	if (!rs) {
		rs = calloc(1, sizeof(*rs));
		if (!rs)
			return MHD_NO;
		*con_cls = rs;
	}
	if (!rs->seen) {
		rs->seen = true;
		if (rs->query_too_long)
			return send_error(c, method, 413, "query string too long");
		cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
		if (cl && strtoull(cl, NULL, 10) > HTTP_MAX_BODY) {
			rs->too_big = true;
			return send_error(c, method, 413, "request body too large");
		}
		return MHD_YES;
	}
	if (rs->job) {
		/* resumed: a worker has answered */
		enum MHD_Result ret = rs->job->done ? send_response(c, method, &rs->job->r) : MHD_NO;

		job__free(rs->job);
		rs->job = NULL;
		return ret;
	}
	if (*upload_size) {
		rs->body += *upload_size;
		*upload_size = 0;
		if (rs->body > HTTP_MAX_BODY)
			rs->too_big = true;
		return MHD_YES;
	}
	if (rs->too_big)
		return send_error(c, method, 413, "request body too large");
	MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, count_arg, &query);
	if (query > HTTP_MAX_QUERY)
		return send_error(c, method, 413, "query string too long");
	if (strcmp(method, "GET") && strcmp(method, "HEAD"))
		return send_error(c, method, 405, "only GET and HEAD");
	if (rs->body)
		return send_error(c, method, 413, "a GET takes no body");
	return serve(s, c, rs, url, method);
}

/*
 * Every request's URI, before libmicrohttpd parses its query: one over
 * HTTP_MAX_QUERY bytes is cut at the '?' so that it is not parsed. A record
 * of each parameter comes from the connection's pool, and 0.9.75, out of
 * pool (a query of some 30k bare '&'), neither answers nor closes: the client
 * would wait for the idle timeout. The request gets its 413 in on_request().
 * The state made here is on_request()'s *con_cls, and freed by on_done().
 */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
	struct req_state *rs = calloc(1, sizeof(*rs));
	char *q = strchr(uri, '?');

	(void)cls;
	(void)c;
	if (q && strlen(q + 1) > HTTP_MAX_QUERY) {
		/* the request line is in the connection's own buffer, writable */
		q[1] = '\0';
		if (rs)
			rs->query_too_long = true;
	}
	return rs;
}

static void on_done(void *cls, struct MHD_Connection *c, void **con_cls,
		    enum MHD_RequestTerminationCode toe)
{
	struct req_state *rs = *con_cls;

	(void)cls;
	(void)c;
	(void)toe;
	/* a job still queued is never here: its connection is suspended until answered */
	if (rs)
		job__free(rs->job);
	free(rs);
	*con_cls = NULL;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	(void)cls;
	if (log_is_verbose())
		log_vprint(LOG_DEBUG, fmt, ap);
}

/* Stop the workers: what is still queued gets a 503; every connection is resumed. */
static void stop_workers(struct http_server *s)
{
	unsigned int i;

	pthread_mutex_lock(&s->lock);
	s->stopping = true;
	pthread_cond_broadcast(&s->more);
	pthread_mutex_unlock(&s->lock);
	for (i = 0; i < s->nr_workers; i++)
		pthread_join(s->workers[i], NULL);
	s->nr_workers = 0;
}

static int start_workers(struct http_server *s, unsigned int n)
{
	int err;

	s->workers = calloc(n, sizeof(*s->workers));
	if (!s->workers)
		return -ENOMEM;
	for (; s->nr_workers < n; s->nr_workers++) {
		err = pthread_create(&s->workers[s->nr_workers], NULL, worker, s);
		if (err)
			return -err;
	}
	return 0;
}

struct http_server *http_server__start(const struct http_server_opts *o, char *msg, size_t len)
{
	struct http_server *s = calloc(1, sizeof(*s));
	const union MHD_DaemonInfo *info;
	unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG |
			     MHD_ALLOW_SUSPEND_RESUME;
	int err;

	if (!s) {
		snprintf(msg, len, "out of memory");
		errno = ENOMEM;
		return NULL;
	}
	s->o = *o;
	s->tail = &s->head;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->more, NULL);
	err = start_workers(s, o->threads ? o->threads : 4);
	if (err) {
		snprintf(msg, len, "cannot start the worker threads: %s", strerror(-err));
		goto err_free;
	}
	if (o->addr->sa_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	errno = 0;
	s->d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s,
				MHD_OPTION_SOCK_ADDR, o->addr,
				MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_POOL,
				MHD_OPTION_CONNECTION_LIMIT, HTTP_MAX_CONNECTIONS,
				MHD_OPTION_CONNECTION_TIMEOUT,
				(unsigned int)(o->idle_timeout ? o->idle_timeout : 60),
				MHD_OPTION_URI_LOG_CALLBACK, on_uri, s,
				MHD_OPTION_NOTIFY_COMPLETED, on_done, s,
				MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s,
				MHD_OPTION_END);
	if (!s->d) {
		err = -(errno ? errno : EADDRNOTAVAIL);
		snprintf(msg, len, "%s", strerror(-err));
		goto err_free;
	}
	info = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
	s->port = info ? info->port : 0;
	return s;
err_free:
	stop_workers(s);
	free(s->workers);
	pthread_cond_destroy(&s->more);
	pthread_mutex_destroy(&s->lock);
	free(s);
	errno = -err;
	return NULL;
}

int http_server__port(const struct http_server *s)
{
	return s->port;
}

void http_server__stop(struct http_server *s)
{
	if (!s)
		return;
	/* the workers first: no connection is left suspended when the daemon stops */
	stop_workers(s);
	MHD_stop_daemon(s->d);
	free(s->workers);
	pthread_cond_destroy(&s->more);
	pthread_mutex_destroy(&s->lock);
	free(s);
}
