/* SPDX-License-Identifier: GPL-2.0 */
/* Tool images: `vmsh image` (image.c), and the default one for attach. */
#ifndef VMSH_IMAGE_H
#define VMSH_IMAGE_H

#include <stdbool.h>
#include <stddef.h>

/*
 * The path of the default busybox tool image into path, building it first
 * (atomically, in the cache) when missing or when rebuild. 0, or a negative
 * errno after an actionable message.
 */
int image__default(char *path, size_t len, bool rebuild);

#endif
