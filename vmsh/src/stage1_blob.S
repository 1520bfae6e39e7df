/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The built stage1.so, embedded in vmsh as stage1_blob .. stage1_blob_end
 * (loader.h); BLOB renames it (the loader test embeds its fixture too).
 */
#ifndef BLOB
#define BLOB stage1_blob
#endif
#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)

	.section .rodata
	.balign 16
	.globl BLOB
	.type BLOB, @object
BLOB:
	.incbin STAGE1_SO
	.size BLOB, . - BLOB
	.globl CAT(BLOB, _end)
CAT(BLOB, _end):

	.section .note.GNU-stack, "", @progbits
