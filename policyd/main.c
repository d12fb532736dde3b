/* SPDX-License-Identifier: MIT */
/*
 * NAME
 *      policyd - Postfix policy server against compromised-mailbox spam
 * SYNOPSIS
 *      policyd [-c FILE] [-f] [-n] [-t] [-v] [-o name=value ...]
 * DESCRIPTION
 *      main parses argv, loads the config, opens the log, binds the listeners, drops
 *      privileges, builds the loop, handles signals, and nothing else.
 *
 *      -c FILE   configuration file (default /etc/policyd/policyd.conf)
 *      -f        stay in the foreground and log to stderr
 *      -n        print the settings that differ from the defaults, like postconf -n
 *      -t        check the configuration and exit 0 (good) or 1 (bad), like nginx -t
 *      -v        verbose (debug) logging; twice for more
 *      -o n=v    override one setting, as Postfix's -o does (kept across SIGHUP)
 *      --import-blocks LIST [--reason R]   block the mailboxes listed in LIST (reason R,
 *                default weak-password) and exit; see importblk(3)
 *
 *      SIGTERM/SIGINT stop accepting, let requests in flight be answered, and exit within
 *      5 s. SIGHUP reloads the config without dropping connections; a bad new config is
 *      logged and the old one kept.
 * DIAGNOSTICS
 *      A bad config or a listener that cannot be bound is fatal at start-up (exit 1) with
 *      "file:line: message". Exit 0 after an orderly stop.
 * SEE ALSO
 *      policyd.conf, server(3), README.
 */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <uv.h>

#include "ldap/poller.h"
#include "policyd/alert.h"
#include "policyd/config.h"
#include "policyd/decide.h"
#include "policyd/httpmetrics.h"
#include "policyd/importblk.h"
#include "policyd/log.h"
#include "policyd/server.h"
#include "policyd/status.h"
#include "policyd/util.h"

#define MAIN_STOP_GRACE_MS 4500

struct main_opts {
    const char *config_path;
    bool foreground;
    bool print_nondefault;
    bool test_only;
    int verbose;
    char **overrides; /* "name=value" from -o, re-applied at every reload */
    size_t noverrides;
    const char *import_path;   /* --import-blocks LIST */
    const char *import_reason; /* --reason R */
};

struct main_ctx {
    struct main_opts opts;
    struct pd_server srv;
    uv_signal_t sig_term, sig_int, sig_hup;
    struct status *status; /* the helpdesk socket (policyctl) */
    struct poller *poller; /* LDAP: unblock after a password change */
    struct alert *alert;   /* partner alert mails */
    struct httpmetrics *metrics; /* GET /metrics on metrics_listen */
};

static void main_usage(void)
{
    fprintf(stderr, "usage: policyd [-c FILE] [-f] [-n] [-t] [-v] [-o name=value ...]\n"
                    "       policyd [-c FILE] [-o name=value ...] --import-blocks LIST "
                    "[--reason REASON]\n");
    exit(1);
}

static void main_parse_args(struct main_opts *o, int argc, char **argv)
{
    enum { MAIN_OPT_IMPORT = 256, MAIN_OPT_REASON };
    static const struct option longopts[] = {
        {"import-blocks", required_argument, NULL, MAIN_OPT_IMPORT},
        {"reason", required_argument, NULL, MAIN_OPT_REASON},
        {NULL, 0, NULL, 0},
    };
    int ch;

    o->config_path = CFG_DEFAULT_PATH;
    while ((ch = getopt_long(argc, argv, "c:fnto:vh", longopts, NULL)) != -1) {
        switch (ch) {
        case MAIN_OPT_IMPORT:
            o->import_path = optarg;
            break;
        case MAIN_OPT_REASON:
            o->import_reason = optarg;
            break;
        case 'c':
            o->config_path = optarg;
            break;
        case 'f':
            o->foreground = true;
            break;
        case 'n':
            o->print_nondefault = true;
            break;
        case 't':
            o->test_only = true;
            break;
        case 'o':
            o->overrides = xrealloc(o->overrides, (o->noverrides + 1) * sizeof(char *));
            o->overrides[o->noverrides++] = optarg;
            break;
        case 'v':
            o->verbose++;
            break;
        default:
            main_usage();
        }
    }
    if (optind != argc || (o->import_reason != NULL && o->import_path == NULL))
        main_usage();
}

/*
 * main_load - the config file plus the -o overrides; NULL and a message on error. On a
 * reload, prev supplies the secrets whose file names did not change.
 */
