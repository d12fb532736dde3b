/* SPDX-License-Identifier: MIT */
#ifndef PD_RMAPI_H
#define PD_RMAPI_H

/*
 * rmapi - the part of the Redis module API (Redis >= 6.0) that pdtrack uses, declared
 * here rather than taken from Redis' redismodule.h: the API is a table of functions that
 * Redis hands over by name at load time (rm_init, in pdtrack.c), so a module needs only the
 * names, their signatures and the few constants it passes. Every name and value is the
 * one documented at https://redis.io/docs/reference/modules/modules-api-ref/.
 */

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define REDISMODULE_OK 0
#define REDISMODULE_ERR 1
#define REDISMODULE_APIVER_1 1

#define REDISMODULE_READ (1 << 0)
#define REDISMODULE_WRITE (1 << 1)

#define REDISMODULE_KEYTYPE_EMPTY 0
#define REDISMODULE_KEYTYPE_STRING 1
#define REDISMODULE_KEYTYPE_HASH 3

#define REDISMODULE_HASH_NONE 0
#define REDISMODULE_HASH_CFIELDS (1 << 2)

typedef struct RedisModuleString RedisModuleString;
/* a value of HashSet meaning "delete this field" */
#define REDISMODULE_HASH_DELETE ((RedisModuleString *)(long)1)

#define REDISMODULE_ERRORMSG_WRONGTYPE                                                             \
    "WRONGTYPE Operation against a key holding the wrong kind of value"

typedef long long mstime_t;
typedef struct RedisModuleCtx RedisModuleCtx;
typedef struct RedisModuleKey RedisModuleKey;
typedef struct RedisModuleScanCursor RedisModuleScanCursor;
typedef int (*RedisModuleCmdFunc)(RedisModuleCtx *ctx, RedisModuleString **argv, int argc);
typedef void (*RedisModuleScanKeyCB)(RedisModuleKey *key, RedisModuleString *field,
                                     RedisModuleString *value, void *privdata);

/* X(return type, name, parameters) for every function used */
#define RMAPI_FUNCS(X)                                                                             \
    X(int, CreateCommand,                                                                          \
      (RedisModuleCtx *, const char *, RedisModuleCmdFunc, const char *, int, int, int))           \
    X(void, SetModuleAttribs, (RedisModuleCtx *, const char *, int, int))                          \
    X(int, IsModuleNameBusy, (const char *))                                                       \
    X(int, WrongArity, (RedisModuleCtx *))                                                         \
    X(int, ReplyWithLongLong, (RedisModuleCtx *, long long))                                       \
    X(int, ReplyWithError, (RedisModuleCtx *, const char *))                                       \
    X(int, ReplyWithArray, (RedisModuleCtx *, long))                                               \
    X(int, ReplyWithStringBuffer, (RedisModuleCtx *, const char *, size_t))                        \
    X(void *, OpenKey, (RedisModuleCtx *, RedisModuleString *, int))                               \
    X(void, CloseKey, (RedisModuleKey *))                                                          \
    X(int, KeyType, (RedisModuleKey *))                                                            \
    X(int, HashGet, (RedisModuleKey *, int, ...))                                                  \
    X(int, HashSet, (RedisModuleKey *, int, ...))                                                  \
    X(char *, StringDMA, (RedisModuleKey *, size_t *, int))                                        \
    X(int, StringSet, (RedisModuleKey *, RedisModuleString *))                                     \
    X(int, SetExpire, (RedisModuleKey *, mstime_t))                                                \
    X(RedisModuleString *, CreateString, (RedisModuleCtx *, const char *, size_t))                 \
    X(void, FreeString, (RedisModuleCtx *, RedisModuleString *))                                   \
    X(const char *, StringPtrLen, (const RedisModuleString *, size_t *))                           \
    X(int, ReplicateVerbatim, (RedisModuleCtx *))                                                  \
    X(RedisModuleScanCursor *, ScanCursorCreate, (void))                                           \
    X(void, ScanCursorDestroy, (RedisModuleScanCursor *))                                          \
    X(int, ScanKey, (RedisModuleKey *, RedisModuleScanCursor *, RedisModuleScanKeyCB, void *))     \
    X(void *, Alloc, (size_t))                                                                     \
    X(void *, Realloc, (void *, size_t))                                                           \
    X(void, Free, (void *))

#define RMAPI_DECLARE(type, name, params) extern type(*RedisModule_##name) params;
RMAPI_FUNCS(RMAPI_DECLARE)
#undef RMAPI_DECLARE

/* rm_init - fill every pointer above from the load context (pdtrack.c) */
int rm_init(RedisModuleCtx *ctx, const char *name, int ver);

#endif
