/* SPDX-License-Identifier: MIT */
#ifndef PD_SCRIPTS_H
#define PD_SCRIPTS_H

/* The Lua scripts of ratelimit/lua/, embedded at build time by scripts/embed-lua.sh. */
struct lua_script {
    const char *name; /* file name without ".lua" */
    const char *src;
};

/* Terminated by {NULL, NULL}. */
extern const struct lua_script lua_scripts[];

#endif