static struct pd_config *main_load(const struct main_opts *o, const struct pd_config *prev,
                                   char *msg, size_t msglen)
{
    struct pd_config *cfg = NULL;
    struct pd_err err = {{0}, 0};

    if (cfg_reload(&cfg, o->config_path, (const char *const *)o->overrides, o->noverrides, prev,
                   &err) < 0) {
        if (err.line > 0)
            snprintf(msg, msglen, "%s:%d: %s", o->config_path, err.line, err.msg);
        else if (strncmp(err.msg, "-o: ", 4) == 0)
            snprintf(msg, msglen, "%s", err.msg);
        else
            snprintf(msg, msglen, "%s: %s", o->config_path, err.msg);
        return NULL;
    }
    return cfg;
}

/* main_drop_privileges - become run_user after binding; sockets go to it first. */
static void main_drop_privileges(struct pd_server *srv, const struct pd_config *cfg)
{
    struct passwd *pw;
    struct group *gr;
    gid_t gid;
    char err[256];

    if (geteuid() != 0 || cfg->run_user[0] == '\0')
        return;
    if ((pw = getpwnam(cfg->run_user)) == NULL)
        log_fatal("run_user %s: no such user", cfg->run_user);
    gid = pw->pw_gid;
    if (cfg->unix_socket_group[0] != '\0') {
        if ((gr = getgrnam(cfg->unix_socket_group)) == NULL)
            log_fatal("unix_socket_group %s: no such group", cfg->unix_socket_group);
        gid = gr->gr_gid;
    }
    if (server_chown_sockets(srv, pw->pw_uid, gid, err, sizeof(err)) < 0)
        log_fatal("%s", err);
    if (initgroups(pw->pw_name, pw->pw_gid) != 0 || setgid(pw->pw_gid) != 0 ||
        setuid(pw->pw_uid) != 0)
        log_fatal("cannot become %s: %s", cfg->run_user, strerror(errno));
    if (pw->pw_uid != 0 && setuid(0) == 0)
        log_fatal("privileges could be regained after dropping them");
    log_info("running as %s", cfg->run_user);
}

static void main_on_stop(uv_signal_t *h, int signum)
{
    struct main_ctx *m = h->data;
    sigset_t set;

    log_info("%s received: stopping", signum == SIGINT ? "SIGINT" : "SIGTERM");
    /* Closing the uv_signal_t handles restores the default actions: a second SIGTERM
     * (timeout(1) and init systems send one to the whole group) would kill the orderly
     * stop. Block them; the stop has its own deadline. */
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    sigprocmask(SIG_BLOCK, &set, NULL);
    uv_close((uv_handle_t *)&m->sig_term, NULL);
    uv_close((uv_handle_t *)&m->sig_int, NULL);
    uv_close((uv_handle_t *)&m->sig_hup, NULL);
    poller_stop(m->poller);
    alert_stop(m->alert);
    status_stop(m->status);
    httpmetrics_stop(m->metrics);
    server_stop(&m->srv, MAIN_STOP_GRACE_MS);
}

static void main_on_reload(uv_signal_t *h, int signum)
{
    struct main_ctx *m = h->data;
    struct pd_config *cfg;
    char msg[512];

    (void)signum;
    if ((cfg = main_load(&m->opts, m->srv.cfg, msg, sizeof(msg))) == NULL) {
        log_warn("reload: %s; keeping the running configuration", msg);
        return;
    }
    server_reconfigure(&m->srv, cfg);
    alert_reconfigure(m->alert, cfg);
    cfg_unref(cfg);
    log_info("reload: configuration %s loaded", m->opts.config_path);
}

static void main_signals(struct main_ctx *m, uv_loop_t *loop)
{
    uv_signal_init(loop, &m->sig_term);
    uv_signal_init(loop, &m->sig_int);
    uv_signal_init(loop, &m->sig_hup);
    m->sig_term.data = m->sig_int.data = m->sig_hup.data = m;
    uv_signal_start(&m->sig_term, main_on_stop, SIGTERM);
    uv_signal_start(&m->sig_int, main_on_stop, SIGINT);
    uv_signal_start(&m->sig_hup, main_on_reload, SIGHUP);
    signal(SIGPIPE, SIG_IGN);
}

