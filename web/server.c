// SPDX-License-Identifier: GPL-2.0
/*
 * The HTTP server behind `profile serve`, on libmicrohttpd: a pool of
 * threads, GET and HEAD only, the static assets built into the binary, and
 * /api/ paths handed to the caller's handler. Every response carries the
 * same security headers (a Content-Security-Policy that allows only the
 * server's own script files, nosniff, no referrer, no framing). Requests are
 * bounded: a body or a query string over the limits gets 413, a method other
 * than GET or HEAD 405, a path that is neither an asset nor under /api/ 404,
 * and with an auth token, a request without it 401.
 */
#include <errno.h>
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

static const char PAGE_CSP[] =
	"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
	"connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

struct http_server {
	struct MHD_Daemon *d;
	struct http_server_opts o;
	int port;
};

struct http_request {
	struct MHD_Connection *c;
	const char *path;
};

/* Per connection and request: how much body arrived, whether it was refused. */
struct req_state {
	size_t body;
	bool too_big;
};

const char *http_request__path(const struct http_request *r)
{
	return r->path;
}

const char *http_request__arg(const struct http_request *r, const char *key)
{
	return MHD_lookup_connection_value(r->c, MHD_GET_ARGUMENT_KIND, key);
}

struct each_ctx {
	http_arg_fn fn;
	void *ctx;
	int err;
	size_t bytes;
};

static enum MHD_Result each_arg(void *cls, enum MHD_ValueKind kind, const char *key,
				const char *value)
{
	struct each_ctx *e = cls;

	(void)kind;
	e->err = e->fn(e->ctx, key, value ? value : "");
	return e->err ? MHD_NO : MHD_YES;
}

int http_request__each_arg(const struct http_request *r, http_arg_fn fn, void *ctx)
{
	struct each_ctx e = { .fn = fn, .ctx = ctx };

	MHD_get_connection_values(r->c, MHD_GET_ARGUMENT_KIND, each_arg, &e);
	return e.err;
}

int http_response__error(struct http_response *resp, int status, const char *param,
			 const char *fmt, ...)
{
	char msg[512];
	json_t *j;
	char *txt;
	va_list ap;
	int err;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	resp->status = status;
	resp->type = "application/json";
	resp->filename = NULL;
	strbuf__setlen(&resp->body, 0);
	j = json_pack("{s:s%}", "error", msg, strlen(msg));
	if (j && param)
		json_object_set_new(j, "param", json_stringn_nocheck(param, strlen(param)));
	txt = j ? json_dumps(j, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
	json_decref(j);
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
	bool head = !strcmp(method, "HEAD");

	m = MHD_create_response_from_buffer(head ? 0 : r->body.len,
					    head ? NULL : r->body.buf, MHD_RESPMEM_MUST_COPY);
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

static enum MHD_Result serve(struct http_server *s, struct MHD_Connection *c, const char *url,
			     const char *method)
{
	struct http_request req = { .c = c, .path = url };
	struct http_response r = { .body = STRBUF_INIT };
	const struct http_asset *a;
	enum MHD_Result ret;
	int err;

	if (!strncmp(url, "/api/", 5)) {
		err = s->o.handler(s->o.ctx, &req, &r);
		if (err)
			err = http_response__error(&r, 500, NULL, "cannot answer: %s",
						   strerror(-err));
		if (err) {
			strbuf__release(&r.body);
			return MHD_NO;
		}
		if (!r.status)
			r.status = 200;
	} else if ((a = find_asset(s, url))) {
		r.status = 200;
		r.type = a->type;
		if (strbuf__add(&r.body, a->data, a->len))
			return MHD_NO;
	} else {
		return send_error(c, method, 404, "no such page");
	}
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
		cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
		if (cl && strtoull(cl, NULL, 10) > HTTP_MAX_BODY) {
			rs->too_big = true;
			return send_error(c, method, 413, "request body too large");
		}
		return MHD_YES;
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
	if (!authorized(s, c))
		return send_error(c, method, 401, "give the token: Authorization: Bearer TOKEN");
	return serve(s, c, url, method);
}

static void on_done(void *cls, struct MHD_Connection *c, void **con_cls,
		    enum MHD_RequestTerminationCode toe)
{
	(void)cls;
	(void)c;
	(void)toe;
	free(*con_cls);
	*con_cls = NULL;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	(void)cls;
	if (log_is_verbose())
		log_vprint(LOG_DEBUG, fmt, ap);
}

struct http_server *http_server__start(const struct http_server_opts *o, char *msg, size_t len)
{
	struct http_server *s = calloc(1, sizeof(*s));
	const union MHD_DaemonInfo *info;
	unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG;
	int err;

	if (!s) {
		snprintf(msg, len, "out of memory");
		errno = ENOMEM;
		return NULL;
	}
	s->o = *o;
	if (o->addr->sa_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	errno = 0;
	s->d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s,
				MHD_OPTION_SOCK_ADDR, o->addr,
				MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)(o->threads ? o->threads : 4),
				MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(128 * 1024),
				MHD_OPTION_CONNECTION_LIMIT, 512u,
				MHD_OPTION_CONNECTION_TIMEOUT, 60u,
				MHD_OPTION_NOTIFY_COMPLETED, on_done, s,
				MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s,
				MHD_OPTION_END);
	if (!s->d) {
		err = errno ? errno : EADDRNOTAVAIL;
		snprintf(msg, len, "%s", strerror(err));
		free(s);
		errno = err;
		return NULL;
	}
	info = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
	s->port = info ? info->port : 0;
	return s;
}

int http_server__port(const struct http_server *s)
{
	return s->port;
}

void http_server__stop(struct http_server *s)
{
	if (!s)
		return;
	MHD_stop_daemon(s->d);
	free(s);
}
