/* SPDX-License-Identifier: MIT */
#ifndef PD_SHA1_H
#define PD_SHA1_H

/* sha1 - SHA-1 of a buffer as 40 lowercase hex digits: the name Redis gives a script. */

#include <stddef.h>

void sha1_hex(const void *data, size_t len, char out[41]);

#endif