/* main_daemonize - background the process after binding, so bind errors reach the caller. */
static void main_daemonize(uv_loop_t *loop)
{
    pid_t pid = fork();

    if (pid < 0)
        log_fatal("fork: %s", strerror(errno));
    if (pid > 0)
        _exit(0);
    setsid();
    if (chdir("/") != 0)
        log_warn("chdir /: %s", strerror(errno));
    if (freopen("/dev/null", "r", stdin) == NULL || freopen("/dev/null", "w", stdout) == NULL ||
        freopen("/dev/null", "w", stderr) == NULL)
        log_warn("cannot redirect stdio to /dev/null");
    if (uv_loop_fork(loop) != 0)
        log_fatal("uv_loop_fork failed");
}

static void main_close_walk(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

/* main_run - the daemon proper, from a loaded config to an orderly exit. */
static int main_run(struct main_ctx *m, struct pd_config *cfg)
{
    uv_loop_t *loop = uv_default_loop();
    char err[512];
    int rc;

    if (log_open(cfg->syslog_name, cfg->syslog_facility, m->opts.foreground, m->opts.verbose))
        log_fatal("syslog_facility %s: unknown facility", cfg->syslog_facility);
    server_init(&m->srv, loop, cfg);
    /* The helpdesk's sockets first: once the policy port accepts (the kernel queues
     * connections from listen(2) on), the status socket is in place with its mode and
     * owner, so whoever waits for the policy port finds everything ready. */
    m->status = status_new(&m->srv);
    if (status_listen(m->status, err, sizeof(err)) < 0)
        log_fatal("%s", err);
    m->metrics = httpmetrics_new(loop, m->status);
    if (httpmetrics_listen(m->metrics, cfg->metrics_listen, err, sizeof(err)) < 0)
        log_fatal("%s", err);
    if (server_listen(&m->srv, err, sizeof(err)) < 0)
        log_fatal("%s", err);
    main_drop_privileges(&m->srv, cfg);
    if (!m->opts.foreground)
        main_daemonize(loop);
    main_signals(m, loop);
    m->srv.decide = decide_new(&m->srv);
    m->poller = poller_new(&m->srv);
    m->alert = alert_new(loop, cfg, m->srv.decide);
    status_attach(m->status, m->poller, m->alert);
    status_start(m->status);
    httpmetrics_start(m->metrics);
    server_start(&m->srv);
    log_info("started, config %s", m->opts.config_path);
    uv_run(loop, UV_RUN_DEFAULT);

    uv_walk(loop, main_close_walk, NULL);
    uv_run(loop, UV_RUN_DEFAULT);
    rc = uv_loop_close(loop);
    /* A second stop signal may still be pending (blocked since the first): ignoring it
     * discards it, so nothing can deliver it on the way out (LeakSanitizer's exit scan
     * runs a thread with its own signal mask). */
    signal(SIGTERM, SIG_IGN);
    signal(SIGINT, SIG_IGN);
    log_info("stopped: %llu connections, %llu requests, %llu protocol errors",
             (unsigned long long)m->srv.stats.conns_accepted,
             (unsigned long long)m->srv.stats.requests,
             (unsigned long long)m->srv.stats.proto_errors);
    if (rc != 0)
        log_warn("event loop closed with handles still open: %s", uv_strerror(rc));
    m->poller = poller_free(m->poller);
    m->metrics = httpmetrics_free(m->metrics);
    m->status = status_free(m->status);
    server_free(&m->srv);
    m->alert = alert_free(m->alert);
    log_close();
    return rc == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    struct main_ctx m;
    struct pd_config *cfg;
    char msg[512];
    int rc;

    memset(&m, 0, sizeof(m));
    main_parse_args(&m.opts, argc, argv);
    if ((cfg = main_load(&m.opts, NULL, msg, sizeof(msg))) == NULL) {
        fprintf(stderr, "policyd: fatal: %s\n", msg);
        free(m.opts.overrides);
        return 1;
    }
    if (m.opts.test_only || m.opts.print_nondefault) {
        if (m.opts.print_nondefault)
            cfg_print(cfg, stdout, true);
        else
            printf("policyd: configuration %s is valid\n", m.opts.config_path);
        cfg_unref(cfg);
        free(m.opts.overrides);
        return 0;
    }
    if (m.opts.import_path != NULL) {
        rc = importblk_run(cfg, m.opts.import_path, m.opts.import_reason, m.opts.verbose);
        cfg_unref(cfg);
        free(m.opts.overrides);
        return rc == 0 ? 0 : 1;
    }
    rc = main_run(&m, cfg);
    cfg_unref(cfg);
    free(m.opts.overrides);
    return rc;
}
